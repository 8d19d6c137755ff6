/**
 * The relay on every core of its task. A relay process is one Node.js thread: on a task with more than one vCPU it
 * would leave the others idle while requests queue behind masking. With `workers` above 1 this process becomes a
 * node:cluster primary that forks that many relay processes; they share the listening socket (the primary hands each
 * new connection to the next worker in turn), and each is a whole relay of its own: its own credential cache, grant
 * directory, event writer and `relay/<grant>/<instance>/…` audit streams (its instance id has its pid), so no state is
 * shared between them and none needs to be.
 *
 * The primary serves nothing. It replaces a worker that dies while serving; a worker that dies before it has served
 * for `startupMs` (it could not start: configuration, AWS, the port) stops the whole process with exit code 1, so that
 * ECS replaces the task instead of the primary forking a broken worker forever. SIGTERM is passed to every worker, each
 * drains and flushes its events as a single relay does, and the primary exits 0 when all did.
 */
import cluster, { type Worker } from 'node:cluster';

/** What a worker runs: the relay, started; `stop` drains it (relay/runtime.ts's RunningRelay). */
export interface RelayWorkerProcess {
  stop(drainMs: number): Promise<void>;
}

export interface RelayWorkersOptions {
  /** Relay processes; 1 runs the relay in this process, no cluster. */
  workers: number;
  /** Starts the relay in this process (each worker's, or the only one). */
  start: () => Promise<RelayWorkerProcess>;
  /** How long a relay may take to drain on SIGTERM. */
  drainMs: number;
  /** A worker that dies sooner after it was forked could not start. @default 10,000 */
  startupMs?: number;
  log: (level: 'info' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** @default process.exit */
  exit?: (code: number) => void;
}

/**
 * Runs the relay as `workers` processes (or in this one for 1). Resolves once this process serves or supervises;
 * SIGTERM then drains and exits.
 */
export async function runRelayWorkers(options: RelayWorkersOptions): Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  if (options.workers <= 1 || cluster.isWorker) return serve(options, exit);
  superviseWorkers(options, exit);
}

async function serve(options: RelayWorkersOptions, exit: (code: number) => void): Promise<void> {
  const running = await options.start();
  process.once('SIGTERM', () => {
    options.log('info', 'draining');
    running.stop(options.drainMs).then(
      () => exit(0),
      (error: unknown) => {
        options.log('error', 'shutdown failed', { error: error instanceof Error ? error.name : 'UnknownError' });
        exit(1);
      },
    );
  });
}

function superviseWorkers(options: RelayWorkersOptions, exit: (code: number) => void): void {
  const startupMs = options.startupMs ?? 10_000;
  const forkedAt = new Map<Worker, number>();
  let stopping = false;
  let failed = false;

  const fork = () => forkedAt.set(cluster.fork(), Date.now());
  const stopAll = () => {
    for (const worker of forkedAt.keys()) worker.process.kill('SIGTERM');
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (forkedAt.get(worker) ?? 0);
    forkedAt.delete(worker);
    if (!stopping) {
      if (lived < startupMs) {
        options.log('error', 'a relay worker could not start; stopping the relay', {
          pid: worker.process.pid,
          code,
          signal,
        });
        failed = true;
        stopping = true;
        stopAll();
      } else {
        options.log('error', 'a relay worker died; starting another', { pid: worker.process.pid, code, signal });
        fork();
        return;
      }
    } else if (code !== 0) {
      failed = true;
    }
    if (forkedAt.size === 0) exit(failed ? 1 : 0);
  });
  process.once('SIGTERM', () => {
    options.log('info', 'draining', { workers: forkedAt.size });
    stopping = true;
    stopAll();
  });
  for (let index = 0; index < options.workers; index += 1) fork();
  options.log('info', 'relay workers started', { workers: options.workers });
}
