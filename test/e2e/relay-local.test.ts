/**
 * The whole relay path on the local runtime, as `npm start` runs it: `gatehouse kubeconfig --via relay` writes a
 * context whose exec plugin asks the local control plane for a relay grant; kubectl presents the relay credential to
 * the local relay, which verifies it, impersonates the grant's user at the project's Kubernetes API test server, masks
 * the response and records the request in the events table; revoking the grant stops it within seconds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import type { LocalRuntime } from '../../local/start.ts';
import { selfSignedCertificate } from '../../relay/tls.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import { startK8sApiServer, type K8sApiServer } from '../support/k8s-api-server.ts';
import { eventually } from '../support/local.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const SSN = '123-45-6789';

let work: string;
let api: K8sApiServer;
let local: LocalRuntime;
let env: Record<string, string>;

beforeAll(async () => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_TRACE_ENABLED = 'false';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  work = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-relay-'));
  const certificate = await selfSignedCertificate(['127.0.0.1']);
  api = await startK8sApiServer({ tls: certificate, namespaces: ['default', 'demo'] });
  api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake', namespace: 'demo', annotations: { note: `caller ssn ${SSN}` } },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  const { startLocal } = await import('../../local/start.ts');
  local = await startLocal({
    port: 0,
    inMemory: true,
    withS3: true,
    dataDir: join(work, 'data'),
    configFile: join(ROOT, 'gatehouse.config.yaml'),
    relay: { upstream: { url: api.url, token: api.token, ca: certificate.cert } },
  });
  const oidcToken = await local.issuer.sign({ sub: 'ci:demo', groups: ['ci'] }, { audience: 'gatehouse' });
  const kubeconfig = join(work, 'relay.kubeconfig');
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let code: number;
  try {
    code = await main([
      'node',
      'gatehouse',
      'kubeconfig',
      '--via',
      'relay',
      '--api',
      local.apiUrl,
      '--server',
      local.relay!.url,
      '--certificate-authority',
      local.relay!.caFile,
      '--cluster',
      'local',
      '--namespace',
      'demo',
      '--access',
      'view',
      '--duration',
      '900',
      '--purpose',
      'e2e: an agent through the relay',
      '--kubeconfig',
      kubeconfig,
    ]);
  } finally {
    stdout.mockRestore();
  }
  expect(code).toBe(0);
  expect(readFileSync(kubeconfig, 'utf8')).not.toContain('insecure-skip-tls-verify');
  env = {
    PATH: process.env.PATH ?? '',
    HOME: join(work, 'home'),
    KUBECONFIG: kubeconfig,
    GATEHOUSE_OIDC_TOKEN: oidcToken,
    GATEHOUSE_CACHE_DIR: join(work, 'cache'),
  };
}, 120_000);

afterAll(async () => {
  await local?.stop();
  await api?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function scan(table: string, prefix: string): Promise<Record<string, unknown>[]> {
  const page = await documentClient(local.dynamo.client).send(new ScanCommand({ TableName: table }));
  return (page.Items ?? []).filter((item) => String(item.pk ?? item.stream ?? '').startsWith(prefix));
}

describe('an agent through the local relay', () => {
  it('gets a relay grant, reads pods masked through the relay, and leaves one event per request', async () => {
    const result = await run('kubectl', ['get', 'pod', 'intake', '-n', 'demo', '-o', 'json'], { env, timeout: 60_000 });
    const pod = JSON.parse(result.stdout) as { metadata: { annotations: Record<string, string> } };
    expect(pod.metadata.annotations.note).toBe('caller ssn [MASKED:SSN]');

    const grant = (await scan(local.dynamo.tables.state, 'GRANT#'))[0]!;
    expect(grant).toMatchObject({ via: 'relay', cluster: 'local', namespaces: ['demo'], status: 'active' });
    const upstream = api.requests.filter((request) => request.path === '/api/v1/namespaces/demo/pods/intake').at(-1)!;
    expect(upstream.impersonateUser).toBe(grant.username);
    expect(upstream.impersonateGroups).toEqual(['gatehouse:view']);
    expect(upstream.headers.authorization).toBe(`Bearer ${api.token}`);

    // kubectl's discovery requests are recorded too; the relay writes events after answering, so wait for the read.
    const events = await eventually(async () => {
      const found = (await scan(local.dynamo.tables.events, '')).filter((event) => event.type === 'relay.request');
      return found.some((event) => (event.details as { name?: string }).name === 'intake') ? found : undefined;
    });
    const read = events.find((event) => (event.details as { name?: string }).name === 'intake');
    expect(read).toMatchObject({ grantId: grant.id, details: { verb: 'get', resource: 'pods', status: 200 } });
    expect(JSON.stringify(events)).not.toContain(SSN);
  }, 120_000);

  it('stops working within seconds of the grant’s revocation', async () => {
    const grant = (await scan(local.dynamo.tables.state, 'GRANT#'))[0]!;
    const revoke = await fetch(`${local.apiUrl}/v1/grants/${String(grant.id)}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.GATEHOUSE_OIDC_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'e2e' }),
    });
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();
    const refused = await eventually(async () => {
      const attempt = await run('kubectl', ['get', 'pods', '-n', 'demo'], { env, timeout: 30_000 }).catch(
        (error: { stderr?: string }) => error,
      );
      return 'stderr' in attempt && attempt.stderr && !('stdout' in attempt && attempt.stdout)
        ? attempt.stderr
        : undefined;
    }, 15_000);
    expect(Date.now() - revokedAt).toBeLessThan(10_000);
    expect(refused).toMatch(/revoked|no longer active|409|Unauthorized/);
  }, 60_000);
});
