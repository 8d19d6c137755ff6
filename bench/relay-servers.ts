/**
 * The servers of bench/relay.ts, each in a process of its own so that its CPU time is its own: `api` is the project's
 * Kubernetes API test server over TLS with the corpus generator's intake pods; `relay` is the relay of
 * test/support/relay.ts (masking on, the example guardrails) in front of it, its events going through the real
 * AuditLog (hash chain, secret check) onto an in-memory chain store; `node-proxy` is the least a relay in Node.js does
 * (TLS to the client, undici to the API server, the body piped through: no gate, masking or audit), the floor the
 * relay's own work stands on. They are forked with an IPC channel: they send what the bench needs to reach them and
 * answer its commands (a pod update, a GC and memory reading, a CPU profile).
 */
import cluster from 'node:cluster';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRelayCredentialSigner } from '#shared/adapters/local/local-relay-credential-signer.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import { AuditLog } from '#shared/audit/audit-log.ts';
import { HOP_BY_HOP } from '#shared/relay/upstream-headers.ts';
import { RELAY_REMEMBERED_HEADS } from '../relay/event-writer.ts';
import { selfSignedCertificate } from '../relay/tls.ts';
import { runRelayWorkers } from '../relay/workers.ts';
import type { KubeObject } from '../test/support/k8s-api-server.ts';
import { startK8sApiServer } from '../test/support/k8s-api-server.ts';
import { startRelayHarness, type ExternalApiServer, type RelayHarnessOptions } from '../test/support/relay.ts';
import { MemoryChainStore, RoundTrips } from './fakes.ts';
import { generatePodList } from './masking.ts';

/** The generator's pods live in this namespace. */
export const BENCH_NAMESPACE = 'patient-intake';

/** What the API child sends once it listens. */
export interface ApiReady extends ExternalApiServer {
  kind: 'api-ready';
  pid: number;
  /** A kubeconfig at the API server with its admin token (for kubectl proxy). */
  kubeconfig: string;
  pods: number;
  /** One pod's name (the small GET). */
  podName: string;
  /** The list's resourceVersion: a watch from here sends no initial events. */
  resourceVersion: string;
  /** Bytes of the 500-pod list as the API server sends it. */
  listBytes: number;
}

export interface NodeProxyReady {
  kind: 'node-proxy-ready';
  pid: number;
  url: string;
  ca: string;
}

export interface RelayReady {
  kind: 'relay-ready';
  pid: number;
  url: string;
  ca: string;
  /** A relay credential for a view grant on BENCH_NAMESPACE. */
  token: string;
}

/** Commands a child answers, each with a message of the same `id`. */
export type ChildCommand =
  | { id: number; command: 'touch' }
  | { id: number; command: 'memory' }
  | { id: number; command: 'profile-start' }
  | { id: number; command: 'profile-stop'; file: string }
  | { id: number; command: 'stop' };

export interface MemoryReading {
  rss: number;
  /** The process's peak RSS so far (VmHWM). */
  peakRss: number;
  heapUsed: number;
  external: number;
  openStreams?: number;
}

