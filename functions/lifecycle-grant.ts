/** Step Functions task "Grant": re-asserts an active grant's access entry and policy association (idempotent). */
import { eksAccessEntries } from './lib/aws-adapters.ts';
import { lifecycleTask } from './lib/task.ts';

export const handler = lifecycleTask((input, runtime) => runtime.service.grantForRequest(input.requestId), {
  entries: eksAccessEntries,
});
