/** SfnTaskCallbacks.heartbeat against a mocked Step Functions client: the call, and which answers mean "not waiting". */
import { SFNClient, SendTaskHeartbeatCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SfnTaskCallbacks, TaskCallbackError } from '../../shared/adapters/aws/sfn-task-callbacks.ts';

const sfn = mockClient(SFNClient);
const callbacks = new SfnTaskCallbacks(
  new SFNClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } }),
);
const TOKEN = 'AAAAKgAAAAIAAAAAAAAAAe1-heartbeat-token';
const sdkError = (name: string) => Object.assign(new Error(`${name} from Step Functions`), { name });

afterEach(() => sfn.reset());

describe('SfnTaskCallbacks.heartbeat', () => {
  it('sends SendTaskHeartbeat with the token and reports the task as waiting', async () => {
    sfn.on(SendTaskHeartbeatCommand).resolves({});

    await expect(callbacks.heartbeat(TOKEN)).resolves.toBe(true);

    expect(sfn.commandCalls(SendTaskHeartbeatCommand).map((c) => c.args[0].input)).toEqual([{ taskToken: TOKEN }]);
  });

  it.each(['TaskTimedOut', 'InvalidToken'])(
    'answers false for %s: Step Functions no longer waits on it',
    async (name) => {
      sfn.on(SendTaskHeartbeatCommand).rejects(sdkError(name));

      await expect(callbacks.heartbeat(TOKEN)).resolves.toBe(false);
    },
  );

  it('throws any other error as TaskCallbackError with its kind, never the token', async () => {
    sfn.on(SendTaskHeartbeatCommand).rejects(sdkError('AccessDeniedException'));

    const error = await callbacks.heartbeat(TOKEN).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TaskCallbackError);
    expect(error).toMatchObject({ kind: 'AccessDeniedException' });
    expect((error as Error).message).not.toContain(TOKEN);
  });
});
