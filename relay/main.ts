/**
 * The relay process on ECS Fargate (issue 6): starts the relay from its environment (relay/runtime.ts) and serves
 * until ECS stops it; SIGTERM drains open streams and flushes events before the process exits.
 */
import { logger, startRelayFromEnvironment } from './runtime.ts';

/** ECS gives a task 30 s after SIGTERM by default; the service's stopTimeout is raised to let watches drain. */
const DRAIN_MS = Number(process.env.RELAY_DRAIN_MS ?? 100_000);

try {
  const running = await startRelayFromEnvironment(process.env);
  process.once('SIGTERM', () => {
    logger.info('draining');
    running.stop(DRAIN_MS).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error: error instanceof Error ? error.name : 'UnknownError' });
        process.exit(1);
      },
    );
  });
} catch (error) {
  logger.error('the relay could not start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
