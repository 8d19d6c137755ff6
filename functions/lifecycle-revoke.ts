/** Step Functions task "Revoke": revokes at expiry or after a lifecycle error; repeating it is harmless. */
import { eksAccessEntries } from './lib/aws-adapters.ts';
import { lifecycleTask } from './lib/task.ts';

export const handler = lifecycleTask(
  async (input, runtime) => {
    const grant = await runtime.service.expireGrant(input.grantId, input.reason ?? 'expired');
    return { grantId: grant.id, status: grant.status, revokedAt: grant.revokedAt };
  },
  { entries: eksAccessEntries },
);
