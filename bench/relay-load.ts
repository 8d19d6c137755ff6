/**
 * The load generator of bench/relay.ts: an undici Pool per target (keep-alive connections, one request at a time on
 * each), N workers issuing the same GET back to back for a fixed time, each request timed from its start to the last
 * byte of its body. And the CPU time of the processes involved, read from /proc, so a run can say where CPU went.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface LoadTarget {
  name: string;
  origin: string;
  /** PEM of the server's certificate, for https origins. */
  ca?: string;
  /** The `Authorization` header, when the target needs one. */
  authorization?: string;
}

export interface LoadResult {
  /** 200 responses completed within the window. */
  completed: number;
  seconds: number;
  /** Milliseconds per completed request, start to last body byte. */
  latencies: number[];
  /** Everything that was not a 200, by status or error code. */
  errors: Record<string, number>;
  /** Body bytes of the last response (the size of what the client reads). */
  responseBytes: number;
}

/** A target's connections: `connections` at most, kept alive between windows. */
export function targetPool(target: LoadTarget, connections: number): Pool {
  return new Pool(target.origin, {
    connections,
    pipelining: 1,
    ...(target.ca ? { connect: { ca: target.ca } } : {}),
    // Watches and 500-pod lists under load may take seconds; nothing here should time out first.
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
}

function requestHeaders(target: LoadTarget): Record<string, string> {
  return { accept: 'application/json', ...(target.authorization ? { authorization: target.authorization } : {}) };
}

/** One GET read to the end: status and body bytes. */
export async function getOnce(pool: Pool, target: LoadTarget, path: string): Promise<{ status: number; body: Buffer }> {
  const response = await pool.request({ method: 'GET', path, headers: requestHeaders(target) });
  return { status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) };
}

/** Called when the measured interval starts and ends (after the ramp, at the end of the window). */
export interface WindowHooks {
  start?(): void;
  end?(): void;
}

/**
 * `clients` workers GET `path` back to back for `rampMs + durationMs`. Only the steady state is measured: requests that
 * complete within the last `durationMs` (the ramp lets a closed loop of slow requests spread out first); requests
 * still in flight at the end are awaited, not counted.
 */
export async function drive(
  pool: Pool,
  target: LoadTarget,
  path: string,
  clients: number,
  durationMs: number,
  rampMs = 0,
  hooks: WindowHooks = {},
): Promise<LoadResult> {
  const headers = requestHeaders(target);
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let completed = 0;
  let responseBytes = 0;
  let measureFrom = performance.now() + rampMs;
  let end = measureFrom + durationMs;
  let ended = false;
  const finish = () => {
    if (!ended) hooks.end?.();
    ended = true;
  };
  let endTimer: NodeJS.Timeout | undefined;
  const startTimer = setTimeout(() => {
    measureFrom = performance.now();
    end = measureFrom + durationMs;
    hooks.start?.();
    endTimer = setTimeout(finish, durationMs);
  }, rampMs);
  const worker = async () => {
    while (performance.now() < end) {
      const begin = performance.now();
      let key: string | undefined;
      try {
        const response = await pool.request({ method: 'GET', path, headers });
        let bytes = 0;
        for await (const chunk of response.body) bytes += (chunk as Buffer).length;
        if (response.statusCode !== 200) key = String(response.statusCode);
        else responseBytes = bytes;
      } catch (error) {
        key = (error as { code?: string }).code ?? (error as Error).name;
        // A refused or reset connection: do not spin.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const finished = performance.now();
      if (finished < measureFrom) continue;
      if (finished > end) break;
      if (key) errors[key] = (errors[key] ?? 0) + 1;
      else {
        completed += 1;
        latencies.push(finished - begin);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  finish();
  return { completed, seconds: durationMs / 1000, latencies, errors, responseBytes };
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of one process in ms (0 once it is gone). */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The pid and its descendants (kubectl may run as a dispatcher and its child). */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const tree = [pid];
  for (let index = 0; index < tree.length; index += 1) tree.push(...(parents.get(tree[index]!) ?? []));
  return tree;
}

/** CPU ms of each named process tree (and of this process, `load generator`), as a snapshot to subtract. */
export class CpuMeter {
  readonly #trees: Map<string, number[]>;

  constructor(pids: Record<string, number>) {
    this.#trees = new Map(Object.entries(pids).map(([name, pid]) => [name, processTree(pid)]));
  }

  snapshot(): Record<string, number> {
    const own = process.cpuUsage();
    const out: Record<string, number> = { 'load generator': (own.user + own.system) / 1000 };
    for (const [name, pids] of this.#trees) out[name] = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
    return out;
  }
}

/** VmRSS of a process, bytes. */
export function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}
