import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Grant } from '../../model.ts';
import type { LifecycleScheduler } from '../../ports.ts';

/** Input of the access-lifecycle state machine (state-machines/access-lifecycle.asl.json). */
export interface LifecycleInput {
  grantId: string;
  requestId: string;
}

export class LifecycleScheduleError extends Error {
  override name = 'LifecycleScheduleError';
}

/** Starts one Standard execution per request; the execution name is the request id, so a retry starts nothing new. */
export class SfnLifecycleScheduler implements LifecycleScheduler {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = new SFNClient({}),
  ) {}

  async schedule(grant: Grant): Promise<void> {
    const input: LifecycleInput = { grantId: grant.id, requestId: grant.requestId };
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: grant.requestId,
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      // Same name and same input is answered with success by Step Functions; a different input is a real conflict.
      const reason =
        error instanceof ExecutionAlreadyExists ? 'an execution for this request already exists' : 'unavailable';
      throw new LifecycleScheduleError(`could not start the access lifecycle: ${reason}`);
    }
  }
}
