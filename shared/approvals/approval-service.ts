/**
 * The approval use cases: open an approval when a policy asks for one, record approvers' decisions from any channel,
 * and end it (approved, denied, expired) exactly once, answering the waiting Step Functions task.
 *
 * Every refusal is recorded as `approval.refused` with a reason code before its named error is thrown; a decision is
 * recorded as `approval.decided` before it is stored, so nothing counts without a record (fail closed).
 */
import type { AuditActor, AuditEventInput, AuditSubject } from '../audit/event.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import type { AccessRequest, Principal } from '../model.ts';
import type { AuditSink, Clock, Ids } from '../ports.ts';
import { approvalRequirement, findApprover, groupsOf, isSelfApproval, tally } from './approval-rules.ts';
import type { ApproverIdentity } from './approval-rules.ts';
import {
  AlreadyDecidedError,
  ApprovalClosedError,
  ApprovalNotFoundError,
  NotAnApproverError,
  SelfApprovalError,
  UnknownApproverGroupError,
} from './errors.ts';
import type { Approval, ApprovalChannel, ApprovalDecision, ApprovalRequirement, ApprovalStatus } from './model.ts';
import type { ApprovalStore, TaskCallbacks } from './ports.ts';

export interface ApprovalServiceDeps {
  /** The configuration in force, read again at every decision so membership changes apply at once. */
  config: () => GatehouseConfig;
  store: ApprovalStore;
  callbacks: TaskCallbacks;
  audit: AuditSink;
  /** Where the request (and so its requester) is read, for the self-approval check. */
  access: { getRequest(id: string): Promise<AccessRequest | undefined> };
  clock: Clock;
  /** Accepted for symmetry with the other services; approvals are keyed by their request id and need no new id. */
  ids?: Ids;
}

export interface DecisionInput {
  requestId: string;
  /** Who is deciding, as the channel knows them; mapped to a configured approver. */
  identity: ApproverIdentity;
  decision: 'approve' | 'deny';
  reason?: string;
  channel: ApprovalChannel;
}

export interface DecisionResult {
  /** The approval as stored after this call. */
  approval: Approval;
  /** True when this call ended the approval (and answered the waiting task). */
  concluded: boolean;
}

/** Why a decision was refused, as recorded in `approval.refused`. */
export type ApprovalRefusalReason =
  | 'approval-not-found'
  | 'request-not-found'
  | 'closed'
  | 'expired'
  | 'unknown-approver'
  | 'not-in-required-group'
  | 'self-approval'
  | 'already-decided'
  | 'unknown-approver-group';

const SYSTEM_APPROVALS: AuditActor = { id: 'system:approvals' };

/** At most this many approvals get a heartbeat per run: far more than ever wait at once. */
export const HEARTBEAT_LIMIT = 1000;

/** What one heartbeat run did. Nothing of it is audited: a beat every few minutes per approval would flood the log. */
export interface HeartbeatResult {
  /** Pending approvals found (with a task token). */
  pending: number;
  /** Heartbeats Step Functions accepted. */
  sent: number;
  /** Tokens Step Functions no longer waits on (TaskTimedOut, InvalidToken): ignored, the approval is ending. */
  notWaiting: number;
  /** Heartbeats that failed otherwise, counted by the error's kind (never a token). */
  failures: Record<string, number>;
}

export class ApprovalService {
  constructor(private readonly deps: ApprovalServiceDeps) {}

  /** The approval of a request as stored (never its task token), or undefined. */
  get(requestId: string): Promise<Approval | undefined> {
    return this.deps.store.get(requestId);
  }

