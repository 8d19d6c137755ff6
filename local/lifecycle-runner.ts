import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import type { LifecycleScheduler, LifecycleStart } from '#shared/ports.ts';

export const LIFECYCLE_DEFINITION_FILE = new URL('../state-machines/access-lifecycle.asl.json', import.meta.url);

type Task = (input: unknown) => unknown;

export interface LocalLifecycleOptions {
  /** The Lambda handlers the Task states call: the same functions/*.ts the cloud runs. */
  tasks: { grant: Task; revoke: Task; notifyApprovers: Task; closeApproval: Task };
  /** Tests shorten the wait until expiry and the retry intervals (milliseconds). */
  waitUntilExpiryMs?: number;
  retryIntervalMs?: number;
  /** Tests shorten how long an approval waits (seconds; the configuration's minimum is a minute). */
  approvalTimeoutSeconds?: number;
  /** Tests shorten RequestApproval's heartbeat window (seconds; the ASL's HeartbeatSeconds otherwise; 0 turns it off). */
  approvalHeartbeatSeconds?: number;
  /** Told about every execution that ends; failures are also the operator's alarm in the cloud. */
  onSettled?: (name: string, outcome: { ok: boolean; error?: string }) => void;
}

/** Step Functions' callback API, in process: the approval handlers answer a waiting task token here. */
export class LocalTaskTokens {
  private readonly waiting = new Map<
    string,
    { resolve: (output: unknown) => void; reject: (error: Error) => void; beat: () => void; stop: () => void }
  >();
  /** When each waiting token last got a heartbeat (epoch ms). */
  readonly beats = new Map<string, number>();

  /**
   * Registers the token before the approvers are told, so a fast decision cannot arrive before the wait. With
   * `heartbeatMs`, the wait fails with States.HeartbeatTimeout when no heartbeat arrives for that long (HeartbeatSeconds).
   */
  wait(token: string, heartbeatMs?: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const stop = () => clearTimeout(timer);
      const beat = () => {
        stop();
        if (heartbeatMs === undefined) return;
        timer = setTimeout(() => {
          this.waiting.delete(token);
          this.beats.delete(token);
          reject(
            Object.assign(new Error(`no heartbeat for ${heartbeatMs / 1000} s`), { name: 'States.HeartbeatTimeout' }),
          );
        }, heartbeatMs);
        timer.unref();
      };
      this.waiting.set(token, { resolve, reject, beat, stop });
      beat();
    });
  }

  async succeed(token: string, output: unknown): Promise<void> {
    this.take(token).resolve(output);
  }

  async fail(token: string, error: string, cause: string): Promise<void> {
    this.take(token).reject(Object.assign(new Error(cause), { name: error }));
  }

  /** SendTaskHeartbeat: restarts the token's heartbeat window; false when nothing waits on it (TaskTimedOut). */
  async heartbeat(token: string): Promise<boolean> {
    const waiter = this.waiting.get(token);
    if (!waiter) return false;
    this.beats.set(token, Date.now());
    waiter.beat();
    return true;
  }

  /** Stops every heartbeat timer (the runtime is stopping; its executions are aborted). */
  clear(): void {
    for (const waiter of this.waiting.values()) waiter.stop();
    this.waiting.clear();
    this.beats.clear();
  }

  private take(token: string) {
    const waiter = this.waiting.get(token);
    // Step Functions answers an unknown or used token with TaskTimedOut / InvalidToken; so does this.
    if (!waiter) throw Object.assign(new Error('the task token is not waiting'), { name: 'TaskTimedOut' });
    waiter.stop();
    this.waiting.delete(token);
    this.beats.delete(token);
    return waiter;
  }
}

/**
 * Runs state-machines/access-lifecycle.asl.json with aws-local-stepfunctions, one execution per access request
 * (named by its id, so scheduling twice starts one execution, as Step Functions does).
 */
export class LocalLifecycleScheduler implements LifecycleScheduler {
  private readonly machine: StateMachine;
  private readonly executions = new Map<string, { abort: () => void; settled: Promise<void> }>();
  readonly tokens = new LocalTaskTokens();
  /** Task handlers still running: stopping waits for them, so none touches a store that is already closed. */
  private readonly running = new Set<Promise<unknown>>();
  /** RequestApproval's HeartbeatSeconds, from the definition; undefined when it has none. */
  private readonly heartbeatSeconds: number | undefined;

