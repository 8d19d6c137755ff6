/**
 * The test API server (test/support/k8s-api-server.ts) against the real kubectl and @kubernetes/client-node: if these
 * pass, relay tests can put the relay between kubectl and this server and trust what they see. kubectl sends bearer
 * tokens only over TLS, so the server runs with a self-signed certificate made here.
 */
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../relay/tls.ts';
import {
  startK8sApiServer,
  type AuthorizationAttributes,
  type K8sApiServer,
  type KubeObject,
} from '../support/k8s-api-server.ts';

const KUBECTL_TIMEOUT_MS = 15_000;

let work: string;
let cert: string;
let api: K8sApiServer;
let kubeconfigPath: string;
const decisions: AuthorizationAttributes[] = [];

/** kubectl's environment: HOME in the temporary directory so its cache never touches the user's ~/.kube. */
function kubectlEnv(): NodeJS.ProcessEnv {
  const { KUBECONFIG: _ignored, ...env } = process.env;
  return { ...env, HOME: work };
}

/** Runs kubectl against the test server; resolves with its output and exit code (never rejects on a non-zero exit). */
function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfigPath, ...args],
      { env: kubectlEnv(), timeout: KUBECTL_TIMEOUT_MS, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`kubectl ${args.join(' ')} failed: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** Starts a long-running kubectl (watch, follow) and collects its output. */
function kubectlStream(args: string[]): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn('kubectl', ['--kubeconfig', kubeconfigPath, ...args], { env: kubectlEnv() });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return { child, output: () => out };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcessWithoutNullStreams, timeoutMs = 10_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(() => reject(new Error('kubectl did not exit')), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function pod(name: string, namespace = 'default', labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  };
}

/** A raw HTTPS request to the server, trusting its certificate. */
function raw(
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { method, headers, ca: cert }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
  work = mkdtempSync(join(tmpdir(), 'k8s-api-server-test-'));
  // A certificate made now, so no key is ever committed.
  const tls = await selfSignedCertificate(['127.0.0.1']);
  cert = tls.cert;
  api = await startK8sApiServer({
    tls,
    authorize: (attributes) => {
      decisions.push(attributes);
      return !(attributes.verb === 'delete' && attributes.resource === 'secrets') && attributes.user !== 'mallory';
    },
  });
  kubeconfigPath = api.writeKubeconfig(work);
  api.create(pod('web'));
});

afterAll(async () => {
  await api?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the test API server with the real kubectl', () => {
  it('serves a pod as JSON and as the Table kubectl prints', async () => {
    const json = await kubectl(['get', 'pod', 'web', '-o', 'json']);
    const table = await kubectl(['get', 'pods']);

    expect(json.code).toBe(0);
    const object = JSON.parse(json.stdout) as k8s.V1Pod;
    expect(object.metadata?.uid).toBe(api.get('v1', 'Pod', 'default', 'web')?.metadata?.uid);
    expect(object.status?.phase).toBe('Running');
    expect(table.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    expect(table.stdout).toMatch(/^web\s+1\/1\s+Running\s+0\s+\d+s$/m);
    const tableRequest = api.requests.find((r) => r.path === '/api/v1/namespaces/default/pods' && r.method === 'GET');
    expect(tableRequest?.accept).toContain('as=Table;v=v1;g=meta.k8s.io');
    expect(tableRequest?.hasAuthorization).toBe(true);
  });

  it('pages a list with limit and continue for --chunk-size', async () => {
    await kubectl(['create', 'namespace', 'paging']);
    for (let i = 0; i < 5; i++) api.create(pod(`p${i}`, 'paging'));
    const before = api.requests.length;

    const result = await kubectl(['get', 'pods', '-n', 'paging', '--chunk-size=2', '-o', 'name']);

    expect(result.stdout.trim().split('\n')).toEqual(['pod/p0', 'pod/p1', 'pod/p2', 'pod/p3', 'pod/p4']);
    const lists = api.requests.slice(before).filter((r) => r.path === '/api/v1/namespaces/paging/pods');
    expect(lists.map((r) => r.query.get('limit'))).toEqual(['2', '2', '2']);
    expect(lists.filter((r) => r.query.get('continue')).length).toBe(2);
  });

  it('streams an added pod to kubectl get --watch', async () => {
    const watch = kubectlStream(['get', 'pods', '-n', 'paging', '--watch']);
    try {
      await until(() => /p4\s+1\/1/.test(watch.output()), 'the initial list');
      await until(
        () => api.requests.some((r) => r.path === '/api/v1/namespaces/paging/pods' && r.query.get('watch') === 'true'),
        'the watch request',
      );

      api.create(pod('late-arrival', 'paging'));

      await until(() => /late-arrival\s+1\/1\s+Running/.test(watch.output()), 'the ADDED event');
    } finally {
      watch.child.kill();
    }
  });

  it('prints a log, its tail, and follows it until it ends', async () => {
    api.create(pod('logger'));
    api.appendLog('default', 'logger', 'first line\nsecond line');

    const all = await kubectl(['logs', 'logger']);
    const tail = await kubectl(['logs', 'logger', '--tail=1']);
    const follow = kubectlStream(['logs', '-f', 'logger']);
    await until(() => follow.output().includes('second line'), 'the existing lines');
    api.appendLog('default', 'logger', 'pushed while following');
    await until(() => follow.output().includes('pushed while following'), 'the pushed line');
    api.endLog('default', 'logger');

    expect(all.stdout).toBe('first line\nsecond line\n');
    expect(tail.stdout).toBe('second line\n');
    expect(await exited(follow.child)).toBe(0);
    expect(follow.output()).toBe('first line\nsecond line\npushed while following\n');
  });

  it('runs exec over WebSocket v5, with stdin and exit codes', async () => {
    const echo = await kubectl(['exec', 'web', '--', 'echo', 'hi']);
    const cat = await kubectl(['exec', '-i', 'web', '--', 'cat'], 'through stdin\n');
    const failing = await kubectl(['exec', 'web', '--', 'sh', '-c', 'echo oops >&2; exit 3']);
    const shell = await kubectl(['exec', '-i', 'web', '--', 'sh'], 'echo from-$((40 + 2))\nexit 0\n');

    expect(echo).toMatchObject({ code: 0, stdout: 'hi\n' });
    expect(cat).toMatchObject({ code: 0, stdout: 'through stdin\n' });
    expect(failing.code).toBe(3);
    expect(failing.stderr).toContain('oops');
    expect(shell).toMatchObject({ code: 0, stdout: 'from-42\n' });
    const session = api.streams.find((s) => s.command.join(' ') === 'cat');
    expect(session).toMatchObject({ kind: 'exec', protocol: 'v5.channel.k8s.io', container: 'app', tty: false });
    expect(Buffer.concat(session?.stdin ?? []).toString()).toBe('through stdin\n');
  });

  it('copies a file into a pod and back with kubectl cp', async () => {
    const local = join(work, 'upload.txt');
    writeFileSync(local, 'round trip contents\n');

    const up = await kubectl(['cp', local, 'web:/tmp/upload.txt']);
    const down = await kubectl(['cp', 'web:/tmp/upload.txt', join(work, 'download.txt')]);

    expect(up.code, up.stderr).toBe(0);
    expect(readFileSync(join(api.sandbox('default', 'web'), 'tmp', 'upload.txt'), 'utf8')).toBe(
      'round trip contents\n',
    );
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(work, 'download.txt'), 'utf8')).toBe('round trip contents\n');
    const tars = api.streams.filter((s) => s.command[0] === 'tar').map((s) => s.command.join(' '));
    expect(tars).toEqual(['tar -xmf - -C /tmp', 'tar cf - /tmp/upload.txt']);
  });

  it('creates then updates with kubectl apply, and deletes', async () => {
    const manifest = join(work, 'settings.yaml');
    const write = (data: string): void =>
      writeFileSync(manifest, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n${data}`);
    write('  mode: "one"\n');
    const created = await kubectl(['apply', '-f', manifest]);
    write('  mode: "two"\n  extra: "yes"\n');
    const updated = await kubectl(['apply', '-f', manifest]);
    const stored = api.get('v1', 'ConfigMap', 'default', 'settings') as k8s.V1ConfigMap;
    const deleted = await kubectl(['delete', 'configmap', 'settings']);
    const missing = await kubectl(['get', 'configmap', 'settings']);

    expect(created.stdout.trim()).toBe('configmap/settings created');
    expect(updated.stdout.trim()).toBe('configmap/settings configured');
    expect(stored.data).toEqual({ mode: 'two', extra: 'yes' });
    expect(stored.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('"extra"');
    const patch = api.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/configmaps/settings'));
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(deleted.stdout.trim()).toBe('configmap "settings" deleted');
    expect(api.get('v1', 'ConfigMap', 'default', 'settings')).toBeUndefined();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('configmaps "settings" not found');
  });

  it('decodes the protobuf bodies of kubectl create configmap and secret', async () => {
    const configMap = await kubectl(['create', 'configmap', 'literal', '--from-literal=greeting=hello']);
    const secret = await kubectl(['create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret']);

    expect(configMap.stdout.trim()).toBe('configmap/literal created');
    expect(secret.stdout.trim()).toBe('secret/creds created');
    expect(api.get('v1', 'ConfigMap', 'default', 'literal')?.data).toEqual({ greeting: 'hello' });
    expect(api.get('v1', 'Secret', 'default', 'creds')).toMatchObject({
      type: 'Opaque',
      data: { password: Buffer.from('s3cret').toString('base64') },
    });
  });

  it('answers kubectl auth can-i from the authorizer, for the impersonated user too', async () => {
    const allowed = await kubectl(['auth', 'can-i', 'get', 'pods']);
    const denied = await kubectl(['auth', 'can-i', 'delete', 'secrets', '-n', 'prod']);
    const impersonated = await kubectl(['auth', 'can-i', 'get', 'pods', '--as', 'mallory', '--as-group', 'devs']);

    expect(allowed).toMatchObject({ code: 0, stdout: 'yes\n' });
    expect(denied).toMatchObject({ code: 1, stdout: 'no\n' });
    expect(impersonated).toMatchObject({ code: 1, stdout: 'no\n' });
    expect(decisions).toContainEqual(
      expect.objectContaining({ user: 'test-admin', verb: 'delete', resource: 'secrets', namespace: 'prod' }),
    );
    const review = api.requests.find((r) => r.impersonateUser === 'mallory' && r.method === 'POST');
    expect(review?.path).toBe('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews');
    expect(review?.impersonateGroups).toEqual(['devs']);
    expect(review?.contentType).toBe('application/vnd.kubernetes.protobuf');
  });
});

