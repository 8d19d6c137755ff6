/**
 * The upstream of a local relay from a kubeconfig (`KUBECONFIG`, as kubectl reads it): the current context's (or a
 * named context's) server, certificate authority and credential — a bearer token, a client certificate, or an exec
 * plugin such as `aws eks get-token`, run again before its credential expires.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import * as z from 'zod';
import type { UpstreamAuth, UpstreamOptions } from './upstream.ts';

const run = promisify(execFile);

const NamedCluster = z.object({
  name: z.string(),
  cluster: z.object({
    server: z.string().url(),
    'certificate-authority': z.string().optional(),
    'certificate-authority-data': z.string().optional(),
    'insecure-skip-tls-verify': z.boolean().optional(),
  }),
});
const ExecPlugin = z.object({
  command: z.string(),
  args: z.array(z.string()).optional(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
});
const NamedUser = z.object({
  name: z.string(),
  user: z.object({
    token: z.string().optional(),
    tokenFile: z.string().optional(),
    'client-certificate': z.string().optional(),
    'client-certificate-data': z.string().optional(),
    'client-key': z.string().optional(),
    'client-key-data': z.string().optional(),
    exec: ExecPlugin.optional(),
  }),
});
const Kubeconfig = z.object({
  clusters: z.array(NamedCluster).default([]),
  users: z.array(NamedUser).default([]),
  contexts: z
    .array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string() }) }))
    .default([]),
  'current-context': z.string().optional(),
});

export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

/** The upstream of `file`'s context (the current one unless named). Throws KubeconfigError with what is missing. */
export function upstreamFromKubeconfig(file: string, contextName?: string): UpstreamOptions {
  let parsed: z.infer<typeof Kubeconfig>;
  try {
    parsed = Kubeconfig.parse(parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new KubeconfigError(
      `kubeconfig ${file} cannot be read: ${error instanceof z.ZodError ? 'not a kubeconfig' : (error as Error).message}`,
    );
  }
  const name = contextName ?? parsed['current-context'];
  const context = parsed.contexts.find((candidate) => candidate.name === name);
  if (!context) throw new KubeconfigError(`kubeconfig ${file} has no context ${name ?? '(no current-context)'}`);
  const cluster = parsed.clusters.find((candidate) => candidate.name === context.context.cluster)?.cluster;
  const user = parsed.users.find((candidate) => candidate.name === context.context.user)?.user;
  if (!cluster || !user)
    throw new KubeconfigError(`kubeconfig ${file}: context ${name} names a missing cluster or user`);
  if (cluster['insecure-skip-tls-verify']) {
    throw new KubeconfigError(`kubeconfig ${file}: the relay does not skip TLS verification of its upstream`);
  }
  const base = dirname(resolve(file));
  const fileOrData = (path: string | undefined, data: string | undefined) =>
    data ? Buffer.from(data, 'base64').toString('utf8') : path ? readFileSync(resolve(base, path), 'utf8') : undefined;
  const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(user['client-key'], user['client-key-data']);
  let auth: UpstreamAuth;
  if (user.token || user.tokenFile) {
    const token = user.token ?? readFileSync(resolve(base, user.tokenFile!), 'utf8').trim();
    auth = { authorization: async () => `Bearer ${token}` };
  } else if (user.exec) {
    auth = execPluginAuth(user.exec);
  } else if (cert && key) {
    auth = { authorization: async () => undefined };
  } else {
    throw new KubeconfigError(
      `kubeconfig ${file}: user ${context.context.user} has no token, client certificate or exec plugin`,
    );
  }
  return {
    url: cluster.server,
    ...(ca ? { ca } : {}),
    ...(cert && key ? { clientCertificate: { cert, key } } : {}),
    auth,
  };
}

/** Runs the exec plugin as kubectl does and keeps its token until a minute before `expirationTimestamp`. */
function execPluginAuth(plugin: z.infer<typeof ExecPlugin>): UpstreamAuth {
  let cached: { header: string; refreshAt: number } | undefined;
  return {
    async authorization() {
      if (cached && Date.now() < cached.refreshAt) return cached.header;
      const env = {
        ...process.env,
        ...Object.fromEntries((plugin.env ?? []).map((entry) => [entry.name, entry.value])),
      };
      const { stdout } = await run(plugin.command, plugin.args ?? [], { env, timeout: 60_000 });
      const credential = JSON.parse(stdout) as { status?: { token?: string; expirationTimestamp?: string } };
      const token = credential.status?.token;
      if (!token) throw new KubeconfigError('the kubeconfig exec plugin returned no token');
      const expires = credential.status?.expirationTimestamp
        ? Date.parse(credential.status.expirationTimestamp)
        : Date.now() + 300_000;
      cached = { header: `Bearer ${token}`, refreshAt: expires - 60_000 };
      return cached.header;
    },
  };
}
