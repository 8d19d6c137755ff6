import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { AwsAdapters } from './aws-runtime.ts';
import { logger, tracer } from './observability.ts';
import { getRuntime, type Runtime } from './runtime.ts';

export const LifecycleTaskInputSchema = z.object({
  requestId: z.string().regex(/^req_[0-9A-HJKMNP-TV-Z]{26}$/),
  reason: z.enum(['expired', 'lifecycle-error']).optional(),
});

export type LifecycleTaskInput = z.infer<typeof LifecycleTaskInputSchema>;

/**
 * A Step Functions task handler. Errors keep their domain names (GrantNotActiveError, NotFoundError, …) so the
 * state machine's Retry and Catch can match on them.
 */
export function lifecycleTask<Output>(
  task: (input: LifecycleTaskInput, runtime: Runtime) => Promise<Output>,
  adapters: AwsAdapters = {},
) {
  return middy<unknown, Output, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer))
    .handler(async (event) => task(LifecycleTaskInputSchema.parse(event), await getRuntime(adapters)));
}
