import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LocalRuntime } from '../../local/start.ts';
import { verifyLocalToken } from '../../shared/adapters/local/local-token-minter.ts';
import { localRelayVerificationKeys } from '../../local/local-relay-keys.ts';
import { verifyRelayCredential } from '../../shared/tokens/relay-credential.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import { main } from '../../cli/main.ts';
import { captureOutput } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ACCESS = ['--cluster', 'local', '--namespace', 'demo', '--access', 'view', '--duration', '900'];
const PURPOSE = ['--purpose', 'cli token test'];

let local: LocalRuntime;
let oidcToken: string;
let dataDir: string;
let cacheDir: string;
let stdout: string;
let stderr: string;

beforeAll(async () => {
  // Quiet Powertools before the handlers load: no CloudWatch or X-Ray here.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_TRACE_ENABLED = 'false';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const { startLocal } = await import('../../local/start.ts');
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-token-'));
  local = await startLocal({ port: 0, inMemory: true, dataDir, configFile: join(ROOT, 'gatehouse.config.yaml') });
  oidcToken = await local.issuer.sign({ sub: 'ci:demo', groups: ['ci'] }, { audience: 'gatehouse' });
});
afterAll(async () => {
  await local?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-cache-'));
  vi.stubEnv('GATEHOUSE_CACHE_DIR', join(cacheDir, 'cache'));
  vi.stubEnv('GATEHOUSE_API', local.apiUrl);
  vi.stubEnv('GATEHOUSE_OIDC_TOKEN', oidcToken);
  vi.stubEnv('KUBERNETES_EXEC_INFO', '');
  vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', '');
  vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', '');
  stdout = '';
  stderr = '';
  captureOutput(
    (text) => (stdout += text),
    (text) => (stderr += text),
  );
});
afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(cacheDir, { recursive: true, force: true });
  // The local cluster has four slots: give each test's grants back so the next test can be granted at once.
  for (const grantId of await activeGrantIds()) {
    const response = await fetch(`${local.apiUrl}/v1/grants/${grantId}/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${oidcToken}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
  }
});

interface Credential {
  apiVersion: string;
  kind: string;
  status: { token: string; expirationTimestamp: string };
}

/** Runs `gatehouse token` in-process; stdout and stderr are reset first. */
async function token(...args: string[]): Promise<number> {
  stdout = '';
  stderr = '';
  return main(['node', 'gatehouse', 'token', ...args]);
}

function printed(): Credential {
  expect(stdout.endsWith('\n')).toBe(true);
  expect(stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(stdout) as Credential;
}

/** Neither the OIDC token nor any EKS token ever reaches stderr. */
function expectNoSecretsOnStderr(...tokens: string[]) {
  expect(stderr).not.toContain(oidcToken);
  expect(stderr).not.toContain('k8s-aws-v1.');
  for (const value of tokens) expect(stderr).not.toContain(value);
}

/** Access requests the API has recorded, counted in the local state table. */
async function requestCount(): Promise<number> {
  const page = await documentClient(local.dynamo.client).send(
    new ScanCommand({
      TableName: local.dynamo.tables.state,
      FilterExpression: 'begins_with(pk, :request)',
      ExpressionAttributeValues: { ':request': 'REQUEST#' },
    }),
  );
  return page.Items?.length ?? 0;
}

async function activeGrantIds(): Promise<string[]> {
  const page = await documentClient(local.dynamo.client).send(
    new ScanCommand({
      TableName: local.dynamo.tables.state,
      FilterExpression: 'begins_with(pk, :grant) AND #status = :active',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':grant': 'GRANT#', ':active': 'active' },
    }),
  );
  return (page.Items ?? []).map((item) => String(item.id));
}

function cacheFile(): string {
  const files = readdirSync(join(cacheDir, 'cache'));
  expect(files).toHaveLength(1);
  return join(cacheDir, 'cache', files[0]!);
}

interface FakeApi {
  url: string;
  requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

/** A loopback HTTP server answering from a script, recording what it was sent. */
async function fakeServer(
  answer: (request: FakeApi['requests'][number], index: number, response: ServerResponse) => void,
): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += String(chunk)));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      answer(recorded, requests.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const problem = status >= 400;
  response.writeHead(status, {
    'Content-Type': problem ? 'application/problem+json' : 'application/json',
    ...headers,
  });
  response.end(JSON.stringify(body));
}

const FAKE_REQUEST_ID = 'req_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const FAKE_TOKEN = 'k8s-aws-v1.ZmFrZS10b2tlbi1mb3ItdGVzdHM';
const granted = () => ({
  id: FAKE_REQUEST_ID,
  status: 'granted',
  grantId: 'grt_01HZZZZZZZZZZZZZZZZZZZZZZZ',
  expiresAt: new Date(Date.now() + 900_000).toISOString(),
  credential: {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    spec: {},
    status: { token: FAKE_TOKEN, expirationTimestamp: new Date(Date.now() + 840_000).toISOString() },
  },
});

describe('gatehouse token against the local runtime', () => {
  it('prints a v1 ExecCredential whose token the local signer verifies for the grant it created', async () => {
    const before = await requestCount();

    const code = await token(...ACCESS, ...PURPOSE);

    expect(code).toBe(0);
    const credential = printed();
    expect(credential).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential' });
    const check = verifyLocalToken(credential.status.token, local.signingSecret, 'local', new Date());
    expect(check.ok).toBe(true);
    const cached = JSON.parse(readFileSync(cacheFile(), 'utf8')) as { requestId: string; grantId: string };
    expect(check.ok && check.session.grantId).toBe(cached.grantId);
    expect(await requestCount()).toBe(before + 1);
    expect(stderr).toContain(cached.requestId);
    expectNoSecretsOnStderr(credential.status.token);
  });

  it('keeps the cache private: files 0600 in a 0700 directory', async () => {
    expect(await token(...ACCESS, ...PURPOSE)).toBe(0);

    expect(statSync(join(cacheDir, 'cache')).mode & 0o777).toBe(0o700);
    expect(statSync(cacheFile()).mode & 0o777).toBe(0o600);
    expect(readFileSync(cacheFile(), 'utf8')).not.toContain(oidcToken);
  });

  it('answers a second call from the cache, without a new request, in the apiVersion kubectl asks for', async () => {
    expect(await token(...ACCESS, ...PURPOSE)).toBe(0);
    const first = printed();
    const before = await requestCount();
    vi.stubEnv(
      'KUBERNETES_EXEC_INFO',
      JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: {} }),
    );

    const code = await token(...ACCESS, ...PURPOSE);

    expect(code).toBe(0);
    const second = printed();
    expect(second.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(second.status).toEqual(first.status);
    expect(await requestCount()).toBe(before);
    expect(stderr).toBe('');
  });

  it('gets a fresh token from /token for a cached credential about to expire while its grant is active', async () => {
    expect(await token(...ACCESS, ...PURPOSE)).toBe(0);
    const first = printed();
    const file = cacheFile();
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { requestId: string; tokenExpiresAt: string };
    writeFileSync(file, JSON.stringify({ ...entry, tokenExpiresAt: new Date(Date.now() + 30_000).toISOString() }));
    const before = await requestCount();

    const code = await token(...ACCESS, ...PURPOSE);

    expect(code).toBe(0);
    const fresh = printed();
    expect(fresh.status.token).not.toBe(first.status.token);
    expect(verifyLocalToken(fresh.status.token, local.signingSecret, 'local', new Date()).ok).toBe(true);
    expect(await requestCount()).toBe(before);
    const updated = JSON.parse(readFileSync(file, 'utf8')) as { requestId: string; token: string };
    expect(updated).toMatchObject({ requestId: entry.requestId, token: fresh.status.token });
    expect(stderr).toContain(`${entry.requestId} is expiring; asking for a fresh one`);
    expectNoSecretsOnStderr(first.status.token, fresh.status.token);
  });

  it('with --via relay, prints a relay credential the local relay keys verify, cached apart from direct tokens', async () => {
    expect(await token(...ACCESS, ...PURPOSE, '--via', 'relay')).toBe(0);
    const credential = printed();
    const entry = JSON.parse(readFileSync(cacheFile(), 'utf8')) as { grantId: string; tokenExpiresAt: string };

    const { keys } = await localRelayVerificationKeys(dataDir);
    const check = await verifyRelayCredential(credential.status.token, keys, { now: new Date(), cluster: 'local' });
    expect(check, JSON.stringify(check)).toMatchObject({
      ok: true,
      claims: { grantId: entry.grantId, namespaces: ['demo'], access: 'view', groups: ['gatehouse:view'] },
    });
    expect(credential.status.expirationTimestamp).toBe(entry.tokenExpiresAt);
    const request = await local.runtime.service.requestOf(
      (JSON.parse(readFileSync(cacheFile(), 'utf8')) as { requestId: string }).requestId,
    );
    expect(request?.via).toBe('relay');
    expectNoSecretsOnStderr(credential.status.token);

    // The same access via direct is another credential: another cache file, another request.
    const before = await requestCount();
    expect(await token(...ACCESS, ...PURPOSE)).toBe(0);
    expect(printed().status.token).toMatch(/^k8s-aws-v1\./);
    expect(await requestCount()).toBe(before + 1);
    expect(readdirSync(join(cacheDir, 'cache'))).toHaveLength(2);
  });

  it('with --via relay, renews an expiring relay credential from /token while the grant is active', async () => {
    expect(await token(...ACCESS, ...PURPOSE, '--via', 'relay')).toBe(0);
    const first = printed();
    const file = cacheFile();
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { requestId: string; tokenExpiresAt: string };
    writeFileSync(file, JSON.stringify({ ...entry, tokenExpiresAt: new Date(Date.now() + 30_000).toISOString() }));
    const before = await requestCount();

    expect(await token(...ACCESS, ...PURPOSE, '--via', 'relay')).toBe(0);

    const fresh = printed();
    expect(fresh.status.token).not.toBe(first.status.token);
    const { keys } = await localRelayVerificationKeys(dataDir);
    expect((await verifyRelayCredential(fresh.status.token, keys, { now: new Date(), cluster: 'local' })).ok).toBe(
      true,
    );
    expect(await requestCount()).toBe(before);
    expectNoSecretsOnStderr(first.status.token, fresh.status.token);
  });

  it('exits 2 on an unknown --via', async () => {
    expect(await token(...ACCESS, ...PURPOSE, '--via', 'tunnel')).toBe(2);
  });

  it('requests access anew when the cached grant was revoked', async () => {
    expect(await token(...ACCESS, ...PURPOSE)).toBe(0);
    const file = cacheFile();
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { requestId: string; grantId: string };
    const revoked = await fetch(`${local.apiUrl}/v1/grants/${entry.grantId}/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${oidcToken}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(revoked.status).toBe(200);
    writeFileSync(file, JSON.stringify({ ...entry, tokenExpiresAt: new Date(Date.now() + 10_000).toISOString() }));
    const before = await requestCount();

    const code = await token(...ACCESS, ...PURPOSE);

    expect(code).toBe(0);
    expect(await requestCount()).toBe(before + 1);
    const now = JSON.parse(readFileSync(file, 'utf8')) as { requestId: string };
    expect(now.requestId).not.toBe(entry.requestId);
    expect(stderr).toContain('requesting access anew');
  });

  it("takes the OIDC token from GitHub Actions' id-token endpoint with the request token and audience", async () => {
    const github = await fakeServer((request, _index, response) => {
      const url = new URL(request.url, 'http://localhost');
      if (
        request.headers.authorization !== 'bearer request-token-123' ||
        url.searchParams.get('audience') !== 'gatehouse'
      ) {
        send(response, 401, { message: 'bad request token or audience' });
        return;
      }
      send(response, 200, { value: oidcToken });
    });
    try {
      vi.stubEnv('GATEHOUSE_OIDC_TOKEN', '');
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', `${github.url}/token?api-version=2.0`);
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'request-token-123');

      const code = await token(...ACCESS, ...PURPOSE);

      expect(code).toBe(0);
      expect(verifyLocalToken(printed().status.token, local.signingSecret, 'local', new Date()).ok).toBe(true);
      expect(github.requests).toHaveLength(1);
      const url = new URL(github.requests[0]!.url, 'http://localhost');
      expect(url.searchParams.get('api-version')).toBe('2.0');
      expect(url.searchParams.get('audience')).toBe('gatehouse');
      expect(stderr).not.toContain('request-token-123');
    } finally {
      await github.close();
    }
  });

  it('fails (exit 1) when the GitHub Actions endpoint refuses the request token', async () => {
    const github = await fakeServer((_request, _index, response) => send(response, 403, { message: 'no' }));
    try {
      vi.stubEnv('GATEHOUSE_OIDC_TOKEN', '');
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', `${github.url}/token?api-version=2.0`);
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'wrong');

      expect(await token(...ACCESS, ...PURPOSE)).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain('id-token endpoint answered 403');
    } finally {
      await github.close();
    }
  });

  it('exits 1 with the problem title and detail on one line when policy denies the request', async () => {
    const code = await token(
      '--cluster',
      'local',
      '--namespace',
      'kube-system',
      '--access',
      'view',
      '--duration',
      '900',
      ...PURPOSE,
    );

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^gatehouse: Access denied by policy: [^\n]+\n$/m);
    expectNoSecretsOnStderr();
  });

  it('exits 1 when the OIDC token is not accepted', async () => {
    const forged = `${oidcToken.slice(0, oidcToken.lastIndexOf('.'))}.AAAA`;

    expect(await token(...ACCESS, ...PURPOSE, '--oidc-token', forged)).toBe(1);
    expect(stderr).toMatch(/^gatehouse: Authentication failed: /m);
    expect(stderr).not.toContain(forged);
  });

  it.each([
    ['a missing --purpose', [...ACCESS]],
    ['no --namespace', ['--cluster', 'local', '--access', 'view', '--duration', '900', ...PURPOSE]],
    [
      'a duration under a minute',
      ['--cluster', 'local', '--namespace', 'demo', '--access', 'view', '--duration', '5', ...PURPOSE],
    ],
    [
      'a namespace that is no RFC 1123 label',
      ['--cluster', 'local', '--namespace', 'Demo_1', '--access', 'view', '--duration', '900', ...PURPOSE],
    ],
    ['an http:// API that is not loopback', [...ACCESS, ...PURPOSE, '--api', 'http://gatehouse.example.com']],
    ['an unknown flag', [...ACCESS, ...PURPOSE, '--cluster-admin']],
  ])('exits 2 on bad usage: %s', async (_name, args) => {
    expect(await token(...args)).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).not.toBe('');
  });

  it('exits 2 when no OIDC token can be found', async () => {
    vi.stubEnv('GATEHOUSE_OIDC_TOKEN', '');

    expect(await token(...ACCESS, ...PURPOSE)).toBe(2);
    expect(stderr).toContain('no OIDC token');
  });

  it('exits 2 when the API refuses the request as bad input', async () => {
    const code = await token(...ACCESS, '--purpose', 'x', '--ticket', 'not a ticket!');

    expect(code).toBe(2);
    expect(stderr).toMatch(/^gatehouse: Invalid request: .*ticket/m);
  });

  it('runs as an exec plugin in a child process: the credential alone on stdout, in the version kubectl asks for', async () => {
    const { stdout: out, stderr: err } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'cli', 'gatehouse.mjs'), 'token', ...ACCESS, ...PURPOSE],
      {
        env: {
          ...process.env,
          KUBERNETES_EXEC_INFO: JSON.stringify({
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            kind: 'ExecCredential',
            spec: { interactive: false },
          }),
        },
      },
    );

    const credential = JSON.parse(out) as Credential;
    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(verifyLocalToken(credential.status.token, local.signingSecret, 'local', new Date()).ok).toBe(true);
    expect(err).toMatch(/req_[0-9A-Z]{26}/);
    expect(err).not.toContain(credential.status.token);
    expect(err).not.toContain(oidcToken);
  });
});

