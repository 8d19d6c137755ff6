import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { LifecycleScheduler, LifecycleStart } from '../../ports.ts';

export class LifecycleScheduleError extends Error {
  override name = 'LifecycleScheduleError';
}

/** Starts one Standard execution per request; the execution name is the request id, so a retry starts nothing new. */
export class SfnLifecycleScheduler implements LifecycleScheduler {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = new SFNClient({}),
  ) {}

  async schedule(start: LifecycleStart): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: start.requestId,
          input: JSON.stringify(start),
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
