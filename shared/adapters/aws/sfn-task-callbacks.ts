import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalTaskError, TaskCallbacks } from '../../approvals/ports.ts';

export class TaskCallbackError extends Error {
  override name = 'TaskCallbackError';
}

/** Answers the access-lifecycle's waiting RequestApproval task. The token never leaves the backend. */
export class SfnTaskCallbacks implements TaskCallbacks {
  constructor(private readonly client: SFNClient = new SFNClient({})) {}

  async succeed(taskToken: string, output: { decision: 'approved' }): Promise<void> {
    await this.send(() => this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })));
  }

  async fail(taskToken: string, error: ApprovalTaskError, cause: string): Promise<void> {
    await this.send(() =>
      this.client.send(new SendTaskFailureCommand({ taskToken, error, cause: cause.slice(0, 32_768) })),
    );
  }

  private async send(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      // TaskTimedOut / InvalidToken: the execution stopped waiting; the message names the kind, never the token.
      throw new TaskCallbackError(`the waiting approval task could not be answered: ${(error as Error).name}`);
    }
  }
}
