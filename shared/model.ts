/** The domain's nouns, shared by every use case. Pure data: no I/O here. */

/** Continuous-integration claims, when the token came from a CI system. */
export interface CiClaims {
  provider: 'github-actions' | 'gitlab';
  repository?: string;
  ref?: string;
  workflow?: string;
  environment?: string;
  runId?: string;
  actor?: string;
  pipelineId?: string;
  userLogin?: string;
}

/** Who is asking, as established by a verified OIDC token. */
export interface Principal {
  /** `<issuer name>:<subject>`, unique across configured issuers. */
  id: string;
  issuer: string;
  issuerName: string;
  subject: string;
  groups: string[];
  email?: string;
  ci?: CiClaims;
}

export type AccessVia = 'direct' | 'relay';

export interface AccessRequestInput {
  cluster: string;
  namespaces: string[];
  access: string;
  durationSeconds: number;
  purpose: string;
  ticket?: string;
  via: AccessVia;
}

export type AccessRequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'granted' | 'revoked';

export interface AccessRequest extends AccessRequestInput {
  id: string;
  principal: Principal;
  status: AccessRequestStatus;
  createdAt: string;
  updatedAt: string;
  grantId?: string;
  decision?: {
    effect: 'permit' | 'forbid' | 'approval';
    policies: string[];
    reason: string;
    approvalGroups?: string[];
  };
}

/** A slot role of a cluster's pool: an IAM role that one grant at a time may use. */
export interface Slot {
  cluster: string;
  index: number;
  roleArn: string;
}

export type GrantStatus = 'active' | 'revoked';

/** What every grant has, however its credentials reach the cluster. */
interface GrantCommon {
  id: string;
  requestId: string;
  principal: Principal;
  cluster: string;
  namespaces: string[];
  access: string;
  /** The Kubernetes username: `gatehouse:<session name>` (the access entry's, or the one the relay impersonates). */
  username: string;
  sessionName: string;
  status: GrantStatus;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  revokedBy?: string;
  revokeReason?: string;
}

/**
 * A direct grant (DESIGN.md section 2.3): a leased slot role with an EKS access entry; its tokens are presigned STS
 * URLs that reach the cluster's API server itself.
 */
export interface DirectGrant extends GrantCommon {
  via: 'direct';
  accessPolicyArn: string;
  slot: Slot;
}

/**
 * A relay grant (DESIGN.md section 2.4): no slot and no access entry. Its credentials are relay credentials, which only
 * the relay accepts; the relay calls the cluster with its own credential and impersonates `username` and `groups`.
 */
export interface RelayGrant extends GrantCommon {
  via: 'relay';
  /** The Kubernetes groups the relay impersonates (`relay.accessGroups` of the access level, or `gatehouse:<level>`). */
  groups: string[];
}

export type Grant = DirectGrant | RelayGrant;

/** `client.authentication.k8s.io/v1` ExecCredential, as kubectl reads it. */
export interface ExecCredential {
  apiVersion: 'client.authentication.k8s.io/v1';
  kind: 'ExecCredential';
  spec: { interactive?: boolean };
  status: { token: string; expirationTimestamp: string };
}