  /**
   * Opens the approval the request waits on: pending until `now + timeout` of its groups. `approvalGroups` are the
   * `@approval("…")` values of the determining policies. Throws UnknownApproverGroupError (recorded) when a group is not
   * configured, and ApprovalExistsError when the request's approval has already ended. A pending approval opened again
   * (a retried RequestApproval) keeps its decisions and waits on the new task token.
   */
  async open(request: AccessRequest, approvalGroups: string[], taskToken: string): Promise<Approval> {
    const { audit, clock, store } = this.deps;
    const existing = await store.get(request.id);
    if (existing?.status === 'pending') {
      // The state machine retried RequestApproval: the approval stands, and the new attempt waits on a new token.
      await store.replaceTaskToken(request.id, taskToken);
      return existing;
    }
    const stream = `request/${request.id}`;
    const base = { stream, actor: actorOf(request.principal), subject: subjectOf(request), requestId: request.id };
    if (taskToken === '') throw new TypeError('an approval needs the task token of the execution waiting on it');
    let requirement: ApprovalRequirement;
    try {
      requirement = approvalRequirement(this.deps.config(), approvalGroups);
    } catch (error) {
      if (error instanceof UnknownApproverGroupError) {
        await audit.append({
          ...base,
          type: 'approval.refused',
          details: { reason: 'unknown-approver-group' satisfies ApprovalRefusalReason, groups: error.groups },
        });
      }
      throw error;
    }
    const now = clock.now();
    const approval: Approval = {
      requestId: request.id,
      status: 'pending',
      requirement,
      decisions: [],
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + requirement.timeoutSeconds * 1000).toISOString(),
    };
    await audit.append({
      ...base,
      type: 'approval.requested',
      details: {
        groups: requirement.groups.map((group) => group.name),
        quorum: Object.fromEntries(requirement.groups.map((group) => [group.name, group.quorum])),
        timeoutSeconds: requirement.timeoutSeconds,
        expiresAt: approval.expiresAt,
      },
    });
    await store.create(approval, taskToken);
    return approval;
  }

  /**
   * Records one approver's decision. Refuses (recorded, then thrown): no approval (ApprovalNotFoundError), not pending
   * or past its expiry (ApprovalClosedError), an identity that is no approver or in none of the required groups now
   * (NotAnApproverError), the requester under any of their identities (SelfApprovalError), a second decision by the
   * same approver (AlreadyDecidedError). When the decisions reach a terminal tally, ends the approval; the call that
   * ends it answers the waiting task, once.
   */
  async decide(input: DecisionInput): Promise<DecisionResult> {
    const { audit, clock, store } = this.deps;
    const { requestId, identity, channel } = input;
    const stream = `request/${requestId}`;
    const reason = input.reason?.trim() || undefined;
    let actor: AuditActor = identityActor(identity);
    let subject: AuditSubject | undefined;
    const refuse = async (code: ApprovalRefusalReason, error: Error): Promise<never> => {
      await audit.append({
        type: 'approval.refused',
        stream,
        actor,
        subject,
        requestId,
        details: { reason: code, decision: input.decision, channel },
      });
      throw error;
    };

    const approval = await store.get(requestId);
    if (!approval) return refuse('approval-not-found', new ApprovalNotFoundError(requestId));
    const request = await this.deps.access.getRequest(requestId);
    if (request) subject = subjectOf(request);
    if (approval.status !== 'pending') {
      return refuse('closed', new ApprovalClosedError(requestId, approval.status));
    }
    const now = clock.now();
    if (now.getTime() >= Date.parse(approval.expiresAt)) {
      await this.conclude(approval, 'expired', expiredOutcome(approval), now, SYSTEM_APPROVALS, subject);
      return refuse('expired', new ApprovalClosedError(requestId, 'expired'));
    }
    if (!request) {
      // Without the request there is no requester to check against: refuse rather than risk a self-approval.
      return refuse(
        'request-not-found',
        new ApprovalNotFoundError(requestId, `the access request ${requestId} of this approval does not exist`),
      );
    }

    const config = this.deps.config();
    const approver = findApprover(config, identity);
    if (!approver) {
      return refuse('unknown-approver', new NotAnApproverError('you are not a configured approver'));
    }
    actor = { id: approverActorId(approver.id) };
    const groups = groupsOf(config, approval.requirement, approver.id);
    if (groups.length === 0) {
      const needed = approval.requirement.groups.map((group) => group.name).join(', ');
      return refuse(
        'not-in-required-group',
        new NotAnApproverError(`${approver.id} is not a member of the group(s) this request needs: ${needed}`),
      );
    }
    if (isSelfApproval(approver, request.principal)) {
      return refuse(
        'self-approval',
        new SelfApprovalError(`${approver.id} made this request and may not decide on it`),
      );
    }
    if (approval.decisions.some((decision) => decision.approverId === approver.id)) {
      return refuse('already-decided', new AlreadyDecidedError(requestId, approver.id));
    }

    const decision: ApprovalDecision = {
      approverId: approver.id,
      decision: input.decision,
      ...(reason === undefined ? {} : { reason }),
      channel,
      at: now.toISOString(),
      groups,
    };
    await audit.append({
      type: 'approval.decided',
      stream,
      actor,
      subject,
      requestId,
      details: { approverId: approver.id, decision: decision.decision, reason, channel, groups },
    });
    let updated: Approval;
    try {
      updated = await store.recordDecision(requestId, decision);
    } catch (error) {
      // Lost a race the reads above could not see: a click of the same approver, or another decision that ended it.
      if (error instanceof AlreadyDecidedError) return refuse('already-decided', error);
      if (error instanceof ApprovalClosedError) return refuse('closed', error);
      throw error;
    }

    const result = tally(updated.requirement, updated.decisions);
    if (result === 'pending') return { approval: updated, concluded: false };
    const outcome = result === 'approved' ? approvedOutcome(updated) : deniedOutcome(updated);
    const concluded = await this.conclude(updated, result, outcome, clock.now(), actor, subject);
    return { approval: (await store.get(requestId)) ?? updated, concluded };
  }

  /**
   * Ends a pending approval as expired: the state machine's timeout path, after its wait has ended (so no task is
   * answered). Idempotent: an approval already ended is returned as it is, with `concluded: false`.
   */
  async expire(requestId: string): Promise<DecisionResult> {
    const { store, clock } = this.deps;
    const approval = await store.get(requestId);
    if (!approval) throw new ApprovalNotFoundError(requestId);
    if (approval.status !== 'pending') return { approval, concluded: false };
    const request = await this.deps.access.getRequest(requestId);
    const concluded = await this.conclude(
      approval,
      'expired',
      expiredOutcome(approval),
      clock.now(),
      SYSTEM_APPROVALS,
      request && subjectOf(request),
      { answerTask: false },
    );
    return { approval: (await store.get(requestId)) ?? approval, concluded };
  }

  /**
   * Sends a heartbeat for the task token of every pending approval, so the RequestApproval wait (HeartbeatSeconds)
   * stays alive while the backend can still answer it. When beats stop (this is broken, or a token was lost), Step
   * Functions fails the task with States.HeartbeatTimeout and the request closes as failed. Throws when the pending
   * approvals cannot be read; a failed beat is counted, not thrown, so one bad token does not starve the others.
   */
  async heartbeat(limit = HEARTBEAT_LIMIT): Promise<HeartbeatResult> {
    const { callbacks, store } = this.deps;
    const pending = await store.pendingTaskTokens(limit);
    const result: HeartbeatResult = { pending: pending.length, sent: 0, notWaiting: 0, failures: {} };
    for (const { taskToken } of pending) {
      try {
        if (await callbacks.heartbeat(taskToken)) result.sent += 1;
        else result.notWaiting += 1;
      } catch (error) {
        const kind = (error as { kind?: unknown }).kind;
        const name = typeof kind === 'string' ? kind : error instanceof Error ? error.name : 'Error';
        result.failures[name] = (result.failures[name] ?? 0) + 1;
      }
    }
    return result;
  }

  /**
   * Moves the approval to its terminal status with a conditional write; only the call that wins records
   * `approval.concluded` and then answers the waiting task, so the task is answered once however many race.
   */
  private async conclude(
    approval: Approval,
    status: Exclude<ApprovalStatus, 'pending'>,
    outcome: string,
    at: Date,
    actor: AuditActor,
    subject: AuditSubject | undefined,
    options: { answerTask: boolean } = { answerTask: true },
  ): Promise<boolean> {
    const { audit, callbacks, store } = this.deps;
    const { requestId } = approval;
    const won = await store.conclude(requestId, status, outcome, at.toISOString());
    if (!won) return false;
    const event: AuditEventInput = {
      type: 'approval.concluded',
      stream: `request/${requestId}`,
      actor,
      subject,
      requestId,
      details: {
        status,
        outcome,
        approvedBy: approverIds(approval, 'approve'),
        deniedBy: approverIds(approval, 'deny'),
      },
    };
    await audit.append(event);
    if (!options.answerTask) return true;
    const taskToken = await store.taskToken(requestId);
    if (taskToken === undefined) {
      throw new ApprovalNotFoundError(requestId, `the approval of request ${requestId} has no task token to answer`);
    }
    if (status === 'approved') await callbacks.succeed(taskToken, { decision: 'approved' });
    else if (status === 'denied') await callbacks.fail(taskToken, 'ApprovalDeniedError', outcome);
    else await callbacks.fail(taskToken, 'ApprovalExpiredError', outcome);
    return true;
  }
}