describe('gatehouse token against a scripted API', () => {
  it('retries a 503 with Retry-After under the same Idempotency-Key, then prints the credential', async () => {
    const api = await fakeServer((_request, index, response) => {
      if (index < 2) {
        send(
          response,
          503,
          { title: 'No free access slot', status: 503, detail: 'all slots busy' },
          { 'Retry-After': '0' },
        );
        return;
      }
      send(response, 201, granted());
    });
    try {
      const code = await token(...ACCESS, ...PURPOSE, '--api', api.url);

      expect(code).toBe(0);
      expect(printed().status.token).toBe(FAKE_TOKEN);
      expect(api.requests).toHaveLength(3);
      const keys = api.requests.map((request) => request.headers['idempotency-key']);
      expect(keys[0]).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
      expect(new Set(keys).size).toBe(1);
      expect(api.requests.every((request) => request.headers.authorization === `Bearer ${oidcToken}`)).toBe(true);
      expect(JSON.parse(api.requests[0]!.body)).toEqual({
        cluster: 'local',
        namespaces: ['demo'],
        access: 'view',
        durationSeconds: 900,
        purpose: 'cli token test',
      });
      expect(stderr).toContain('retrying in 0s');
      expectNoSecretsOnStderr(FAKE_TOKEN);
    } finally {
      await api.close();
    }
  });

  it('gives up after three tries of 503 and exits 1', async () => {
    const api = await fakeServer((_request, _index, response) =>
      send(
        response,
        503,
        { title: 'No free access slot', status: 503, detail: 'all slots busy' },
        { 'Retry-After': '0' },
      ),
    );
    try {
      expect(await token(...ACCESS, ...PURPOSE, '--api', api.url)).toBe(1);
      expect(api.requests).toHaveLength(3);
      expect(stderr).toMatch(/^gatehouse: No free access slot: all slots busy$/m);
    } finally {
      await api.close();
    }
  });

  it('exits 1 with the message when the request needs an approval the API cannot take (501)', async () => {
    const api = await fakeServer((_request, _index, response) =>
      send(response, 501, {
        title: 'Approval required',
        status: 501,
        detail: 'policy prod-edit needs approval by sre',
        approvalGroups: ['sre'],
      }),
    );
    try {
      expect(await token(...ACCESS, ...PURPOSE, '--api', api.url)).toBe(1);
      expect(stderr).toMatch(/^gatehouse: Approval required: policy prod-edit needs approval by sre$/m);
      expect(api.requests).toHaveLength(1);
    } finally {
      await api.close();
    }
  });

  it('waits for an approval: shows where to approve, polls the request, then mints a token for the grant', async () => {
    const grantExpiresAt = new Date(Date.now() + 900_000).toISOString();
    const api = await fakeServer((request, _index, response) => {
      if (request.method === 'POST' && request.url === '/v1/access-requests') {
        send(response, 202, {
          id: FAKE_REQUEST_ID,
          status: 'pending',
          pollUrl: `/v1/access-requests/${FAKE_REQUEST_ID}`,
          approvalUrl: 'https://gatehouse.example.com/approve/abc',
        });
      } else if (
        request.method === 'GET' &&
        request.url === `/v1/access-requests/${FAKE_REQUEST_ID}?waitSeconds=20&unlike=pending`
      ) {
        send(response, 200, {
          id: FAKE_REQUEST_ID,
          status: 'granted',
          grant: { id: 'grt_01HZZZZZZZZZZZZZZZZZZZZZZZ', status: 'active', expiresAt: grantExpiresAt },
        });
      } else if (request.method === 'POST' && request.url === `/v1/access-requests/${FAKE_REQUEST_ID}/token`) {
        send(response, 200, granted().credential);
      } else {
        send(response, 404, { title: 'Not found', status: 404, detail: request.url });
      }
    });
    try {
      expect(await token(...ACCESS, ...PURPOSE, '--api', api.url)).toBe(0);

      expect(printed().status.token).toBe(FAKE_TOKEN);
      expect(api.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
        'POST /v1/access-requests',
        `GET /v1/access-requests/${FAKE_REQUEST_ID}?waitSeconds=20&unlike=pending`,
        `POST /v1/access-requests/${FAKE_REQUEST_ID}/token`,
      ]);
      expect(stderr).toContain(`request ${FAKE_REQUEST_ID} needs approval: https://gatehouse.example.com/approve/abc`);
      expect(JSON.parse(readFileSync(cacheFile(), 'utf8'))).toMatchObject({
        requestId: FAKE_REQUEST_ID,
        grantExpiresAt,
      });
      expectNoSecretsOnStderr(FAKE_TOKEN);
    } finally {
      await api.close();
    }
  });

  it('keeps a hostile problem detail on one line', async () => {
    const api = await fakeServer((_request, _index, response) =>
      send(response, 403, { title: 'Not allowed', status: 403, detail: 'line one\n\u001b[31mgatehouse: ok\u001b[0m' }),
    );
    try {
      expect(await token(...ACCESS, ...PURPOSE, '--api', api.url)).toBe(1);
      expect(stderr).toBe(
        'gatehouse: requesting view access to local/demo for 900s\ngatehouse: Not allowed: line one [31mgatehouse: ok [0m\n',
      );
    } finally {
      await api.close();
    }
  });
});
