/**
 * The relay (issue 6) against the API server directly and against `kubectl proxy`, in one run on loopback:
 * - requests/s and p50/p99 latency at 1 and 64 clients for a small GET (one pod) and a 500-pod list page, for
 *   (a) the API server directly, (b) `kubectl proxy` in front of it (Go's reverse proxy: the reference), (c) the least
 *   a relay in Node.js does (TLS in, undici out, no gate, masking or audit: the floor under the relay's own work) and
 *   (d) the relay with masking on, one process (a 1-vCPU task), and (e) as a task with a vCPU per core runs it (one
 *   worker per core, relay/workers.ts); the five interleaved round by round, so they share the machine's state;
 * - the CPU each process spent per request (from /proc), so a 2-core machine's shares can be told apart;
 * - the relay's memory per idle keep-alive connection and per open watch (its RSS after a GC, before and after);
 * - where the relay's time goes: V8's CPU profiler on the relay during the 64-client list, summed by bench/masking.ts.
 * Every server runs in a process of its own (bench/relay-servers.ts: the API server, the Node.js proxy, the relay;
 * kubectl proxy); the
 * load generator is this process. Run alone with `npx tsx bench/relay.ts`: it prints the report and writes its section
 * into BENCHMARKS.md.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'undici';
import { machineInfo, type MachineInfo } from './machine.ts';
import { summarizeProfile, type ProfileSummary } from './masking.ts';
import { stageShares, withoutStartGap, type CpuProfile } from './relay-profile.ts';
import { CpuMeter, drive, getOnce, rssOf, targetPool, type LoadTarget } from './relay-load.ts';
import type { ApiReady, ChildCommand, MemoryReading, NodeProxyReady, RelayReady } from './relay-servers.ts';
import { ms, percentile, table } from './stats.ts';
import { writeBenchmarkSection } from './section.ts';

const SERVERS_FILE = join(import.meta.dirname, 'relay-servers.ts');
const NAMESPACE = 'patient-intake';
const SECTION_HEADING = '## Relay: throughput, latency and memory against kubectl proxy';
const ADDED_P50_TARGET_MS = 1;
const TARGET_NAMES = ['direct', 'kubectl proxy', 'Node.js proxy', 'relay', 'relay workers'] as const;
type TargetName = (typeof TARGET_NAMES)[number];

export interface RelayBenchOptions {
  /** Pods in the namespace, and the list page's `limit`. @default 500 */
  pods?: number;
  /** Measured windows per target and scenario, interleaved. @default 3 */
  rounds?: number;
  roundMs?: number;
  warmupMs?: number;
  /** Concurrent clients of the loaded levels. @default 64 */
  clients?: number;
  /** Workers of the `relay workers` target. @default the machine's available parallelism */
  relayWorkers?: number;
  idleConnections?: number;
  watches?: number;
  profileMs?: number;
  /** How the bench was started, for the report. */
  command?: string;
}

export interface TargetResult {
  target: TargetName;
  requestsPerSecond: number;
  /** Each round's requests/s. */
  roundRps: number[];
  p50: number;
  p99: number;
  completed: number;
  errors: Record<string, number>;
  responseBytes: number;
  /** CPU ms per completed request, by process. */
  cpuPerRequest: Record<string, number>;
}

export interface ScenarioResult {
  name: string;
  path: string;
  clients: number;
  targets: TargetResult[];
}

export interface RelayBenchReport {
  machine: MachineInfo & { os: string; kernel: string; kubectl: string };
  command: string;
  pods: number;
  listBytes: number;
  rounds: number;
  roundMs: number;
  warmupMs: number;
  relayWorkers: number;
  scenarios: ScenarioResult[];
  /** A value the API server sends in the small GET (a patient SSN) that the relay's answer does not contain. */
  maskedCheck: { value: string; inDirect: boolean; inRelay: boolean };
  memory: {
    idleConnections: number;
    watches: number;
    baselineRss: number;
    idleRss: number;
    idleHeap: number;
    watchBaselineRss: number;
    watchRss: number;
    watchHeap: number;
    openStreams: number;
    /** The relay's peak RSS over the whole run (VmHWM). */
    peakRss: number;
  };
  profiles: ProfileResult[];
  profileMs: number;
  /** Processes of kubectl proxy (the kubectl on PATH may be a dispatcher that runs the real one as its child). */
  proxyPids: number;
  seconds: number;
  /** The machine's 1-minute load average at the start and at the end (other work on the shared machine). */
  loadAverage: [number, number];
}

