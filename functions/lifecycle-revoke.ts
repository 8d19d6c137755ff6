/** Step Functions task "Revoke": revokes at expiry or after a lifecycle error; repeating it is harmless. */
import { eksAccessEntries } from './lib/aws-adapters.ts';
import { LifecycleTaskInputSchema, stateMachineTask } from './lib/task.ts';

export const handler = stateMachineTask(
  LifecycleTaskInputSchema,
  (input, runtime) => runtime.service.endRequest(input.requestId, input.reason ?? 'expired'),
  { entries: eksAccessEntries },
);