describe('the test API server with @kubernetes/client-node', () => {
  let config: k8s.KubeConfig;

  beforeAll(() => {
    config = new k8s.KubeConfig();
    config.loadFromString(api.kubeconfig());
  });

  it('lists, creates with a 409 on a duplicate, and patches', async () => {
    const core = config.makeApiClient(k8s.CoreV1Api);

    const pods = await core.listNamespacedPod({ namespace: 'paging', labelSelector: '' });
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'from-client' }, data: { a: '1' } },
    });
    const duplicate = await core
      .createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'from-client' } } })
      .catch((error: unknown) => error as k8s.ApiException<string>);
    const patched = await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'from-client', body: [{ op: 'add', path: '/data/b', value: '2' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );

    expect(pods.items.map((p) => p.metadata?.name)).toContain('p0');
    expect((duplicate as k8s.ApiException<string>).code).toBe(409);
    expect(JSON.parse((duplicate as k8s.ApiException<string>).body)).toMatchObject({
      kind: 'Status',
      reason: 'AlreadyExists',
    });
    expect(patched.data).toEqual({ a: '1', b: '2' });
  });

  it('watches from a resourceVersion and sees ADDED', async () => {
    const core = config.makeApiClient(k8s.CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const seen: string[] = [];
    const request = await new k8s.Watch(config).watch(
      '/api/v1/namespaces/default/configmaps',
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type, object: k8s.V1ConfigMap) => seen.push(`${type} ${object.metadata?.name ?? ''}`),
      () => undefined,
    );
    try {
      api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched', namespace: 'default' } });
      await until(() => seen.includes('ADDED watched'), 'the watch event');
    } finally {
      request.abort();
    }
    expect(seen).toEqual(['ADDED watched']);
  });

  it('runs exec over the WebSocket protocol client-node speaks', async () => {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const status = await new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(config)
        .exec('default', 'web', 'app', ['sh', '-c', 'echo client-node; exit 4'], stdout, null, null, false, (s) =>
          resolve(s),
        )
        .catch(reject);
    });

    expect(out).toBe('client-node\n');
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode' });
    expect(status.details?.causes).toEqual([{ reason: 'ExitCode', message: '4' }]);
  });
});

describe('the test API server refuses as the apiserver does', () => {
  it('401 without the token, 406 for protobuf only, 404 Status for an unknown path', async () => {
    const anonymous = await raw('/api/v1/pods', {});
    const protobufOnly = await raw('/api/v1/pods', {
      Authorization: `Bearer ${api.token}`,
      Accept: 'application/vnd.kubernetes.protobuf',
    });
    const unknown = await raw('/apis/nothing.example/v1/things', { Authorization: `Bearer ${api.token}` });

    expect(anonymous).toMatchObject({ status: 401, body: { kind: 'Status', reason: 'Unauthorized', code: 401 } });
    expect(protobufOnly).toMatchObject({ status: 406, body: { kind: 'Status', reason: 'NotAcceptable' } });
    expect(unknown).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound' } });
  });
});