function send(message: unknown): void {
  process.send!(message);
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** V8's CPU profiler on this process (what `--cpu-prof` runs), started and stopped on command. */
function profiler(): { start(): Promise<void>; stop(file: string): Promise<void> } {
  const session = new Session();
  session.connect();
  return {
    async start() {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    },
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}

function memory(): MemoryReading {
  collectGarbage();
  const usage = process.memoryUsage();
  const peakKb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return { rss: usage.rss, peakRss: Number(peakKb ?? 0) * 1024, heapUsed: usage.heapUsed, external: usage.external };
}

async function runApi(work: string, pods: number): Promise<void> {
  const certificate = await selfSignedCertificate(['127.0.0.1']);
  const api = await startK8sApiServer({ tls: certificate, namespaces: ['default', BENCH_NAMESPACE] });
  const list = JSON.parse(generatePodList(pods)) as { items: KubeObject[] };
  for (const item of list.items) api.create(item);
  // The test server keeps every request for assertions: a load test would grow that list by the hundred thousand.
  setInterval(() => (api.requests.length = 0), 500).unref();
  const names = api.list('v1', 'Pod', BENCH_NAMESPACE).map((pod) => String(pod.metadata?.name));
  const listed = await fetchList(api.url, api.token, certificate.cert);
  const podName = names[Math.floor(names.length / 2)]!;
  let touches = 0;
  const cpu = profiler();
  process.on('message', (message: ChildCommand) => {
    switch (message.command) {
      case 'profile-start':
        void cpu.start().then(() => send({ id: message.id }));
        break;
      case 'profile-stop':
        void cpu.stop(message.file).then(() => send({ id: message.id }));
        break;
      case 'touch': {
        // One MODIFIED event for every watch: a label change on the pod of the small GET.
        const pod = api.get('v1', 'Pod', BENCH_NAMESPACE, podName)!;
        const labels = { ...(pod.metadata?.labels as Record<string, string>), 'bench/touch': String((touches += 1)) };
        api.update({ ...pod, metadata: { ...pod.metadata, labels } });
        send({ id: message.id });
        break;
      }
      case 'memory':
        send({ id: message.id, ...memory() });
        break;
      case 'stop':
        void api.close().then(() => process.exit(0));
        break;
    }
  });
  send({
    kind: 'api-ready',
    pid: process.pid,
    url: api.url,
    token: api.token,
    ca: certificate.cert,
    kubeconfig: api.writeKubeconfig(work),
    pods: names.length,
    podName,
    resourceVersion: listed.resourceVersion,
    listBytes: listed.bytes,
  } satisfies ApiReady);
}

async function fetchList(url: string, token: string, ca: string): Promise<{ resourceVersion: string; bytes: number }> {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connect: { ca } });
  const response = await request(`${url}/api/v1/namespaces/${BENCH_NAMESPACE}/pods?limit=500`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    dispatcher,
  });
  const text = await response.body.text();
  await dispatcher.close();
  const parsed = JSON.parse(text) as { metadata: { resourceVersion: string } };
  return { resourceVersion: parsed.metadata.resourceVersion, bytes: Buffer.byteLength(text) };
}

/** A relay with its grant: the bench's view grant on BENCH_NAMESPACE, the same in every worker. */
async function startBenchRelay(
  upstream: ExternalApiServer,
  shared: Pick<RelayHarnessOptions, 'certificate' | 'signingKeyFile'> = {},
) {
  const auditSink = new AuditLog(new MemoryChainStore(new RoundTrips()), systemClock, ulidIds, {
    rememberHeads: RELAY_REMEMBERED_HEADS,
  });
  const harness = await startRelayHarness({ upstream, auditSink, revocationCheckSeconds: 2, ...shared });
  const { token } = await harness.grant({ namespaces: [BENCH_NAMESPACE], access: 'view' });
  return { harness, token };
}

async function runRelay(upstream: ExternalApiServer): Promise<void> {
  const { harness, token } = await startBenchRelay(upstream);
  const cpu = profiler();
  process.on('message', (message: ChildCommand) => {
    void (async () => {
      switch (message.command) {
        case 'memory':
          return send({ id: message.id, ...memory(), openStreams: harness.relay.openStreams });
        case 'profile-start':
          await cpu.start();
          return send({ id: message.id });
        case 'profile-stop':
          await cpu.stop(message.file);
          return send({ id: message.id });
        case 'stop':
          await harness.close();
          return process.exit(0);
        case 'touch':
          return send({ id: message.id, error: 'the relay child has no pods to touch' });
      }
    })();
  });
  send({ kind: 'relay-ready', pid: process.pid, url: harness.url, ca: harness.ca, token } satisfies RelayReady);
}

/** What the workers of `relay-workers` share, from the primary. */
const SHARED_VARIABLE = 'GATEHOUSE_BENCH_RELAY_SHARED';

/**
 * The relay as a task with `workers` vCPUs runs it: relay/workers.ts forks the workers, which share the port; each is a
 * bench relay with the same certificate, signing key and grant, so a credential works at any of them. The primary
 * answers `stop` (SIGTERM to itself: the workers drain) and nothing else; memory and profiles are the single relay's.
 */
