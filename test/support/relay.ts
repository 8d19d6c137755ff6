/**
 * A relay in front of the project's Kubernetes API test server, for tests with the real kubectl and
 * @kubernetes/client-node: TLS on both sides (kubectl sends bearer tokens only over TLS), relay credentials signed by a
 * local P-256 key as the control plane signs them, grants in memory (the store's reads), the example configuration's
 * policies and masking rules, and the events the relay records kept for assertions (or refused, to test fail-closed).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalRelayCredentialSigner } from '#shared/adapters/local/local-relay-credential-signer.ts';
import type { AuditEvent, AuditEventInput } from '#shared/audit/event.ts';
import { GatehouseConfigSchema, type GatehouseConfig } from '#shared/config/schema.ts';
import { createTextScanner } from '#shared/masking/detectors.ts';
import { createMasker } from '#shared/masking/masker.ts';
import type { AccessRequest, Grant, Principal, RelayGrant } from '#shared/model.ts';
import { loadPolicyEngine, type PolicyFile } from '#shared/policy/policy-engine.ts';
import type { AuditSink, Clock } from '#shared/ports.ts';
import { issueRelayCredential } from '#shared/tokens/relay-credential.ts';
import { relayCredentialVerifier } from '../../relay/credentials.ts';
import { RelayEventWriter } from '../../relay/event-writer.ts';
import { GrantDirectory } from '../../relay/grant-directory.ts';
import { RelayServer } from '../../relay/server.ts';
import { SessionProxy } from '../../relay/session-proxy.ts';
import { selfSignedCertificate, type RelayCertificate } from '../../relay/tls.ts';
import { staticBearer, Upstream } from '../../relay/upstream.ts';
import { startK8sApiServer, type K8sApiServer, type K8sApiServerOptions } from './k8s-api-server.ts';
import { EDIT_POLICY_ARN, GITHUB_ACTIONS_ISSUER, VIEW_POLICY_ARN } from './config-parts.ts';

const run = promisify(execFile);

export const RELAY_CLUSTER = 'staging';

/** Guardrails of the example configuration (policies/relay.cedar), plus what a test adds. */
export const GUARDRAILS = `
@id("no-secret-reads")
forbid (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "secrets" && ["get", "list", "watch"].contains(context.verb) };

@id("phi-exec-needs-ticket")
forbid (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when {
  resource.resource == "pods" && ["exec", "attach"].contains(resource.subresource) &&
  resource.hasTag("phi") && resource.getTag("phi") == "true" && !context.hasTicket
};
`;

export const AGENT: Principal = {
  id: 'github-actions:repo:acme/agent:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github-actions',
  subject: 'repo:acme/agent:ref:refs/heads/main',
  groups: ['agents'],
};

/** An API server the relay forwards to that the harness did not start (another process's, as the benchmark runs it). */
export interface ExternalApiServer {
  url: string;
  /** Its admin bearer token: the relay's own credential there. */
  token: string;
  /** PEM of its TLS certificate. */
  ca: string;
}

export interface RelayHarnessOptions {
  api?: K8sApiServerOptions;
  /** Put the relay in front of this API server instead of starting one; the harness then has no `api`. */
  upstream?: ExternalApiServer;
  /**
   * Where the relay's events go. Default: kept in `events` (every one, for assertions). A long benchmark passes a sink
   * of its own, so the list does not grow; `setAuditFailing` still makes it throw.
   */
  auditSink?: AuditSink;
  /** Extra Cedar text appended to the guardrails. */
  policies?: string;
  maxResponseBytes?: number;
  revocationCheckSeconds?: number;
  /**
   * Relays that must accept each other's credentials on one port (the benchmark's workers) share these: the TLS
   * certificate and the credential signing key's file. Default: made for this relay alone.
   */
  certificate?: RelayCertificate;
  signingKeyFile?: string;
}