export interface ProfileResult {
  name: string;
  clients: number;
  requests: number;
  relay: ProfileSummary;
  /** The relay's busy time by stage of its request path. */
  stages: Array<{ stage: string; percent: number }>;
  api: ProfileSummary;
}

// ---- children ----------------------------------------------------------------------------------------------------

/** A command without its id (Omit over each member of the union). */
type Command = ChildCommand extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

interface ServerChild<Ready> {
  child: ChildProcess;
  ready: Ready;
  ask(command: Command): Promise<Record<string, unknown>>;
}

export async function forkServer<Ready>(args: string[]): Promise<ServerChild<Ready>> {
  const child = fork(SERVERS_FILE, args, {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  let ids = 0;
  const ready = await new Promise<Ready>((resolveReady, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server ${args[0]} exited with ${code}`)));
    child.on('message', (message: Record<string, unknown>) => {
      if (typeof message.kind === 'string') return resolveReady(message as Ready);
      waiting.get(message.id as number)?.(message);
      waiting.delete(message.id as number);
    });
  });
  return {
    child,
    ready,
    ask: (command) =>
      new Promise((resolveReply, reject) => {
        const id = (ids += 1);
        waiting.set(id, (reply) => (reply.error ? reject(new Error(String(reply.error))) : resolveReply(reply)));
        child.send({ ...command, id });
      }),
  };
}

async function stopServer(server: ServerChild<unknown>): Promise<void> {
  const exited = new Promise<void>((resolveExit) => server.child.once('exit', () => resolveExit()));
  server.child.send({ id: 0, command: 'stop' });
  const timeout = setTimeout(() => server.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timeout);
}

/** `kubectl proxy --port=0` with the API server's kubeconfig; resolves with its port once it serves. */
export async function startKubectlProxy(
  kubeconfig: string,
  home: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('kubectl', ['proxy', '--port=0', '--kubeconfig', kubeconfig], {
    env: { PATH: process.env.PATH, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl proxy did not start: ${output}`)), 20_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const found = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolvePort(Number(found[1]));
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => reject(new Error(`kubectl proxy exited with ${code}: ${output}`)));
  });
  return { child, port };
}

// ---- the bench ---------------------------------------------------------------------------------------------------