async function runRelayWorkersChild(upstream: ExternalApiServer, workers: number): Promise<void> {
  type Shared = Required<Pick<RelayHarnessOptions, 'certificate' | 'signingKeyFile'>>;
  let shared: Shared;
  const started: Array<{ url: string; token: string }> = [];
  let allStarted: Promise<void> | undefined;
  if (cluster.isWorker) {
    shared = JSON.parse(process.env[SHARED_VARIABLE]!) as Shared;
  } else {
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-relay-workers-'));
    shared = {
      certificate: await selfSignedCertificate(['127.0.0.1', 'localhost']),
      signingKeyFile: join(work, 'relay-key.pem'),
    };
    // Made once here, so the workers open the same key instead of racing to create it.
    LocalRelayCredentialSigner.open(shared.signingKeyFile);
    process.env[SHARED_VARIABLE] = JSON.stringify(shared);
    allStarted = new Promise<void>((resolveStarted) =>
      cluster.on('message', (_worker, message: { url?: string; token: string }) => {
        // Workers also tell the primary their readiness (relay/workers.ts): only their start is counted here.
        if (typeof message.url !== 'string') return;
        started.push({ url: message.url, token: message.token });
        if (started.length === workers) resolveStarted();
      }),
    );
  }
  await runRelayWorkers({
    workers,
    drainMs: 1000,
    log: () => {},
    async start() {
      const { harness, token } = await startBenchRelay(upstream, shared);
      process.send!({ url: harness.url, token });
      return { stop: () => harness.close(), ready: () => harness.relay.ready };
    },
  });
  if (!allStarted) return;
  await allStarted;
  if (new Set(started.map((worker) => worker.url)).size !== 1) throw new Error('the relay workers listen apart');
  process.on('message', (message: ChildCommand) => {
    if (message.command === 'stop') process.kill(process.pid, 'SIGTERM');
    else send({ id: message.id, error: `the relay workers do not answer ${message.command}` });
  });
  send({
    kind: 'relay-ready',
    pid: process.pid,
    url: started[0]!.url,
    ca: shared.certificate.cert,
    token: started[0]!.token,
  } satisfies RelayReady);
}

/** The relay's hop-by-hop headers, the host, and the client's credential: the proxy sends the API server's own. */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'authorization']);

async function runNodeProxy(upstream: ExternalApiServer): Promise<void> {
  const { Pool } = await import('undici');
  const pool = new Pool(upstream.url, { connections: 128, connect: { ca: upstream.ca } });
  const certificate = await selfSignedCertificate(['127.0.0.1']);
  const server = createServer({ ...certificate, keepAliveTimeout: 5000 }, (req, res) => {
    const headers: Record<string, string | string[]> = { authorization: `Bearer ${upstream.token}` };
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
    }
    void (async () => {
      try {
        const answer = await pool.request({ method: req.method as 'GET', path: req.url!, headers });
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value;
        }
        res.writeHead(answer.statusCode, out);
        await pipeline(answer.body, res);
      } catch {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      }
    })();
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  process.on('message', (message: ChildCommand) => {
    if (message.command === 'stop') {
      server.closeAllConnections();
      server.close();
      void pool.close().then(() => process.exit(0));
    } else send({ id: message.id, error: `the Node.js proxy does not answer ${message.command}` });
  });
  const port = (server.address() as { port: number }).port;
  send({
    kind: 'node-proxy-ready',
    pid: process.pid,
    url: `https://127.0.0.1:${port}`,
    ca: certificate.cert,
  } satisfies NodeProxyReady);
}

const role = process.argv[2];
if (role === 'api') {
  await runApi(process.argv[3]!, Number(process.argv[4]));
} else if (role === 'relay') {
  await runRelay(JSON.parse(process.argv[3]!) as ExternalApiServer);
} else if (role === 'relay-workers') {
  await runRelayWorkersChild(JSON.parse(process.argv[3]!) as ExternalApiServer, Number(process.argv[4]));
} else if (role === 'node-proxy') {
  await runNodeProxy(JSON.parse(process.argv[3]!) as ExternalApiServer);
}
