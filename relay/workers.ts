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
 *
 * Readiness is the task's, not a worker's: the load balancer's health check reaches whichever worker takes its
 * connection, so one worker that refuses requests (its audit writes fail) would fail every other check and never two
 * in a row. Each worker tells the primary when its own readiness changes, and the primary tells every worker whether
 * all of them are ready; a worker's `/readyz` answers for the task (`peersReady`).
 */
import cluster, { type Worker } from 'node:cluster';

/** What a worker runs: the relay, started; `stop` drains it (relay/runtime.ts's RunningRelay). */
export interface RelayWorkerProcess {
  stop(drainMs: number): Promise<void>;
  /** This process's own readiness: not draining, and its audit writes accepted. */
  ready(): boolean;
}

/** What a relay learns from the other workers of its task. */
export interface RelayWorkerContext {
  /** True while every worker of the task is ready (always, for a relay that runs alone). */
  peersReady(): boolean;
}

export interface RelayWorkersOptions {
  /** Relay processes; 1 runs the relay in this process, no cluster. */
  workers: number;
  /** Starts the relay in this process (each worker's, or the only one). */
  start: (context: RelayWorkerContext) => Promise<RelayWorkerProcess>;
  /** How long a relay may take to drain on SIGTERM. */
  drainMs: number;
  /** A worker that dies sooner after it was forked could not start. @default 10,000 */
  startupMs?: number;
  /** How often a worker looks at its own readiness, to tell the primary when it changed. @default 1,000 */
  readinessCheckMs?: number;
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

/** A worker's readiness, to the primary. */
interface WorkerReadyMessage {
  type: 'gatehouse-relay-worker-ready';
  ready: boolean;
}

/** Whether every worker is ready, to each worker. */
interface PeersReadyMessage {
  type: 'gatehouse-relay-peers-ready';
  ready: boolean;
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

async function serve(options: RelayWorkersOptions, exit: (code: number) => void): Promise<void> {
  // A worker is not ready for the task until the primary has heard it is.
  let peersReady = !cluster.isWorker;
  if (cluster.isWorker) {
    process.on('message', (message: unknown) => {
      if (isMessage<PeersReadyMessage>(message, 'gatehouse-relay-peers-ready')) peersReady = message.ready;
    });
  }
  const running = await options.start({ peersReady: () => peersReady });
  const reporting = cluster.isWorker ? reportReadiness(running, options.readinessCheckMs ?? 1000) : undefined;
  process.once('SIGTERM', () => {
    clearInterval(reporting);
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
  /** Each worker: when it was forked, and its readiness as it last said (not ready until it has said). */
  const workers = new Map<Worker, { forkedAt: number; ready: boolean }>();
  let stopping = false;
  let failed = false;

  let allReady = false;
  const tellWorkers = (reporter?: Worker) => {
    const now = workers.size === options.workers && [...workers.values()].every((worker) => worker.ready);
    const changed = now !== allReady;
    allReady = now;
    if (stopping) return;
    for (const worker of workers.keys()) {
      if ((changed || worker === reporter) && worker.isConnected()) {
        // A worker may exit as this is sent: its exit is handled below, the failed send needs nothing.
        worker.send({ type: 'gatehouse-relay-peers-ready', ready: now } satisfies PeersReadyMessage, () => {});
      }
    }
  };
  cluster.on('message', (worker, message: unknown) => {
    const known = workers.get(worker);
    if (!known || !isMessage<WorkerReadyMessage>(message, 'gatehouse-relay-worker-ready')) return;
    known.ready = message.ready;
    tellWorkers(worker);
  });

  const fork = () => {
    workers.set(cluster.fork(), { forkedAt: Date.now(), ready: false });
    tellWorkers();
  };
  const stopAll = () => {
    for (const worker of workers.keys()) worker.process.kill('SIGTERM');
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (workers.get(worker)?.forkedAt ?? 0);
    workers.delete(worker);
    tellWorkers();
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
    if (workers.size === 0) exit(failed ? 1 : 0);
  });
  process.once('SIGTERM', () => {
    options.log('info', 'draining', { workers: workers.size });
    stopping = true;
    stopAll();
  });
  for (let index = 0; index < options.workers; index += 1) fork();
  options.log('info', 'relay workers started', { workers: options.workers });
}

/** Tells the primary this worker's readiness now, and again whenever it changes. */
function reportReadiness(running: RelayWorkerProcess, everyMs: number): NodeJS.Timeout {
  let told: boolean | undefined;
  const tell = () => {
    const ready = running.ready();
    if (ready === told || !process.connected) return;
    told = ready;
    // The primary may be gone (the task is stopping): nothing to tell then.
    process.send!(
      { type: 'gatehouse-relay-worker-ready', ready } satisfies WorkerReadyMessage,
      undefined,
      {},
      () => {},
    );
  };
  tell();
  const timer = setInterval(tell, everyMs);
  timer.unref();
  return timer;
}
