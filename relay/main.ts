/**
 * The relay process on ECS Fargate (issue 6): starts the relay from its environment (relay/runtime.ts) in
 * RELAY_WORKERS processes (relay/workers.ts; 1 by default: this process) and serves until ECS stops it; SIGTERM drains
 * open streams and flushes events before the process exits.
 */
import { logger, startRelayFromEnvironment } from './runtime.ts';
import { runRelayWorkers } from './workers.ts';

/** ECS gives a task 30 s after SIGTERM by default; the service's stopTimeout is raised to let watches drain. */
const DRAIN_MS = Number(process.env.RELAY_DRAIN_MS ?? 100_000);
const WORKERS = Number(process.env.RELAY_WORKERS ?? 1);

try {
  if (!Number.isSafeInteger(WORKERS) || WORKERS < 1) throw new Error('RELAY_WORKERS must be a positive integer');
  await runRelayWorkers({
    workers: WORKERS,
    start: (context) => startRelayFromEnvironment(process.env, context),
    drainMs: DRAIN_MS,
    log: (level, message, fields) => logger[level](message, fields ?? {}),
  });
} catch (error) {
  logger.error('the relay could not start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