export async function runRelayBench(work: string, options: RelayBenchOptions = {}): Promise<RelayBenchReport> {
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  const pods = options.pods ?? 500;
  const rounds = options.rounds ?? 3;
  const roundMs = options.roundMs ?? 3000;
  const warmupMs = options.warmupMs ?? 1000;
  const clients = options.clients ?? 64;
  const relayWorkers = options.relayWorkers ?? availableParallelism();
  const idleConnections = options.idleConnections ?? 500;
  const watches = options.watches ?? 100;
  const profileMs = options.profileMs ?? 5000;
  mkdirSync(work, { recursive: true });

  console.error(`bench relay: API server with ${pods} pods`);
  const api = await forkServer<ApiReady>(['api', work, String(pods)]);
  const relay = await forkServer<RelayReady>([
    'relay',
    JSON.stringify({ url: api.ready.url, token: api.ready.token, ca: api.ready.ca }),
  ]);
  const workers = await forkServer<RelayReady>([
    'relay-workers',
    JSON.stringify({ url: api.ready.url, token: api.ready.token, ca: api.ready.ca }),
    String(relayWorkers),
  ]);
  const nodeProxy = await forkServer<NodeProxyReady>([
    'node-proxy',
    JSON.stringify({ url: api.ready.url, token: api.ready.token, ca: api.ready.ca }),
  ]);
  const proxy = await startKubectlProxy(api.ready.kubeconfig, work);
  const pools = new Map<TargetName, Pool>();
  try {
    const targets: Record<TargetName, LoadTarget> = {
      direct: {
        name: 'direct',
        origin: api.ready.url,
        ca: api.ready.ca,
        authorization: `Bearer ${api.ready.token}`,
      },
      'kubectl proxy': { name: 'kubectl proxy', origin: `http://127.0.0.1:${proxy.port}` },
      'Node.js proxy': { name: 'Node.js proxy', origin: nodeProxy.ready.url, ca: nodeProxy.ready.ca },
      relay: {
        name: 'relay',
        origin: relay.ready.url,
        ca: relay.ready.ca,
        authorization: `Bearer ${relay.ready.token}`,
      },
      'relay workers': {
        name: 'relay workers',
        origin: workers.ready.url,
        ca: workers.ready.ca,
        authorization: `Bearer ${workers.ready.token}`,
      },
    };
    for (const name of TARGET_NAMES) pools.set(name, targetPool(targets[name], clients));
    const meter = new CpuMeter({
      'API server': api.ready.pid,
      'kubectl proxy': proxy.child.pid!,
      'Node.js proxy': nodeProxy.ready.pid,
      relay: relay.ready.pid,
      // The primary and its workers: the meter sums a process tree.
      'relay workers': workers.ready.pid,
    });

    const smallPath = `/api/v1/namespaces/${NAMESPACE}/pods/${api.ready.podName}`;
    const listPath = `/api/v1/namespaces/${NAMESPACE}/pods?limit=${pods}`;

    // Every target answers, and the relay masks: the pod's SSN is in the API server's answer and not in the relay's.
    const direct = await getOnce(pools.get('direct')!, targets.direct, smallPath);
    const viaRelay = await getOnce(pools.get('relay')!, targets.relay, smallPath);
    const viaProxy = await getOnce(pools.get('kubectl proxy')!, targets['kubectl proxy'], listPath);
    const viaNode = await getOnce(pools.get('Node.js proxy')!, targets['Node.js proxy'], listPath);
    const viaWorkers = await getOnce(pools.get('relay workers')!, targets['relay workers'], smallPath);
    const statuses = [direct, viaProxy, viaNode, viaRelay, viaWorkers].map((response) => response.status);
    if (statuses.some((status) => status !== 200)) {
      throw new Error(
        `a target refused the bench's GET: ${TARGET_NAMES.map((name, index) => `${name} ${statuses[index]}`).join(', ')}; relay: ${viaRelay.body.toString('utf8').slice(0, 300)}`,
      );
    }
    const pod = JSON.parse(direct.body.toString('utf8')) as {
      spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> };
    };
    const ssn = pod.spec.containers[0]!.env!.find((env) => env.name === 'TEST_PATIENT_SSN')!.value!;
    const maskedCheck = {
      value: ssn,
      inDirect: direct.body.includes(ssn),
      inRelay: viaRelay.body.includes(ssn) || viaWorkers.body.includes(ssn),
    };

    // Memory first, on a relay that has served a little (code compiled, caches made) but no load yet.
    console.error('bench relay: memory per connection');
    for (let i = 0; i < 200; i += 1) await getOnce(pools.get('relay')!, targets.relay, smallPath);
    for (let i = 0; i < 5; i += 1) await getOnce(pools.get('relay')!, targets.relay, listPath);
    const memory = await measureMemory(relay, targets.relay, {
      idleConnections,
      watches,
      watchPath: `/api/v1/namespaces/${NAMESPACE}/pods?watch=1&resourceVersion=${api.ready.resourceVersion}`,
      touch: () => api.ask({ command: 'touch' }),
    });

    const scenarios: ScenarioResult[] = [];
    for (const [name, path, rampMs] of [
      ['small GET (one pod)', smallPath, [300, 1000]],
      [`${pods}-pod list page`, listPath, [500, 2500]],
    ] as const) {
      for (const [levelIndex, level] of [1, clients].entries()) {
        console.error(`bench relay: ${name}, ${level} client(s)`);
        const samples = new Map<
          TargetName,
          { latencies: number[]; rps: number[]; completed: number; seconds: number; errors: Record<string, number> }
        >();
        const cpu = new Map<TargetName, Record<string, number>>();
        const responseBytes = new Map<TargetName, number>();
        for (const target of TARGET_NAMES) {
          await drive(pools.get(target)!, targets[target], path, level, warmupMs);
          samples.set(target, { latencies: [], rps: [], completed: 0, seconds: 0, errors: {} });
          cpu.set(target, {});
        }
        for (let round = 0; round < rounds; round += 1) {
          // Each round starts with a different target, so none is always first after another's load.
          const order = TARGET_NAMES.map((_, index) => TARGET_NAMES[(index + round) % TARGET_NAMES.length]!);
          for (const target of order) {
            await settle(meter);
            let before: Record<string, number> = {};
            let after: Record<string, number> = {};
            const result = await drive(pools.get(target)!, targets[target], path, level, roundMs, rampMs[levelIndex], {
              start: () => (before = meter.snapshot()),
              end: () => (after = meter.snapshot()),
            });
            const sample = samples.get(target)!;
            sample.latencies.push(...result.latencies);
            sample.rps.push(result.completed / result.seconds);
            sample.completed += result.completed;
            sample.seconds += result.seconds;
            for (const [code, count] of Object.entries(result.errors))
              sample.errors[code] = (sample.errors[code] ?? 0) + count;
            const spent = cpu.get(target)!;
            for (const process of Object.keys(after)) {
              spent[process] = (spent[process] ?? 0) + after[process]! - before[process]!;
            }
            responseBytes.set(target, result.responseBytes);
          }
        }
        scenarios.push({
          name,
          path,
          clients: level,
          targets: TARGET_NAMES.map((target) => {
            const sample = samples.get(target)!;
            const spent = cpu.get(target)!;
            return {
              target,
              requestsPerSecond: sample.completed / sample.seconds,
              roundRps: sample.rps,
              p50: percentile(sample.latencies, 50),
              p99: percentile(sample.latencies, 99),
              completed: sample.completed,
              errors: sample.errors,
              responseBytes: responseBytes.get(target) ?? 0,
              cpuPerRequest: Object.fromEntries(
                Object.entries(spent).map(([process, cpuMs]) => [process, cpuMs / Math.max(1, sample.completed)]),
              ),
            };
          }),
        });
      }
    }

    const profiles: ProfileResult[] = [];
    for (const [name, path, rampMs] of [
      ['small GET (one pod)', smallPath, 1000],
      [`${pods}-pod list page`, listPath, 2500],
    ] as const) {
      console.error(`bench relay: CPU profiles, ${name} through the relay at ${clients} clients`);
      const file = (who: string) => join(work, `${who}-${profiles.length}.cpuprofile`);
      await settle(meter);
      const result = await drive(pools.get('relay')!, targets.relay, path, clients, profileMs, rampMs, {
        start: () => void Promise.all([relay.ask({ command: 'profile-start' }), api.ask({ command: 'profile-start' })]),
      });
      await relay.ask({ command: 'profile-stop', file: file('relay') });
      await api.ask({ command: 'profile-stop', file: file('api') });
      const read = (who: string) => withoutStartGap(JSON.parse(readFileSync(file(who), 'utf8')) as CpuProfile);
      profiles.push({
        name,
        clients,
        requests: result.completed,
        relay: summarizeProfile(read('relay'), 15),
        stages: stageShares(read('relay')),
        api: summarizeProfile(read('api'), 8),
      });
    }
    const relayPeak = (await relay.ask({ command: 'memory' })) as unknown as MemoryReading;

    return {
      machine: { ...machineInfo(), ...osInfo() },
      command: options.command ?? 'npx tsx bench/relay.ts',
      pods: api.ready.pods,
      listBytes: api.ready.listBytes,
      rounds,
      roundMs,
      warmupMs,
      relayWorkers,
      scenarios,
      maskedCheck,
      memory: { ...memory, peakRss: relayPeak.peakRss },
      profiles,
      profileMs,
      proxyPids: countTree(proxy.child.pid!),
      seconds: (performance.now() - started) / 1000,
      loadAverage: [loadBefore, loadavg()[0]!],
    };
  } finally {
    for (const pool of pools.values()) await pool.close().catch(() => {});
    proxy.child.kill('SIGTERM');
    await stopServer(relay as ServerChild<unknown>).catch(() => relay.child.kill('SIGKILL'));
    await stopServer(nodeProxy as ServerChild<unknown>).catch(() => nodeProxy.child.kill('SIGKILL'));
    await stopServer(workers as ServerChild<unknown>).catch(() => workers.child.kill('SIGKILL'));
    await stopServer(api as ServerChild<unknown>).catch(() => api.child.kill('SIGKILL'));
  }
}