  constructor(private readonly options: LocalLifecycleOptions) {
    const arn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:gatehouse-${name}`;
    const text = readFileSync(LIFECYCLE_DEFINITION_FILE, 'utf8')
      .replaceAll('${GrantFunctionArn}', arn('lifecycle-grant'))
      .replaceAll('${RevokeFunctionArn}', arn('lifecycle-revoke'))
      .replaceAll('${NotifyFunctionArn}', arn('approval-notify'))
      .replaceAll('${CloseApprovalFunctionArn}', arn('approval-close'));
    const definition = JSON.parse(text) as AslDefinition;
    this.heartbeatSeconds = definition.States.RequestApproval?.HeartbeatSeconds;
    this.machine = new StateMachine(pointTimeoutPathsAtPayload(definition) as never);
  }

  async schedule(start: LifecycleStart): Promise<void> {
    const name = start.requestId;
    if (this.executions.has(name)) return;
    const { tasks, waitUntilExpiryMs, retryIntervalMs: retry } = this.options;
    const token = `local-task-token-${randomUUID()}`;
    const { approvalTimeoutSeconds } = this.options;
    const input = start.needsApproval && approvalTimeoutSeconds ? { ...start, approvalTimeoutSeconds } : start;
    const execution = this.machine.run(
      { ...input },
      {
        context: { Task: { Token: token } },
        overrides: {
          taskResourceLocalHandlers: {
            RequestApproval: async (input) => {
              // aws-local-stepfunctions 3.0 ignores HeartbeatSeconds, so the wait enforces it here, as Step Functions
              // does: no heartbeat for that long fails the task with States.HeartbeatTimeout (caught like any error).
              const heartbeatSeconds = this.options.approvalHeartbeatSeconds ?? this.heartbeatSeconds;
              const decided = this.tokens.wait(token, heartbeatSeconds ? heartbeatSeconds * 1000 : undefined);
              await this.track(tasks.notifyApprovers, (input as { Payload: unknown }).Payload);
              return (await decided) as never;
            },
            ExpireApproval: (input) => this.track(tasks.closeApproval, input),
            CloseApprovalAfterError: (input) => this.track(tasks.closeApproval, input),
            CloseDenied: (input) => this.track(tasks.closeApproval, input),
            Grant: (input) => this.track(tasks.grant, input),
            RevokeAtExpiry: (input) => this.track(tasks.revoke, input),
            RevokeAfterError: (input) => this.track(tasks.revoke, input),
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

  /** Stops waiting executions (scheduled again from the stored grants at the next start) and lets running tasks end. */
  async stop(): Promise<void> {
    for (const execution of this.executions.values()) execution.abort();
    this.executions.clear();
    this.tokens.clear();
    await Promise.allSettled([...this.running]);
  }

  private async track(task: Task, input: unknown): Promise<never> {
    const run = Promise.resolve(task(input));
    this.running.add(run);
    try {
      return (await run) as never;
    } finally {
      this.running.delete(run);
    }
  }
}

interface AslDefinition {
  States: Record<
    string,
    { Resource?: string; TimeoutSecondsPath?: string; HeartbeatSeconds?: number; Parameters?: { Payload?: object } }
  >;
}

/**
 * Step Functions reads a Task's TimeoutSecondsPath from the state's input; aws-local-stepfunctions 3.0 reads it from the
 * effective parameters. The ASL passes the same value in the Payload too, so locally the path is pointed there.
 */
function pointTimeoutPathsAtPayload(definition: AslDefinition): AslDefinition {
  for (const state of Object.values(definition.States)) {
    const payload = (state.Parameters?.Payload ?? {}) as Record<string, unknown>;
    const key = Object.keys(payload).find((name) => payload[name] === state.TimeoutSecondsPath);
    if (state.TimeoutSecondsPath && key) state.TimeoutSecondsPath = `$.Payload.${key.replace(/\.\$$/, '')}`;
  }
  return definition;
}
