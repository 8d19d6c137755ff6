/** Ports of the approval domain: where approvals are kept, and how a waiting Step Functions task is answered. */
import type { Approval, ApprovalDecision, ApprovalStatus } from './model.ts';

/**
 * Approvals and their task tokens. Every write is conditional, so concurrent approvers cannot double-count and the first
 * terminal decision wins. Adapters turn their own errors into the domain errors named here.
 */
export interface ApprovalStore {
  /**
   * Stores a new pending approval and the task token of the execution waiting on it. Throws ApprovalExistsError when the
   * request has an approval already.
   */
  create(approval: Approval, taskToken: string): Promise<void>;
  /** The approval, read consistently, without its task token; undefined when there is none. */
  get(requestId: string): Promise<Approval | undefined>;
  /**
   * Appends the decision and returns the approval as it is afterwards. Only one decision per approver
   * (AlreadyDecidedError) and only while pending (ApprovalClosedError); ApprovalNotFoundError when there is no approval.
   * When both hold for a repeat after the end, AlreadyDecidedError wins: it says more.
   */
  recordDecision(requestId: string, decision: ApprovalDecision): Promise<Approval>;
  /**
   * Moves a pending approval to its terminal status. Returns true when this call did it, false when the approval had
   * already left pending (another call won). Throws ApprovalNotFoundError when there is no approval.
   */
  conclude(
    requestId: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    outcome: string,
    at: string,
  ): Promise<boolean>;
  /** The task token stored by `create`; undefined when there is none. Only the backend's callback step reads it. */
  taskToken(requestId: string): Promise<string | undefined>;
  /**
   * Replaces the task token of an approval, when the state machine retried its RequestApproval step (each attempt
   * waits on a new token). Throws ApprovalNotFoundError when there is no approval.
   */
  replaceTaskToken(requestId: string, taskToken: string): Promise<void>;
  /**
   * The request ids and task tokens of up to `limit` pending approvals, soonest expiry first, for the heartbeat. Read
   * from an index that holds only pending approvals (no scan), so it may briefly lag a conclusion.
   */
  pendingTaskTokens(limit: number): Promise<PendingTaskToken[]>;
}

/** A pending approval's request id and the task token its execution waits on. */
export interface PendingTaskToken {
  requestId: string;
  taskToken: string;
}

/** The errors a waiting approval task ends with, for the state machine's Catch. */
export type ApprovalTaskError = 'ApprovalDeniedError' | 'ApprovalExpiredError';

/** Answers a `.waitForTaskToken` task: SendTaskSuccess / SendTaskFailure in AWS, or the local runtime's twin. */
export interface TaskCallbacks {
  succeed(taskToken: string, output: { decision: 'approved' }): Promise<void>;
  fail(taskToken: string, error: ApprovalTaskError, cause: string): Promise<void>;
  /**
   * Tells Step Functions the task is still alive (SendTaskHeartbeat), so it does not fail with States.HeartbeatTimeout.
   * Resolves false when Step Functions no longer waits on the token (TaskTimedOut, InvalidToken); throws otherwise.
   */
  heartbeat(taskToken: string): Promise<boolean>;
}
