/** The approval domain's nouns (DESIGN.md section 2.2). Pure data: no I/O here. */

/** What a request needs before it may be granted: every listed group must reach its quorum. */
export interface ApprovalRequirement {
  /** Each group with the number of its members who must approve (N of M), as configured when the request was made. */
  groups: { name: string; quorum: number }[];
  /** How long the request waits for a decision: the smallest timeout of the groups. */
  timeoutSeconds: number;
}

/** Where an approver answered. */
export type ApprovalChannel = 'slack' | 'email' | 'local' | 'api';

/** One approver's answer. An approver decides once per request. */
export interface ApprovalDecision {
  /** The approver's id from `approvers.people`. */
  approverId: string;
  decision: 'approve' | 'deny';
  reason?: string;
  channel: ApprovalChannel;
  /** UTC ISO-8601. */
  at: string;
  /** The required groups this approver counted for, from the configuration in force when they decided. */
  groups: string[];
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** A request's approval: one per access request, keyed by its id. */
export interface Approval {
  requestId: string;
  status: ApprovalStatus;
  requirement: ApprovalRequirement;
  /** In the order they were recorded. */
  decisions: ApprovalDecision[];
  createdAt: string;
  expiresAt: string;
  /** When it left `pending`; set with `outcome`. */
  concludedAt?: string;
  /** A sentence for people: who approved, who denied and why, or that time ran out. */
  outcome?: string;
}
