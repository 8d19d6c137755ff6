/**
 * `gatehouse kubeconfig --api URL --cluster NAME --server https://... --namespace NS --access L --duration S
 * --purpose P [--via relay]`: writes a kubeconfig cluster, user and context whose user runs `gatehouse token` as an
 * exec credential plugin, so kubectl asks Gatehouse for just-in-time access by itself. With `--via relay` the cluster
 * entry points at the Gatehouse relay (`--server`, or GATEHOUSE_RELAY_URL) and the plugin asks for relay credentials.
 * TLS is always verified: `insecure-skip-tls-verify` is never written. Other entries in the file are kept.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { checkAccessOptions, withAccessOptions, type AccessOptions } from '../lib/access-options.ts';
import { parseApiUrl } from '../lib/api-client.ts';
import { GATEHOUSE_EXEC_API_VERSION } from '../lib/exec-credential.ts';
import { kubeconfigPath, mergeKubeconfig } from '../lib/kubeconfig-file.ts';
import { DEFAULT_AUDIENCE } from '../lib/oidc-token.ts';

/** The CLI's entry point, run by node: an absolute path, so the plugin does not depend on kubectl's PATH. */
export const GATEHOUSE_ENTRY = fileURLToPath(new URL('../gatehouse.mjs', import.meta.url));

export interface KubeconfigCommandDeps {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default writes to process.stdout */
  stdout?: (text: string) => void;
}

interface KubeconfigOptions extends AccessOptions {
  server?: string;
  certificateAuthority?: string;
  kubeconfig?: string;
  context?: string;
  setCurrent: boolean;
}

/** Builds the `kubeconfig` command. */
export function kubeconfigCommand(deps: KubeconfigCommandDeps = {}): Command {
  return withAccessOptions(
    new Command('kubeconfig').description(
      'write a kubeconfig context whose user gets just-in-time credentials from `gatehouse token`',
    ),
  )
    .option('--server <url>', 'the API server URL, or with --via relay the relay URL (default: GATEHOUSE_RELAY_URL)')
    .option('--certificate-authority <file>', 'PEM file of the certificate authority of the API server or relay')
    .option('--kubeconfig <file>', 'kubeconfig to write (default: first file in KUBECONFIG, or ~/.kube/config)')
    .option('--context <name>', 'context, cluster and user entry name (default: gatehouse-<cluster>)')
    .option('--no-set-current', 'leave current-context as it is')
    .exitOverride()
    .action((options: KubeconfigOptions) => {
      const env = deps.env ?? process.env;
      const write = deps.stdout ?? ((text: string) => void process.stdout.write(text));
      checkAccessOptions(options);
      const api = parseApiUrl(options.api ?? env.GATEHOUSE_API);
      const server = checkServer(options.server ?? (options.via === 'relay' ? env.GATEHOUSE_RELAY_URL : undefined));
      const name = options.context ?? `gatehouse-${options.cluster}`;
      if (!/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,252}$/.test(name)) throw new UsageError('--context is not a usable name');

      const args = [GATEHOUSE_ENTRY, 'token', '--cluster', options.cluster];
      for (const namespace of options.namespace) args.push('--namespace', namespace);
      args.push('--access', options.access, '--duration', String(options.duration), '--purpose', options.purpose);
      if (options.ticket !== undefined) args.push('--ticket', options.ticket);
      if (options.audience !== DEFAULT_AUDIENCE) args.push('--audience', options.audience);
      // A token file is named, never copied in: the kubeconfig holds no secret.
      if (options.oidcTokenFile !== undefined) args.push('--oidc-token-file', resolve(options.oidcTokenFile));
      if (options.via === 'relay') args.push('--via', 'relay');

      const file = kubeconfigPath(options.kubeconfig, env);
      mergeKubeconfig(file, {
        cluster: {
          name,
          cluster: {
            server,
            ...(options.certificateAuthority
              ? { 'certificate-authority-data': certificateAuthorityData(options.certificateAuthority) }
              : {}),
          },
        },
        user: {
          name,
          user: {
            exec: {
              apiVersion: GATEHOUSE_EXEC_API_VERSION,
              command: process.execPath,
              args,
              env: [{ name: 'GATEHOUSE_API', value: api.href.replace(/\/$/, '') }],
              interactiveMode: 'Never',
              provideClusterInfo: false,
            },
          },
        },
        context: { name, context: { cluster: name, user: name, namespace: options.namespace[0]! } },
        setCurrent: options.setCurrent,
      });
      write(`wrote context ${name} to ${file}${options.setCurrent ? ' (current context)' : ''}\n`);
    });
}

function checkServer(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new UsageError('pass --server (with --via relay, --server or GATEHOUSE_RELAY_URL names the relay)');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError('--server is not a URL');
  }
  if (url.protocol !== 'https:') throw new UsageError('--server must be an https:// URL');
  return value.replace(/\/$/, '');
}

/** The CA file as certificate-authority-data; TLS verification is never turned off. */
function certificateAuthorityData(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read --certificate-authority ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(`--certificate-authority ${file} holds no PEM certificate`);
  }
  return Buffer.from(pem, 'utf8').toString('base64');
}