function approverIds(approval: Approval, kind: ApprovalDecision['decision']): string[] {
  return approval.decisions.filter((decision) => decision.decision === kind).map((decision) => decision.approverId);
}

function approvedOutcome(approval: Approval): string {
  return `approved by ${approverIds(approval, 'approve').join(', ')}`;
}

function deniedOutcome(approval: Approval): string {
  const denial = approval.decisions.find((decision) => decision.decision === 'deny')!;
  return `denied by ${denial.approverId}${denial.reason ? `: ${denial.reason}` : ''}`;
}

function expiredOutcome(approval: Approval): string {
  return `no decision within ${approval.requirement.timeoutSeconds} s`;
}

function approverActorId(approverId: string): string {
  return `approver:${approverId}`;
}

/** The audit actor for an identity not (yet) mapped to an approver: what the channel said, and nothing more. */
function identityActor(identity: ApproverIdentity): AuditActor {
  if (identity.approverId !== undefined) return { id: approverActorId(identity.approverId) };
  if (identity.slackUserId !== undefined) return { id: `slack:${identity.slackUserId}` };
  if (identity.email !== undefined) return { id: `email:${identity.email.toLowerCase()}` };
  return { id: 'unknown' };
}

function actorOf(principal: Principal): AuditActor {
  const ci = principal.ci
    ? Object.fromEntries(Object.entries(principal.ci).filter((entry): entry is [string, string] => !!entry[1]))
    : undefined;
  return { id: principal.id, issuer: principal.issuer, groups: principal.groups, ...(ci ? { ci } : {}) };
}

function subjectOf(request: AccessRequest): AuditSubject {
  return { cluster: request.cluster, namespaces: request.namespaces };
}
