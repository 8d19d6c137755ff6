/**
 * End to end with a real kubectl: `gatehouse kubeconfig` writes a context whose user runs `gatehouse token` as an exec
 * credential plugin; kubectl runs it against the local control plane and presents the token to a loopback HTTPS
 * "API server" with a self-signed certificate, which records it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { main } from '../../cli/main.ts';
import type { LocalRuntime } from '../../local/start.ts';
import { selfSignedCertificate } from '../../relay/tls.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import { verifyLocalToken } from '../../shared/adapters/local/local-token-minter.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

let work: string;
let local: LocalRuntime;
let oidcToken: string;
let apiServer: Server;
let serverUrl: string;
const seen: { method: string; path: string; authorization: string | undefined }[] = [];

function requireKubectl(): void {
  try {
    execFileSync('kubectl', ['version', '--client', '--output=json'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `this end-to-end test needs a real kubectl on PATH, and running \`kubectl version --client\` failed: ${
        (error as NodeJS.ErrnoException).code ?? (error as Error).message
      }. Install kubectl (https://kubernetes.io/docs/tasks/tools/) and run the test again.`,
      { cause: error },
    );
  }
}

/** Just enough of a Kubernetes API server for kubectl's discovery and `get pods -n demo`. */
function answer(path: string): { status: number; body: unknown } {
  switch (path) {
    case '/version':
      return { status: 200, body: { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' } };
    case '/api':
      return {
        status: 200,
        body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
      };
    case '/apis':
      return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: [] } };
    case '/api/v1':
      return {
        status: 200,
        body: {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            {
              name: 'pods',
              singularName: 'pod',
              namespaced: true,
              kind: 'Pod',
              verbs: ['get', 'list', 'watch'],
              shortNames: ['po'],
            },
          ],
        },
      };
    case '/api/v1/namespaces/demo/pods':
      return {
        status: 200,
        body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] },
      };
    default:
      return {
        status: 404,
        body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 },
      };
  }
}

beforeAll(async () => {
  requireKubectl();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_TRACE_ENABLED = 'false';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  work = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-kubectl-'));
  const { startLocal } = await import('../../local/start.ts');
  local = await startLocal({
    port: 0,
    inMemory: true,
    dataDir: join(work, 'data'),
    configFile: join(ROOT, 'gatehouse.config.yaml'),
  });
  oidcToken = await local.issuer.sign({ sub: 'ci:demo', groups: ['ci'] }, { audience: 'gatehouse' });

  // A certificate made now, so no key is ever committed; kubectl reads it from a file.
  const { key, cert } = await selfSignedCertificate(['127.0.0.1']);
  writeFileSync(join(work, 'server-cert.pem'), cert);
  apiServer = createServer({ key, cert }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    seen.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    if (!req.headers.authorization?.startsWith('Bearer ')) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }),
      );
      return;
    }
    const { status, body } = answer(path);
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));
  serverUrl = `https://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => (apiServer ? apiServer.close(() => resolve()) : resolve()));
  await local?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function grants(): Promise<Record<string, unknown>[]> {
  const page = await documentClient(local.dynamo.client).send(
    new ScanCommand({
      TableName: local.dynamo.tables.state,
      FilterExpression: 'begins_with(pk, :grant)',
      ExpressionAttributeValues: { ':grant': 'GRANT#' },
    }),
  );
  return page.Items ?? [];
}

describe('kubectl with a kubeconfig from gatehouse kubeconfig', () => {
  it('gets a just-in-time token from the local control plane through the exec plugin and presents it', async () => {
    const kubeconfig = join(work, 'kubeconfig');
    let written = '';
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written += String(chunk);
      return true;
    });
    let code: number;
    try {
      code = await main([
        'node',
        'gatehouse',
        'kubeconfig',
        '--api',
        local.apiUrl,
        '--cluster',
        'local',
        '--server',
        serverUrl,
        '--certificate-authority',
        join(work, 'server-cert.pem'),
        '--namespace',
        'demo',
        '--access',
        'view',
        '--duration',
        '900',
        '--purpose',
        'e2e: kubectl get pods',
        '--kubeconfig',
        kubeconfig,
      ]);
    } finally {
      stdout.mockRestore();
    }
    expect(code).toBe(0);
    expect(written).toContain('wrote context gatehouse-local');
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const config = parse(readFileSync(kubeconfig, 'utf8')) as {
      users: { user: { exec: { apiVersion: string; interactiveMode: string; args: string[] } } }[];
      clusters: { cluster: Record<string, unknown> }[];
    };
    expect(config.users[0]!.user.exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      interactiveMode: 'Never',
    });
    expect(config.clusters[0]!.cluster).not.toHaveProperty('insecure-skip-tls-verify');
    expect(readFileSync(kubeconfig, 'utf8')).not.toContain(oidcToken);

    const env = {
      PATH: process.env.PATH ?? '',
      HOME: join(work, 'home'),
      KUBECONFIG: kubeconfig,
      GATEHOUSE_OIDC_TOKEN: oidcToken,
      GATEHOUSE_CACHE_DIR: join(work, 'cache'),
    };
    const first = await run('kubectl', ['get', 'pods', '-n', 'demo', '-o', 'json'], { env, timeout: 60_000 });

    expect(JSON.parse(first.stdout)).toMatchObject({ kind: 'List', items: [] });
    expect(first.stderr).not.toContain('k8s-aws-v1.');
    expect(first.stderr).not.toContain(oidcToken);
    const podLists = seen.filter((request) => request.path === '/api/v1/namespaces/demo/pods');
    expect(podLists.length).toBeGreaterThan(0);
    const authorization = podLists[0]!.authorization ?? '';
    expect(authorization).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const token = authorization.slice('Bearer '.length);
    const check = verifyLocalToken(token, local.signingSecret, 'local', new Date());
    expect(check.ok).toBe(true);
    const created = await grants();
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ cluster: 'local', namespaces: ['demo'], status: 'active' });
    expect(check.ok && check.session.grantId).toBe(created[0]!.id);

    // A second kubectl call reuses the cached credential: same token, no second grant.
    seen.length = 0;
    await run('kubectl', ['get', '--raw', '/api/v1/namespaces/demo/pods'], { env, timeout: 60_000 });
    expect(seen.find((request) => request.path === '/api/v1/namespaces/demo/pods')?.authorization).toBe(authorization);
    expect(await grants()).toHaveLength(1);
  }, 120_000);
});
