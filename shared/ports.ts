/**
 * Ports: the interfaces the domain needs from the outside world. Adapters in shared/adapters/<aws|local>/
 * implement them; use cases receive them, so the domain is testable at a fixed instant with no I/O.
 */
import type { AuditEvent, AuditEventInput } from './audit/event.ts';
import type { AccessRequest, DirectGrant, ExecCredential, Grant, Principal, Slot } from './model.ts';

export interface Clock {
  now(): Date;
}

export interface Ids {
  /** A new ULID: sortable by time, 26 Crockford base-32 characters. */
  next(): string;
}

/** Appends events to their per-stream hash chain. Throws AuditWriteError when the event cannot be stored. */
export interface AuditSink {
  append(event: AuditEventInput): Promise<AuditEvent>;
}

/** Reads and writes access requests and grants. */
export interface AccessStore {
  putRequest(request: AccessRequest): Promise<void>;
  getRequest(id: string): Promise<AccessRequest | undefined>;
  putGrant(grant: Grant): Promise<void>;
  getGrant(id: string): Promise<Grant | undefined>;
  /**
   * Marks an active grant revoked with a conditional write; returns the grant as it is afterwards, or undefined when it
   * does not exist. Revoking a revoked grant changes nothing (idempotent).
   */
  markGrantRevoked(
    id: string,
    revokedAt: string,
    revokedBy: string,
    reason: string,
  ): Promise<{ grant: Grant; changed: boolean } | undefined>;
}

/** The per-cluster pool of slot roles. Leases are conditional writes, so two grants never share a slot. */
export interface SlotPool {
  /** Leases a free slot for the grant, or returns undefined when every slot is leased. */
  lease(cluster: string, grantId: string, leasedUntil: string): Promise<Slot | undefined>;
  /** Frees the slot if the grant still holds it; freeing a free slot changes nothing. */
  release(slot: Slot, grantId: string): Promise<void>;
}

/** EKS access entries for slot roles. Every call is idempotent: an existing entry or a missing one is not an error. */
export interface AccessEntries {
  create(input: { cluster: string; roleArn: string; username: string; grantId: string }): Promise<void>;
  associatePolicy(input: { cluster: string; roleArn: string; policyArn: string; namespaces: string[] }): Promise<void>;
  delete(input: { cluster: string; roleArn: string }): Promise<void>;
}

/** Mints a short-lived EKS credential for a direct grant's slot role. */
export interface TokenMinter {
  mint(input: { grant: DirectGrant; principal: Principal }): Promise<ExecCredential>;
}

/**
 * Signs relay credentials (shared/tokens/relay-credential.ts) with an ECDSA P-256 key: KMS in AWS, a key file locally.
 * The private key never leaves the signer.
 */
export interface RelayCredentialSigner {
  /** The key's id, the credential header's `kid`: hex of the first 16 bytes of SHA-256 over the public key's SPKI DER. */
  keyId(): Promise<string>;
  /** ES256 over the JWS signing input (SHA-256, then ECDSA P-256): the raw 64-byte `r || s` form JOSE uses. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
  /** The public key as an SPKI PEM, for the relay to verify with. */
  publicKeyPem(): Promise<string>;
}

/** Input of the access-lifecycle state machine (state-machines/access-lifecycle.asl.json). */
export interface LifecycleStart {
  requestId: string;
  /** True when a person must approve first; false when the request was granted at once. */
  needsApproval: boolean;
  /** How long the approval may wait, when one is needed. */
  approvalTimeoutSeconds?: number;
}

/** Starts a request's lifecycle in Step Functions or its local twin; one execution per request (named by its id). */
export interface LifecycleScheduler {
  schedule(start: LifecycleStart): Promise<void>;
}
