/** The audit event model of DESIGN.md section 5: one versioned JSON shape for every event. */

export const AUDIT_EVENT_SCHEMA = 'gatehouse.event/v1';

export type AuditEventType =
  | 'access.requested'
  | 'access.rejected'
  | 'policy.decided'
  | 'grant.created'
  | 'grant.failed'
  | 'token.issued'
  | 'token.refused'
  | 'grant.revoked'
  | 'revoke.refused'
  | 'request.read.refused'
  | 'auth.failed'
  | 'approval.requested'
  | 'approval.decided'
  | 'approval.refused'
  | 'approval.concluded'
  // An auditor's reads (GET /v1/events, GET /v1/evidence) and their refusals: filters and counts, never event contents.
  | 'audit.queried'
  | 'evidence.exported'
  | 'audit.read.refused'
  // The relay: one event per Kubernetes request it forwarded (with its masking record) or refused, and exec/attach
  // sessions, whose end carries the SHA-256 of their recording.
  | 'relay.request'
  | 'relay.denied'
  | 'session.started'
  | 'session.ended';

export interface AuditActor {
  /** Principal id (`<issuer name>:<subject>`), or `system:<component>` for Gatehouse itself. */
  id: string;
  issuer?: string;
  groups?: string[];
  ci?: Record<string, string>;
}

export interface AuditSubject {
  cluster?: string;
  namespaces?: string[];
  namespace?: string;
  resource?: string;
}

/** What a writer supplies; the sink adds id, time and chain. */
export interface AuditEventInput {
  type: AuditEventType;
  /** The chain this event extends: `request/<id>`, `grant/<id>`, `session/<id>`, `auth/<day>`. */
  stream: string;
  actor: AuditActor;
  subject?: AuditSubject;
  requestId?: string;
  grantId?: string;
  sessionId?: string;
  /** Never a secret, token or PHI value: fingerprints, paths and counts only. */
  details?: Record<string, unknown>;
}

export interface AuditChainLink {
  stream: string;
  seq: number;
  /** Hash of the previous event in the stream, or 64 zeros for the first. */
  prev: string;
  /** SHA-256 over the canonical JSON of the event without `chain.hash`. */
  hash: string;
}

export interface AuditEvent extends Omit<AuditEventInput, 'stream'> {
  schema: typeof AUDIT_EVENT_SCHEMA;
  id: string;
  time: string;
  chain: AuditChainLink;
}