function countTree(pid: number): number {
  try {
    return (
      execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' })
        .trim()
        .split('\n').length + 1
    );
  } catch {
    return 1;
  }
}

/**
 * The relay's RSS after a GC (read from /proc/<pid>/status) with nothing open, then with `idleConnections` keep-alive
 * connections that each carried one request (GET /healthz, answered by the relay itself, so no upstream connection
 * stays behind), then, after those closed, with `watches` open watches that each received one event.
 */
async function measureMemory(
  relay: ServerChild<RelayReady>,
  target: LoadTarget,
  options: {
    idleConnections: number;
    watches: number;
    watchPath: string;
    touch: () => Promise<unknown>;
  },
): Promise<Omit<RelayBenchReport['memory'], 'peakRss'>> {
  const reading = async () => {
    const reply = (await relay.ask({ command: 'memory' })) as unknown as MemoryReading;
    return { ...reply, rss: rssOf(relay.ready.pid) };
  };
  // A GC's result moves by a few MB from one reading to the next: the baseline is the third of three.
  const settled = async () => {
    for (let i = 0; i < 2; i += 1) {
      await reading();
      await sleep(300);
    }
    return reading();
  };
  const baseline = await settled();

  const idlePool = targetPool(target, options.idleConnections);
  await Promise.all(
    Array.from({ length: options.idleConnections }, async () => {
      const response = await idlePool.request({ method: 'GET', path: '/healthz' });
      await response.body.dump();
    }),
  );
  // Within the server's 5 s keep-alive timeout: every connection is open and idle.
  await sleep(300);
  const idle = await reading();
  await idlePool.destroy();
  await sleep(1000);

  const watchBaseline = await settled();
  const watchPool = targetPool(target, options.watches);
  let firstEvents = 0;
  // One controller per watch: a shared signal would carry a listener per request.
  const watchAborts = Array.from({ length: options.watches }, () => new AbortController());
  const opened = watchAborts.map(async (abort) => {
    const response = await watchPool.request({
      method: 'GET',
      path: options.watchPath,
      headers: { accept: 'application/json', authorization: target.authorization! },
      signal: abort.signal,
    });
    let counted = false;
    for await (const chunk of response.body) {
      if (!counted && (chunk as Buffer).length > 0) {
        counted = true;
        firstEvents += 1;
      }
    }
  });
  const openDeadline = Date.now() + 20_000;
  while (((await reading()).openStreams ?? 0) < options.watches && Date.now() < openDeadline) await sleep(200);
  await options.touch();
  const eventDeadline = Date.now() + 20_000;
  while (firstEvents < options.watches && Date.now() < eventDeadline) await sleep(100);
  const watching = await reading();
  for (const abort of watchAborts) abort.abort();
  await Promise.allSettled(opened);
  await watchPool.destroy();
  if (firstEvents < options.watches) {
    console.error(`bench relay: only ${firstEvents} of ${options.watches} watches received their event`);
  }
  return {
    idleConnections: options.idleConnections,
    watches: firstEvents,
    baselineRss: baseline.rss,
    idleRss: idle.rss,
    idleHeap: idle.heapUsed + idle.external - baseline.heapUsed - baseline.external,
    watchBaselineRss: watchBaseline.rss,
    watchRss: watching.rss,
    watchHeap: watching.heapUsed + watching.external - watchBaseline.heapUsed - watchBaseline.external,
    openStreams: watching.openStreams ?? 0,
  };
}