export interface RelayHarness {
  api: K8sApiServer;
  relay: RelayServer;
  url: string;
  ca: string;
  config: GatehouseConfig;
  /** Events the relay recorded, in order. */
  events: AuditEventInput[];
  /** Recordings stored, by key. */
  recordings: Map<string, { body: Uint8Array; sha256: string }>;
  /** An active relay grant (store entry) and a credential for it. */
  grant(
    options?: Partial<Pick<RelayGrant, 'namespaces' | 'access' | 'expiresAt' | 'cluster'>> & { ticket?: string },
  ): Promise<{ grant: RelayGrant; token: string }>;
  /** Another credential for an existing grant, or with claims changed (another cluster). */
  credential(grant: RelayGrant, overrides?: { cluster?: string; ttlSeconds?: number }): Promise<string>;
  revoke(grantId: string): void;
  /** While true, the audit sink throws. */
  setAuditFailing(failing: boolean): void;
  /** A kubeconfig at the relay with `token`, verifying the relay's certificate. */
  kubeconfig(token: string, namespace?: string): string;
  kubectl(
    kubeconfig: string,
    args: string[],
    options?: { input?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
  close(): Promise<void>;
}

export function startRelayHarness(
  options: RelayHarnessOptions & { upstream: ExternalApiServer },
): Promise<Omit<RelayHarness, 'api'>>;
export function startRelayHarness(options?: RelayHarnessOptions): Promise<RelayHarness>;
export async function startRelayHarness(
  options: RelayHarnessOptions = {},
): Promise<RelayHarness | Omit<RelayHarness, 'api'>> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-relay-'));
  let api: K8sApiServer | undefined;
  let upstreamServer: ExternalApiServer;
  if (options.upstream) {
    upstreamServer = options.upstream;
  } else {
    const upstreamCertificate = await selfSignedCertificate(['127.0.0.1']);
    api = await startK8sApiServer({
      tls: upstreamCertificate,
      namespaces: ['default', 'claims', 'intake', 'kube-system'],
      ...options.api,
    });
    upstreamServer = { url: api.url, token: api.token, ca: upstreamCertificate.cert };
  }
  const config = GatehouseConfigSchema.parse({
    version: 1,
    issuers: [GITHUB_ACTIONS_ISSUER],
    clusters: [
      {
        name: RELAY_CLUSTER,
        region: 'us-east-1',
        account: '111122223333',
        accessLevels: { view: VIEW_POLICY_ARN, edit: EDIT_POLICY_ARN },
      },
    ],
    policies: { files: ['relay.cedar'] },
    relay: {
      revocationCheckSeconds: options.revocationCheckSeconds ?? 1,
      ...(options.maxResponseBytes ? { maxResponseBytes: options.maxResponseBytes } : {}),
    },
  });
  const policyFiles: PolicyFile[] = [{ name: 'relay.cedar', text: GUARDRAILS + (options.policies ?? '') }];
  const policy = loadPolicyEngine({ files: policyFiles });
  const clock: Clock = { now: () => new Date() };
  const signer = LocalRelayCredentialSigner.open(options.signingKeyFile ?? join(dir, 'relay-key.pem'));
  const keys = new Map([[await signer.keyId(), await signer.publicKeyPem()]]);

  const grants = new Map<string, Grant>();
  const requests = new Map<string, AccessRequest>();
  const events: AuditEventInput[] = [];
  let auditFailing = false;
  const sink: AuditSink = {
    async append(event) {
      if (auditFailing) throw new Error('audit store unavailable');
      if (options.auditSink) return options.auditSink.append(event);
      events.push(event);
      return event as unknown as AuditEvent;
    },
  };
  const recordings = new Map<string, { body: Uint8Array; sha256: string }>();
  const masker = createMasker(config.masking, { scanner: createTextScanner(config.masking.detectors) });
  const upstream = new Upstream({
    url: upstreamServer.url,
    ca: upstreamServer.ca,
    auth: staticBearer(upstreamServer.token),
  });
  const relayCertificate = options.certificate ?? (await selfSignedCertificate(['127.0.0.1', 'localhost']));
  const ids = {
    next: (() => {
      let n = 0;
      return () => `01TEST${String((n += 1)).padStart(20, '0')}`;
    })(),
  };
  const relay = new RelayServer({
    cluster: config.clusters[0]!,
    relay: config.relay,
    credentials: relayCredentialVerifier(keys, RELAY_CLUSTER, clock),
    grants: new GrantDirectory(
      { getGrant: async (id) => grants.get(id), getRequest: async (id) => requests.get(id) },
      clock,
      config.relay.revocationCheckSeconds * 1000,
    ),
    policy,
    upstream,
    masker,
    events: new RelayEventWriter(sink, { retryMs: 20, maxRetryMs: 100 }),
    clock,
    instanceId: 'test',
    tls: relayCertificate,
    sessions: new SessionProxy({
      upstream,
      masker,
      clock,
      ids,
      recordings: { put: async (key, body, sha256) => void recordings.set(key, { body, sha256 }) },
    }),
  });
  const port = await relay.listen(0);
  const url = `https://127.0.0.1:${port}`;
  let grantCount = 0;

  const credential: RelayHarness['credential'] = async (grant, overrides = {}) =>
    (
      await issueRelayCredential(
        signer,
        {
          id: `cred-${(grantCount += 1)}`,
          grantId: grant.id,
          principalId: grant.principal.id,
          cluster: overrides.cluster ?? grant.cluster,
          namespaces: grant.namespaces,
          access: grant.access,
          groups: grant.groups,
          username: grant.username,
          grantExpiresAt: new Date(grant.expiresAt),
          ttlSeconds: overrides.ttlSeconds ?? 900,
        },
        clock,
      )
    ).token;

  return {
    ...(api ? { api } : {}),
    relay,
    url,
    ca: relayCertificate.cert,
    config,
    events,
    recordings,
    async grant(overrides = {}) {
      grantCount += 1;
      const id = `grant-${grantCount}`;
      const requestId = `request-${grantCount}`;
      const now = Date.now();
      const grant: RelayGrant = {
        id,
        requestId,
        via: 'relay',
        principal: AGENT,
        cluster: overrides.cluster ?? RELAY_CLUSTER,
        namespaces: overrides.namespaces ?? ['claims'],
        access: overrides.access ?? 'edit',
        groups: [`gatehouse:${overrides.access ?? 'edit'}`],
        username: `gatehouse:agent-${grantCount}`,
        sessionName: `agent-${grantCount}`,
        status: 'active',
        createdAt: new Date(now).toISOString(),
        expiresAt: overrides.expiresAt ?? new Date(now + 3600_000).toISOString(),
      } as RelayGrant;
      grants.set(id, grant);
      requests.set(requestId, {
        id: requestId,
        principal: AGENT,
        cluster: grant.cluster,
        namespaces: grant.namespaces,
        access: grant.access,
        durationSeconds: 3600,
        purpose: 'test',
        via: 'relay',
        status: 'granted',
        createdAt: grant.createdAt,
        updatedAt: grant.createdAt,
        grantId: id,
        ...(overrides.ticket ? { ticket: overrides.ticket } : {}),
      });
      return { grant, token: await credential(grant) };
    },
    credential,
    revoke(grantId) {
      const grant = grants.get(grantId);
      if (grant) grants.set(grantId, { ...grant, status: 'revoked' });
    },
    setAuditFailing(failing) {
      auditFailing = failing;
    },
    kubeconfig(token, namespace = 'claims') {
      const file = join(dir, `kubeconfig-${(grantCount += 1)}`);
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'relay',
              cluster: {
                server: url,
                'certificate-authority-data': Buffer.from(relayCertificate.cert).toString('base64'),
              },
            },
          ],
          users: [{ name: 'agent', user: { token } }],
          contexts: [{ name: 'relay', context: { cluster: 'relay', user: 'agent', namespace } }],
          'current-context': 'relay',
        }),
        { mode: 0o600 },
      );
      return file;
    },
    async kubectl(kubeconfig, args, runOptions = {}) {
      const child = run('kubectl', ['--kubeconfig', kubeconfig, ...args], {
        timeout: runOptions.timeoutMs ?? 20_000,
        env: { PATH: process.env.PATH, HOME: dir, ...runOptions.env },
        maxBuffer: 64 * 1024 * 1024,
      });
      if (runOptions.input !== undefined) {
        child.child.stdin?.end(runOptions.input);
      }
      try {
        const { stdout, stderr } = await child;
        return { stdout, stderr, code: 0 };
      } catch (error) {
        const failed = error as { stdout?: string; stderr?: string; code?: number };
        return {
          stdout: failed.stdout ?? '',
          stderr: failed.stderr ?? '',
          code: typeof failed.code === 'number' ? failed.code : 1,
        };
      }
    },
    async close() {
      await relay.close(1000);
      await api?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
