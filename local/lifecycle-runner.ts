import './polyfills.ts';
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import type { LifecycleScheduler, LifecycleStart } from '#shared/ports.ts';

export const LIFECYCLE_DEFINITION_FILE = new URL('../state-machines/access-lifecycle.asl.json', import.meta.url);

type Task = (input: unknown) => unknown;

export interface LocalLifecycleOptions {
  /** The Lambda handlers the Task states call: the same functions/lifecycle-*.ts the cloud runs. */
  tasks: { grant: Task; revoke: Task };
  /** Tests shorten the wait until expiry and the retry intervals (milliseconds). */
  waitUntilExpiryMs?: number;
  retryIntervalMs?: number;
  /** Told about every execution that ends; failures are also the operator's alarm in the cloud. */
  onSettled?: (name: string, outcome: { ok: boolean; error?: string }) => void;
}

/**
 * Runs state-machines/access-lifecycle.asl.json with aws-local-stepfunctions, one execution per access request
 * (named by its id, so scheduling twice starts one execution, as Step Functions does).
 */
export class LocalLifecycleScheduler implements LifecycleScheduler {
  private readonly machine: StateMachine;
  private readonly executions = new Map<string, { abort: () => void; settled: Promise<void> }>();

  constructor(private readonly options: LocalLifecycleOptions) {
    const text = readFileSync(LIFECYCLE_DEFINITION_FILE, 'utf8')
      .replaceAll('${GrantFunctionArn}', 'arn:aws:lambda:us-east-1:000000000000:function:gatehouse-lifecycle-grant')
      .replaceAll('${RevokeFunctionArn}', 'arn:aws:lambda:us-east-1:000000000000:function:gatehouse-lifecycle-revoke');
    this.machine = new StateMachine(JSON.parse(text));
  }

  async schedule(start: LifecycleStart): Promise<void> {
    const name = start.requestId;
    if (this.executions.has(name)) return;
    const { tasks, waitUntilExpiryMs, retryIntervalMs } = this.options;
    const retry = retryIntervalMs === undefined ? undefined : retryIntervalMs;
    const execution = this.machine.run(
      { ...start },
      {
        overrides: {
          taskResourceLocalHandlers: {
            Grant: async (input) => (await tasks.grant(input)) as never,
            RevokeAtExpiry: async (input) => (await tasks.revoke(input)) as never,
            RevokeAfterError: async (input) => (await tasks.revoke(input)) as never,
          },
          ...(waitUntilExpiryMs === undefined ? {} : { waitTimeOverrides: { WaitUntilExpiry: waitUntilExpiryMs } }),
          ...(retry === undefined
            ? {}
            : { retryIntervalOverrides: { Grant: retry, RevokeAtExpiry: retry, RevokeAfterError: retry } }),
        },
      },
    );
    const settled = execution.result.then(
      () => this.options.onSettled?.(name, { ok: true }),
      (error: unknown) =>
        this.options.onSettled?.(name, { ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
    this.executions.set(name, { abort: () => execution.abort(), settled });
  }

  /** Resolves when the named execution has ended. */
  async settled(name: string): Promise<void> {
    await this.executions.get(name)?.settled;
  }

  /** Stops waiting executions; they are scheduled again from the stored grants at the next start. */
  stop(): void {
    for (const execution of this.executions.values()) execution.abort();
    this.executions.clear();
  }
}
