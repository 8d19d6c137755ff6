/** Step Functions task "Grant": re-asserts an auto-granted request's access entry, or creates the grant of an approved one. */
import { eksAccessEntries } from './lib/aws-adapters.ts';
import { LifecycleTaskInputSchema, stateMachineTask } from './lib/task.ts';

export const handler = stateMachineTask(
  LifecycleTaskInputSchema,
  (input, runtime) => runtime.service.grantForRequest(input.requestId),
  {
    entries: eksAccessEntries,
  },
);