/**
 * Waits until the servers are quiet (under a tenth of a core together, up to 5 s): kubectl proxy and the API server
 * go on closing the connections of a 64-client window for a second or two after it, which would bill the next target.
 */
async function settle(meter: CpuMeter): Promise<void> {
  for (let attempt = 0; attempt < 25; attempt += 1) {
    const before = meter.snapshot();
    await sleep(200);
    const after = meter.snapshot();
    const busy = Object.keys(after)
      .filter((name) => name !== 'load generator')
      .reduce((sum, name) => sum + after[name]! - before[name]!, 0);
    if (busy < 20) return;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

function osInfo(): { os: string; kernel: string; kubectl: string } {
  const release = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  })();
  const kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  const kubectl = /Client Version: (\S+)/.exec(
    execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' }),
  )?.[1];
  return { os: release, kernel, kubectl: kubectl ?? 'unknown' };
}

// ---- the report --------------------------------------------------------------------------------------------------

const yes = (ok: boolean) => (ok ? 'met' : '**not met**');
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function find(scenario: ScenarioResult, target: TargetName): TargetResult {
  return scenario.targets.find((result) => result.target === target)!;
}

/** The relay's rows of a Markdown targets table (`| target | measured | met |`). */
export function relayTargets(report: RelayBenchReport): string {
  const rows: string[][] = [];
  const variants: Array<[TargetName, string]> = [
    ['relay', 'relay (one process: a 1-vCPU task)'],
    ['relay workers', `relay (${report.relayWorkers} workers: a ${report.relayWorkers}-vCPU task)`],
  ];
  for (const [target, label] of variants) {
    for (const scenario of report.scenarios) {
      const relay = find(scenario, target);
      const proxy = find(scenario, 'kubectl proxy');
      const ratio = relay.requestsPerSecond / proxy.requestsPerSecond;
      rows.push([
        `${label} throughput ≥ \`kubectl proxy\`'s: ${scenario.name}, ${scenario.clients} client${scenario.clients > 1 ? 's' : ''}`,
        `${ratio.toFixed(2)}× (${relay.requestsPerSecond.toFixed(0)} against ${proxy.requestsPerSecond.toFixed(0)} req/s)`,
        yes(ratio >= 1),
      ]);
    }
  }
  for (const scenario of report.scenarios) {
    const node = find(scenario, 'Node.js proxy');
    const proxy = find(scenario, 'kubectl proxy');
    rows.push([
      `for information, the floor under the relay's own work: a bare Node.js TLS proxy's throughput ÷ \`kubectl proxy\`'s: ${scenario.name}, ${scenario.clients} client${scenario.clients > 1 ? 's' : ''}`,
      `${(node.requestsPerSecond / proxy.requestsPerSecond).toFixed(2)}× (${node.requestsPerSecond.toFixed(0)} against ${proxy.requestsPerSecond.toFixed(0)} req/s)`,
      '–',
    ]);
  }
  for (const scenario of report.scenarios.filter((s) => s.path === report.scenarios[0]!.path)) {
    const added = find(scenario, 'relay').p50 - find(scenario, 'direct').p50;
    const target = scenario.clients === 1;
    rows.push([
      `relay's added p50 over direct ≤ ${ADDED_P50_TARGET_MS} ms: small GET, ${scenario.clients} client${scenario.clients > 1 ? 's' : ''}${target ? '' : ' (under load: queueing, for information)'}`,
      `${ms(added, 2)} ms (${ms(find(scenario, 'relay').p50, 2)} against ${ms(find(scenario, 'direct').p50, 2)} ms)`,
      target ? yes(added <= ADDED_P50_TARGET_MS) : '–',
    ]);
  }
  return rows.map((row) => `| ${row.join(' | ')} |`).join('\n');
}

