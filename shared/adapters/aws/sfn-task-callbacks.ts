import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { ApprovalTaskError, TaskCallbacks } from '../../approvals/ports.ts';

export class TaskCallbackError extends Error {
  override name = 'TaskCallbackError';
  constructor(
    message: string,
    /** The Step Functions error name (TaskTimedOut, InvalidToken, AccessDeniedException, …): never the token. */
    readonly kind: string,
  ) {
    super(message);
  }
}

/** The answers Step Functions gives for a token it no longer waits on. */
const NOT_WAITING = new Set(['TaskTimedOut', 'InvalidToken']);

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

  async heartbeat(taskToken: string): Promise<boolean> {
    try {
      await this.send(() => this.client.send(new SendTaskHeartbeatCommand({ taskToken })));
      return true;
    } catch (error) {
      if (error instanceof TaskCallbackError && NOT_WAITING.has(error.kind)) return false;
      throw error;
    }
  }

  private async send(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      // TaskTimedOut / InvalidToken: the execution stopped waiting; the message names the kind, never the token.
      const kind = (error as Error).name;
      throw new TaskCallbackError(`the waiting approval task could not be answered: ${kind}`, kind);
    }
  }
}
