/**
 * The approval domain's errors. Each refusal of a decision has its own name, so handlers can answer it clearly and
 * Step Functions can match on it. Messages are safe to show a caller: never a task token.
 */

/** No approval exists for the request (or its request is gone). */
export class ApprovalNotFoundError extends Error {
  override name = 'ApprovalNotFoundError';
  constructor(
    readonly requestId: string,
    message = `no approval exists for request ${requestId}`,
  ) {
    super(message);
  }
}

/** An approval for the request exists already: each request has one. */
export class ApprovalExistsError extends Error {
  override name = 'ApprovalExistsError';
  constructor(readonly requestId: string) {
    super(`an approval for request ${requestId} exists already`);
  }
}

/** The approval is no longer pending (approved, denied or expired): nothing more can be decided. */
export class ApprovalClosedError extends Error {
  override name = 'ApprovalClosedError';
  constructor(
    readonly requestId: string,
    readonly status: string,
    message = `the approval of request ${requestId} is ${status}; nothing more can be decided`,
  ) {
    super(message);
  }
}

/** This approver has already decided on this request; their first decision stands. */
export class AlreadyDecidedError extends Error {
  override name = 'AlreadyDecidedError';
  constructor(
    readonly requestId: string,
    readonly approverId: string,
  ) {
    super(`${approverId} has already decided on request ${requestId}`);
  }
}

/** The identity is no configured approver, or belongs to none of the groups the request needs. */
export class NotAnApproverError extends Error {
  override name = 'NotAnApproverError';
}

/** The approver is the requester, under this or another of their identities. */
export class SelfApprovalError extends Error {
  override name = 'SelfApprovalError';
}

/** A policy names approver groups the configuration does not define; the request cannot be approved (fail closed). */
export class UnknownApproverGroupError extends Error {
  override name = 'UnknownApproverGroupError';
  constructor(
    message: string,
    readonly groups: string[],
  ) {
    super(message);
  }
}