export function relayMarkdown(report: RelayBenchReport): string {
  const m = report.machine;
  const memory = report.memory;
  const idlePer = (memory.idleRss - memory.baselineRss) / memory.idleConnections;
  const watchPer = (memory.watchRss - memory.watchBaselineRss) / Math.max(1, memory.watches);
  const processes = ['load generator', 'API server', 'kubectl proxy', 'Node.js proxy', 'relay', 'relay workers'];
  const scenarioTable = (scenario: ScenarioResult) =>
    table(
      [
        'target',
        'req/s',
        'rounds req/s',
        'p50 ms',
        'p99 ms',
        'body',
        ...processes.map((process) => `CPU ms/req: ${process}`),
        'errors',
      ],
      scenario.targets.map((result) => [
        result.target,
        result.requestsPerSecond.toFixed(0),
        result.roundRps.map((rps) => rps.toFixed(0)).join(', '),
        ms(result.p50, 2),
        ms(result.p99, 2),
        kib(result.responseBytes),
        ...processes.map((process) => ms(result.cpuPerRequest[process] ?? 0, 3)),
        Object.keys(result.errors).length === 0 ? '0' : JSON.stringify(result.errors),
      ]),
    );
  const ratios = (scenario: ScenarioResult) => {
    const relay = find(scenario, 'relay');
    const proxy = find(scenario, 'kubectl proxy');
    const direct = find(scenario, 'direct');
    const node = find(scenario, 'Node.js proxy');
    const workers = find(scenario, 'relay workers');
    return `relay ÷ kubectl proxy throughput ${(relay.requestsPerSecond / proxy.requestsPerSecond).toFixed(2)}× (with ${report.relayWorkers} workers ${(workers.requestsPerSecond / proxy.requestsPerSecond).toFixed(2)}×), Node.js proxy ÷ kubectl proxy ${(node.requestsPerSecond / proxy.requestsPerSecond).toFixed(2)}×, relay ÷ Node.js proxy ${(relay.requestsPerSecond / node.requestsPerSecond).toFixed(2)}×, relay ÷ direct ${(relay.requestsPerSecond / direct.requestsPerSecond).toFixed(2)}×; p50 over direct: relay ${ms(relay.p50 - direct.p50, 2)} ms, Node.js proxy ${ms(node.p50 - direct.p50, 2)} ms, kubectl proxy ${ms(proxy.p50 - direct.p50, 2)} ms.`;
  };
  const profileTable = (summary: ProfileSummary, limit: number) =>
    table(
      ['function (file)', 'self ms', 'share of busy time'],
      summary.top
        .slice(0, limit)
        .map((line) => [`\`${line.fn.replaceAll('|', '\\|')}\``, ms(line.selfMs, 0), `${line.percent.toFixed(1)}%`]),
    );
  const areas = (summary: ProfileSummary) =>
    summary.areas.map(({ area, percent }) => `${area} ${percent.toFixed(0)}%`).join(', ');
  const list = report.scenarios.find((s) => s.path !== report.scenarios[0]!.path && s.clients > 1)!;
  const listRelay = find(list, 'relay');
  const smallLoaded = report.scenarios.find((s) => s.path === report.scenarios[0]!.path && s.clients > 1)!;
  const ceiling = (scenario: ScenarioResult) =>
    Math.round(1000 / (find(scenario, 'relay').cpuPerRequest.relay ?? Number.NaN)).toLocaleString('en');
  const listProxy = find(list, 'kubectl proxy');
  return `${SECTION_HEADING}

bench/relay.ts, in one run; it took ${report.seconds.toFixed(0)} s. Command: \`${report.command}\`. The machine is shared:
its 1-minute load average was ${report.loadAverage[0].toFixed(1)} at the start and ${report.loadAverage[1].toFixed(1)} at the end, on
${m.nproc} cores, so every process here got a fraction of a core at times; compare the targets within a table (same
seconds, interleaved), as ratios, not across runs.

| | |
|---|---|
| \`nproc\` | ${m.nproc} |
| CPU | ${m.cpu} |
| memory | ${m.memoryGiB} GiB |
| OS | ${m.os}, ${m.kernel} |
| node | ${m.node} (${m.platform}) |
| kubectl | ${m.kubectl} |

**Setup.** Six process trees on loopback, each server in its own so that its CPU is its own: the project's Kubernetes
API test server (test/support/k8s-api-server.ts) over TLS with ${report.pods} intake pods from the PHI corpus generator
(\`generatePodList\` of bench/masking.ts: PHI in env values, annotations and URLs) in namespace \`${NAMESPACE}\`; the relay
of test/support/relay.ts (\`startRelayHarness\` with \`upstream\` at that server: TLS, masking with the example rules, the
example guardrails in Cedar, a view grant on \`${NAMESPACE}\`, its events through the real AuditLog — hash chain,
secret check — onto an in-memory chain store); the same relay as a ${report.relayWorkers}-vCPU task runs it (\`relay workers\`:
relay/workers.ts forks ${report.relayWorkers} such relays sharing one port, with one certificate, signing key and grant;
its CPU is the primary's and the workers'); \`kubectl proxy --port=0\` (${m.kubectl}) with a kubeconfig at the API
server (bearer token over TLS); a bare Node.js proxy (bench/relay-servers.ts \`node-proxy\`: \`node:https\` in,
an undici Pool with the API server's token out, hop-by-hop headers dropped, the body piped through; no gate, masking
or audit: the least any relay in Node.js does, so the relay's own work is what lies between it and the relay); and the
load generator, the bench's own process: one undici Pool per target with
keep-alive connections (up to ${report.scenarios.at(-1)!.clients}, one request at a time each), N workers issuing the same
GET back to back, each request timed from its start to the last byte of its body (\`accept: application/json\`). Direct
and relay are HTTPS with \`Authorization: Bearer\` (the API server's token; a relay credential); kubectl proxy is plain
HTTP without one, as it serves; the Node.js proxy is HTTPS without one, as the relay serves but with the proxy's own
token upstream. Per scenario, each target gets ${report.warmupMs / 1000} s of warm-up, then ${report.rounds} rounds, the
five targets interleaved and each round starting with a different one. A round's window first waits until the servers
are quiet (kubectl proxy and the API server go on closing a 64-client window's connections for a second or two), then
ramps up (0.3–2.5 s by scenario, so a closed loop of slow requests spreads out) and measures the next
${report.roundMs / 1000} s: the requests that complete in it, and each process's CPU over it. req/s is those 200s per second over
all rounds, p50/p99 over every one of them. The relay masks: the pod's SSN
\`${report.maskedCheck.value}\` is in the API server's answer (${report.maskedCheck.inDirect}) and not in the relay's
(${!report.maskedCheck.inRelay}).

**CPU.** The machine has ${m.nproc} cores for up to three busy process trees at a time. Direct puts two on them (load
generator, API server); each proxy three. "CPU ms/req" is each process's CPU time (utime + stime from /proc, 10 ms
ticks) over the target's windows divided by its completed requests: what one request cost each process, the fair
comparison of the proxies even where the cores, not the proxy, bound the throughput. The one-process relay is one
Node.js thread: it cannot pass 1 s ÷ its CPU per request (here about ${ceiling(smallLoaded)} small GETs/s and ${ceiling(list)} list
pages/s), while kubectl proxy (Go) runs on both cores and spends ${ms(find(smallLoaded, 'kubectl proxy').cpuPerRequest['kubectl proxy'] ?? 0, 2)}
ms (small GET) and ${ms(listProxy.cpuPerRequest['kubectl proxy'] ?? 0, 1)} ms (list page) per request against the relay's
${ms(find(smallLoaded, 'relay').cpuPerRequest.relay ?? 0, 2)} and ${ms(listRelay.cpuPerRequest.relay ?? 0, 1)} ms.

| target | measured | |
|---|---|---|
${relayTargets(report)}

${report.scenarios
  .map(
    (scenario) => `### ${scenario.name}, ${scenario.clients} client${scenario.clients > 1 ? 's' : ''}

\`GET ${scenario.path}\`

${scenarioTable(scenario)}

${ratios(scenario)}`,
  )
  .join('\n\n')}

