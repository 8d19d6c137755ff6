import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { AwsAdapters } from './aws-runtime.ts';
import { logger, metrics, tracer } from './observability.ts';
import { getRuntime, type Runtime } from './runtime.ts';

const requestId = z.string().regex(/^req_[0-9A-HJKMNP-TV-Z]{26}$/);

/** Input of the Grant and Revoke states. */
export const LifecycleTaskInputSchema = z.object({
  requestId,
  reason: z.enum(['expired', 'lifecycle-error']).optional(),
});

/** Input of the RequestApproval state's Payload. */
export const NotifyTaskInputSchema = z.object({
  requestId,
  taskToken: z.string().min(1).max(1024),
  timeoutSeconds: z.number().int().positive(),
});

/** Input of the states that close an approval without access. */
export const CloseTaskInputSchema = z.object({ requestId, outcome: z.enum(['denied', 'expired', 'failed']) });

/**
 * A Step Functions task handler: its input parsed with `schema`. Errors keep their domain names (GrantNotActiveError,
 * NotFoundError, …) so the state machine's Retry and Catch can match on them.
 */
export function stateMachineTask<Schema extends z.ZodType, Output>(
  schema: Schema,
  task: (input: z.infer<Schema>, runtime: Runtime) => Promise<Output>,
  adapters: AwsAdapters = {},
) {
  return middy<unknown, Output, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      // One count per task run: the lifecycle's throughput on the dashboard, and never an empty metrics flush.
      metrics.addMetric('StateMachineTasks', 'Count', 1);
      return task(schema.parse(event), await getRuntime(adapters));
    });
}

/**
 * A handler an EventBridge schedule invokes: the event carries nothing it needs (the schedule is the trigger), so only
 * the runtime is passed.
 */
export function scheduledTask<Output>(task: (runtime: Runtime) => Promise<Output>, adapters: AwsAdapters = {}) {
  return middy<unknown, Output, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics))
    .handler(async () => task(await getRuntime(adapters)));
}