### Memory per connection

The relay process's RSS (VmRSS from /proc/<pid>/status) after a GC (\`--expose-gc\`, asked over IPC), with the load's
connections closed: ${(memory.baselineRss / 2 ** 20).toFixed(1)} MiB. Then ${memory.idleConnections} keep-alive TLS connections that
each carried one request (\`GET /healthz\`, answered by the relay itself, so no upstream connection stays behind) and
sit idle; then, once those closed, ${memory.watches} watches (\`?watch=1&resourceVersion=…\`, so no initial events) that
each received one MODIFIED event and stay open (the relay counted ${memory.openStreams} open streams). Each watch also holds
its own TLS connection from the relay to the API server (the relay's undici Agent allows 128 per origin,
relay/upstream.ts, so ${memory.watches} stays under it). The relay's peak RSS over the whole run (VmHWM) was
${(memory.peakRss / 2 ** 20).toFixed(0)} MiB.

${table(
  ['what', 'RSS before', 'RSS with them', 'per connection (RSS)', 'per connection (JS heap + external)'],
  [
    [
      `${memory.idleConnections} idle keep-alive connections`,
      `${(memory.baselineRss / 2 ** 20).toFixed(1)} MiB`,
      `${(memory.idleRss / 2 ** 20).toFixed(1)} MiB`,
      kib(idlePer),
      kib(memory.idleHeap / memory.idleConnections),
    ],
    [
      `${memory.watches} open watches`,
      `${(memory.watchBaselineRss / 2 ** 20).toFixed(1)} MiB`,
      `${(memory.watchRss / 2 ** 20).toFixed(1)} MiB`,
      kib(watchPer),
      kib(memory.watchHeap / Math.max(1, memory.watches)),
    ],
  ],
)}

### Where the relay's time goes

V8's CPU profiler (what \`--cpu-prof\` runs) on the relay and on the API server, started and stopped over IPC around
${report.profileMs / 1000} s of each scenario below through the relay, summed by \`summarizeProfile\` of bench/masking.ts
(self time per function, idle excluded; its areas are the masker's, everything else is "other"; the span from the
profiler's start to its first sample is left out). In the list scenario
the relay spent ${ms(listRelay.cpuPerRequest.relay ?? 0, 1)} ms of CPU per request, against kubectl proxy's
${ms(listProxy.cpuPerRequest['kubectl proxy'] ?? 0, 1)} ms.

${report.profiles
  .map(
    (profile) => `#### ${profile.name}, ${profile.clients} clients (${profile.requests} requests)

Relay by stage of the request path (bench/relay-profile.ts: each sample goes to the innermost frame of the project,
of undici or of Node's HTTP/TLS/socket code on its stack): ${profile.stages.map(({ stage, percent }) => `${stage} ${percent.toFixed(0)}%`).join(', ')}.

Relay by the masker's areas: ${areas(profile.relay)}.

${profileTable(profile.relay, 15)}

API server, the same seconds:

${profileTable(profile.api, 8)}`,
  )
  .join('\n\n')}
`;
}

/** Replaces (or appends) this bench's section of BENCHMARKS.md, formatted as `npm run lint` checks it. */
if (process.argv[1]?.endsWith('bench/relay.ts') && process.argv[2] === '--report') {
  // Re-renders the section from a run's printed report (its first JSON block), without running again.
  const text = readFileSync(process.argv[3]!, 'utf8');
  const report = JSON.parse(text.slice(0, text.indexOf('\n}\n') + 2)) as RelayBenchReport;
  await writeBenchmarkSection(SECTION_HEADING, relayMarkdown(report));
  process.exit(0);
} else if (process.argv[1]?.endsWith('bench/relay.ts')) {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-relay-'));
  try {
    const report = await runRelayBench(work);
    console.log(JSON.stringify(report, null, 2));
    const markdown = relayMarkdown(report);
    await writeBenchmarkSection(SECTION_HEADING, markdown);
    console.log(markdown);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}
