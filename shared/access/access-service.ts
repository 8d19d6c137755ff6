import type { AuditActor, AuditEventInput, AuditEventType } from '../audit/event.ts';
import { fingerprint } from '../audit/fingerprint.ts';
import { approvalRequirement } from '../approvals/approval-rules.ts';
import type { ApprovalStore } from '../approvals/ports.ts';
import type { AccessDecision, PolicyEngine } from '../policy/policy-engine.ts';
import type { ClusterConfig, GatehouseConfig } from '../config/schema.ts';
import type {
  AccessRequest,
  AccessRequestInput,
  DirectGrant,
  ExecCredential,
  Grant,
  Principal,
  RelayGrant,
} from '../model.ts';
import type {
  AccessEntries,
  AccessStore,
  AuditSink,
  Clock,
  Ids,
  LifecycleScheduler,
  RelayCredentialSigner,
  SlotPool,
  TokenMinter,
} from '../ports.ts';
import { isMemberOf } from '../identity/membership.ts';
import { issueRelayCredential, RelayCredentialError } from '../tokens/relay-credential.ts';
import { deriveSessionName } from '../tokens/session-name.ts';
import {
  AccessDeniedError,
  ForbiddenError,
  GrantFailedError,
  GrantNotActiveError,
  NoFreeSlotError,
  NotAvailableError,
  NotFoundError,
  RequestValidationError,
  UnprocessableRequestError,
} from './errors.ts';

/** The policy engine as the access use cases need it. */
export type AccessPolicy = Pick<PolicyEngine, 'decideAccess'>;

export interface AccessServiceDeps {
  config: GatehouseConfig;
  policy: AccessPolicy;
  audit: AuditSink;
  store: AccessStore;
  slots: SlotPool;
  entries: AccessEntries;
  minter: TokenMinter;
  /**
   * Signs relay credentials. Its presence is what makes `via: "relay"` available: the local runtime always has one, an
   * AWS deployment when the configuration names the relay (`relay.url` or `relay.deployment`). Functions that never
   * issue tokens go without; they still create, expire and revoke relay grants.
   */
  relaySigner?: RelayCredentialSigner;
  scheduler: LifecycleScheduler;
  /** Where approvals are read, so a grant for a request that waited on people is made only once they approved. */
  approvals?: Pick<ApprovalStore, 'get'>;
  clock: Clock;
  ids: Ids;
}

/** What a granted request returns. It holds no secret, so it may be kept by the idempotency store. */
export interface GrantedAccess {
  status: 'granted';
  requestId: string;
  grantId: string;
  cluster: string;
  namespaces: string[];
  access: string;
  expiresAt: string;
}

/** What a request waiting for people returns: who must approve, and until when. */
export interface PendingAccess {
  status: 'pending';
  requestId: string;
  approvalGroups: { name: string; quorum: number }[];
  approvalExpiresAt: string;
}

export type AccessOutcome = GrantedAccess | PendingAccess;

/** What the lifecycle's Grant step hands to its wait. */
export interface LifecycleGrant {
  requestId: string;
  grantId: string;
  expiresAt: string;
}

export interface LifecycleEnd {
  requestId: string;
  grantId?: string;
  status: string;
  revokedAt?: string;
}

/** Tokens live 15 minutes at most, so a slot lease outlives its grant by that much before another grant may take it. */
const SLOT_LEASE_MARGIN_MS = 15 * 60 * 1000;
const NO_SLOT_RETRY_AFTER_SECONDS = 30;
/** How often a long poll reads the request: one consistent read per quarter second while a caller waits. */
const LONG_POLL_INTERVAL_MS = 250;
const SYSTEM_LIFECYCLE: AuditActor = { id: 'system:access-lifecycle' };

export type RevocationReason = 'requested' | 'expired' | 'lifecycle-error';

/**
 * The access-request use cases: request, token, status, revoke, and the lifecycle's grant and expiry steps.
 * Every step appends its audit event before it acts or answers; an audit failure propagates, so nothing is granted
 * without a record (fail closed).
 */
export class AccessService {
  constructor(private readonly deps: AccessServiceDeps) {}

  async requestAccess(principal: Principal, input: AccessRequestInput): Promise<AccessOutcome> {
    const { audit, clock, ids, store } = this.deps;
    const now = clock.now().toISOString();
    const request: AccessRequest = {
      ...input,
      id: `req_${ids.next()}`,
      principal,
      status: 'pending',
      createdAt: now,
      updatedAt: now,
    };
    const actor = actorOf(principal);
    await audit.append(
      requestEvent(request, 'access.requested', actor, {
        access: input.access,
        durationSeconds: input.durationSeconds,
        purpose: input.purpose,
        ticket: input.ticket,
        via: input.via,
      }),
    );

    const problem = this.checkAgainstConfig(input);
    if (problem) {
      await audit.append(requestEvent(request, 'access.rejected', actor, { problem }));
      throw problem.kind === 'unavailable'
        ? new NotAvailableError(problem.message)
        : new UnprocessableRequestError(problem.message);
    }

    const decision = this.decide(principal, input);
    await audit.append(requestEvent(request, 'policy.decided', actor, { ...decision }));
    request.decision = {
      effect: decision.effect,
      policies: decision.policies,
      reason: decision.reason,
      approvalGroups: decision.approvalGroups,
    };

    if (decision.effect === 'forbid') {
      await store.putRequest({ ...request, status: 'denied' });
      throw new AccessDeniedError(decision.reason, decision.policies);
    }
    if (decision.effect === 'approval') return this.awaitApproval(request, decision);

    const grant = await this.createGrant(request);
    return {
      status: 'granted',
      requestId: request.id,
      grantId: grant.id,
      cluster: grant.cluster,
      namespaces: grant.namespaces,
      access: grant.access,
      expiresAt: grant.expiresAt,
    };
  }

  /**
   * A policy asks for people: the request waits as `pending` in its lifecycle, whose first state notifies the approvers.
   * Approval groups the configuration does not define are a denial (fail closed), never a pass.
   */
  private async awaitApproval(request: AccessRequest, decision: AccessDecision): Promise<PendingAccess> {
    const { clock, store } = this.deps;
    let requirement;
    try {
      requirement = approvalRequirement(this.deps.config, decision.approvalGroups);
    } catch (error) {
      await store.putRequest({ ...request, status: 'denied' });
      throw new AccessDeniedError(`${(error as Error).message}; the request cannot be approved`, decision.policies);
    }
    await store.putRequest(request);
    try {
      await this.deps.scheduler.schedule({
        requestId: request.id,
        needsApproval: true,
        approvalTimeoutSeconds: requirement.timeoutSeconds,
      });
    } catch {
      await store.putRequest({ ...request, status: 'expired', updatedAt: clock.now().toISOString() });
      throw new GrantFailedError('the approval could not be started; nothing was requested of the approvers');
    }
    return {
      status: 'pending',
      requestId: request.id,
      approvalGroups: requirement.groups,
      approvalExpiresAt: new Date(clock.now().getTime() + requirement.timeoutSeconds * 1000).toISOString(),
    };
  }

  /** Lifecycle step after a denial, an expiry or a failed approval: the request ends without access. */
  async closeRequest(requestId: string, outcome: 'denied' | 'expired' | 'failed'): Promise<AccessRequest> {
    const request = await this.requireRequest(requestId);
    if (request.status !== 'pending') return request;
    const closed: AccessRequest = {
      ...request,
      status: outcome === 'denied' ? 'denied' : 'expired',
      updatedAt: this.deps.clock.now().toISOString(),
    };
    await this.deps.store.putRequest(closed);
    return closed;
  }

  /**
   * Runs the caller's parsing of a request body; when it refuses the body, records `access.rejected` (the error kind and
   * the fields at fault, never their values) before the refusal propagates.
   */
  async recordRejections<T>(principal: Principal, parse: () => T): Promise<T> {
    try {
      return parse();
    } catch (error) {
      const requestId = `req_${this.deps.ids.next()}`;
      await this.deps.audit.append({
        type: 'access.rejected',
        stream: `request/${requestId}`,
        actor: actorOf(principal),
        requestId,
        details: {
          problem: errorName(error),
          fields: error instanceof RequestValidationError ? error.errors.map((e) => e.path) : [],
        },
      });
      throw error;
    }
  }

  /** A fresh credential for the requester's active grant. */
  async issueToken(principal: Principal, requestId: string): Promise<ExecCredential> {
    const request = await this.requireRequest(requestId);
    const grant = request.grantId ? await this.deps.store.getGrant(request.grantId) : undefined;
    const refuse = async (reason: string) => {
      await this.deps.audit.append(
        grant
          ? grantEvent(grant, 'token.refused', actorOf(principal), { reason })
          : requestEvent(request, 'token.refused', actorOf(principal), { reason }),
      );
    };
    if (request.principal.id !== principal.id) {
      await refuse('not the requester');
      throw new ForbiddenError('only the requester may obtain tokens for this request');
    }
    if (!grant || !this.isActive(grant)) {
      const reason = !grant ? `the request is ${request.status}` : `the grant is ${this.grantState(grant)}`;
      await refuse(reason);
      throw new GrantNotActiveError(`no token: ${reason}`);
    }
    return this.mintToken(grant, principal);
  }

  /** A request as the system reads it (lifecycle steps and approval channels); no caller check. */
  requestOf(requestId: string): Promise<AccessRequest | undefined> {
    return this.deps.store.getRequest(requestId);
  }

  /** The request as its requester or an admin may see it, with its grant's state. */
  async getRequest(principal: Principal, requestId: string): Promise<{ request: AccessRequest; grant?: Grant }> {
    const request = await this.requireRequest(requestId);
    if (request.principal.id !== principal.id && !this.isAdmin(principal)) {
      await this.deps.audit.append(
        requestEvent(request, 'request.read.refused', actorOf(principal), { reason: 'not the requester or an admin' }),
      );
      throw new ForbiddenError('only the requester or an admin may read this request');
    }
    const grant = request.grantId ? await this.deps.store.getGrant(request.grantId) : undefined;
    if (grant && grant.status === 'active' && !this.isActive(grant)) {
      // Expired but not yet revoked by the lifecycle: report what the caller can rely on.
      return { request: { ...request, status: 'expired' }, grant };
    }
    return { request, grant };
  }

  /**
   * Long poll: the request as `getRequest` shows it, once its status is no longer `unlike` or `waitMs` has passed.
   * Lets a waiting CLI learn of an approval within a poll interval, without a request per second.
   */
  async awaitRequestChange(
    principal: Principal,
    requestId: string,
    unlike: string,
    waitMs: number,
    sleep: (ms: number) => Promise<void>,
  ): Promise<{ request: AccessRequest; grant?: Grant }> {
    const deadline = this.deps.clock.now().getTime() + waitMs;
    for (;;) {
      const current = await this.getRequest(principal, requestId);
      if (current.request.status !== unlike || this.deps.clock.now().getTime() >= deadline) return current;
      await sleep(LONG_POLL_INTERVAL_MS);
    }
  }

  /** Early revocation by the requester or an admin. */
  async revokeGrant(principal: Principal, grantId: string, reason?: string): Promise<Grant> {
    const grant = await this.deps.store.getGrant(grantId);
    if (!grant) throw new NotFoundError(`grant ${grantId} does not exist`);
    const refuse = (why: string) =>
      this.deps.audit.append(grantEvent(grant, 'revoke.refused', actorOf(principal), { reason: why }));
    if (grant.principal.id !== principal.id && !this.isAdmin(principal)) {
      await refuse('not the requester or an admin');
      throw new ForbiddenError('only the requester or an admin may revoke this grant');
    }
    if (grant.status === 'revoked') {
      await refuse('already revoked');
      throw new GrantNotActiveError(`grant ${grantId} is already revoked`);
    }
    return this.revoke(grant, actorOf(principal), 'requested', reason);
  }

  /**
   * Lifecycle step "Grant": re-asserts the access entry of the request's grant (idempotent). Returns what the state
   * machine waits on.
   */
  async grantForRequest(requestId: string): Promise<LifecycleGrant> {
    const request = await this.requireRequest(requestId);
    if (!request.grantId) return this.grantApproved(request);
    const grant = await this.deps.store.getGrant(request.grantId);
    if (!grant) throw new NotFoundError(`grant ${request.grantId} does not exist`);
    if (grant.status !== 'active') throw new GrantNotActiveError(`grant ${grant.id} is ${grant.status}`);
    // A relay grant has no access entry: the relay reads the grant's status itself.
    if (grant.via === 'relay') return { requestId, grantId: grant.id, expiresAt: grant.expiresAt };
    await this.attachAccessEntry(grant);
    // A revocation may have marked the grant and deleted its entry between the read above and the attach: revocation
    // always marks before it deletes, so reading again after attaching sees it, and the entry must not survive.
    const after = await this.deps.store.getGrant(grant.id);
    if (after?.status !== 'active') {
      await this.deps.entries.delete({ cluster: grant.cluster, roleArn: grant.slot.roleArn });
      throw new GrantNotActiveError(`grant ${grant.id} was revoked while its access entry was re-asserted`);
    }
    return { requestId, grantId: grant.id, expiresAt: grant.expiresAt };
  }

  /** The approved path: the grant is created only when the approval store says the approvers approved. */
  private async grantApproved(request: AccessRequest): Promise<LifecycleGrant> {
    const approval = await this.deps.approvals?.get(request.id);
    if (request.status !== 'pending' || approval?.status !== 'approved') {
      throw new GrantNotActiveError(`request ${request.id} is ${request.status} and not approved; nothing is granted`);
    }
    const grant = await this.createGrant(request, { scheduleLifecycle: false });
    return { requestId: request.id, grantId: grant.id, expiresAt: grant.expiresAt };
  }

  /**
   * Lifecycle step "Revoke": ends the request's grant at expiry or after a lifecycle error. Idempotent: a revoked grant
   * is cleaned again (entry deleted, slot released) without a second event.
   */
  async endRequest(requestId: string, reason: Exclude<RevocationReason, 'requested'>): Promise<LifecycleEnd> {
    const request = await this.requireRequest(requestId);
    if (!request.grantId) return { requestId, status: request.status };
    const grant = await this.deps.store.getGrant(request.grantId);
    if (!grant) throw new NotFoundError(`grant ${request.grantId} does not exist`);
    const revoked = await this.revoke(grant, SYSTEM_LIFECYCLE, reason);
    return { requestId, grantId: revoked.id, status: revoked.status, revokedAt: revoked.revokedAt };
  }

  private async createGrant(request: AccessRequest, options = { scheduleLifecycle: true }): Promise<Grant> {
    const { audit, clock, ids, store } = this.deps;
    const cluster = this.cluster(request.cluster);
    const grantId = `grt_${ids.next()}`;
    const createdAt = clock.now();
    const expiresAt = new Date(createdAt.getTime() + request.durationSeconds * 1000);
    const actor = actorOf(request.principal);
    const sessionName = deriveSessionName(request.principal, grantId);
    const common = {
      id: grantId,
      requestId: request.id,
      principal: request.principal,
      cluster: cluster.name,
      namespaces: request.namespaces,
      access: request.access,
      username: `gatehouse:${sessionName}`,
      sessionName,
      status: 'active' as const,
      createdAt: createdAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
    };

    let grant: Grant;
    let details: Record<string, unknown>;
    if ((request.via ?? 'direct') === 'relay') {
      // No slot and no access entry: the relay reaches the cluster with its own credential and impersonates these.
      const groups = this.deps.config.relay.accessGroups[request.access] ?? [`gatehouse:${request.access}`];
      grant = { ...common, via: 'relay', groups: [...groups] };
      details = { via: 'relay', username: grant.username, groups: grant.groups, expiresAt: grant.expiresAt };
    } else {
      const slot = await this.deps.slots.lease(
        cluster.name,
        grantId,
        new Date(expiresAt.getTime() + SLOT_LEASE_MARGIN_MS).toISOString(),
      );
      if (!slot) {
        await audit.append(
          grantEvent(common, 'grant.failed', actor, { reason: 'no free slot', poolSize: cluster.slotPoolSize }),
        );
        throw new NoFreeSlotError(
          `every one of the ${cluster.slotPoolSize} access slots of cluster ${cluster.name} is in use; retry shortly`,
          NO_SLOT_RETRY_AFTER_SECONDS,
        );
      }
      const direct: DirectGrant = {
        ...common,
        via: 'direct',
        accessPolicyArn: cluster.accessLevels[request.access]!,
        slot,
      };
      grant = direct;
      details = {
        slot: slot.index,
        roleArn: slot.roleArn,
        username: grant.username,
        accessPolicyArn: direct.accessPolicyArn,
        expiresAt: grant.expiresAt,
      };
    }
    try {
      await audit.append(grantEvent(grant, 'grant.created', actor, details));
      await store.putGrant(grant);
      if (grant.via === 'direct') {
        // A slot whose earlier grant was never cleaned up may still carry that grant's entry and namespaces.
        await this.deps.entries.delete({ cluster: grant.cluster, roleArn: grant.slot.roleArn });
        await this.attachAccessEntry(grant);
      }
      // Stored before the lifecycle starts: its first step reads the request to find the grant.
      await store.putRequest({ ...request, status: 'granted', grantId, updatedAt: clock.now().toISOString() });
      if (options.scheduleLifecycle)
        await this.deps.scheduler.schedule({ requestId: request.id, needsApproval: false });
      return grant;
    } catch (error) {
      await this.undoGrant(grant, error);
      throw new GrantFailedError('the grant could not be created; nothing was left granted');
    }
  }

  /** Compensation for a grant that failed part way: every step is idempotent, and each runs even if one fails. */
  private async undoGrant(grant: Grant, cause: unknown): Promise<void> {
    const { audit, clock, entries, slots, store } = this.deps;
    const direct = grant.via === 'direct' ? grant : undefined;
    const steps: (() => Promise<unknown>)[] = [
      async () => direct && entries.delete({ cluster: direct.cluster, roleArn: direct.slot.roleArn }),
      () => store.markGrantRevoked(grant.id, clock.now().toISOString(), SYSTEM_LIFECYCLE.id, 'grant failed'),
      async () => direct && slots.release(direct.slot, direct.id),
      async () => {
        const request = await store.getRequest(grant.requestId);
        if (request?.status === 'granted') {
          await store.putRequest({ ...request, status: 'revoked', updatedAt: clock.now().toISOString() });
        }
      },
      () =>
        audit.append(
          grantEvent(grant, 'grant.failed', SYSTEM_LIFECYCLE, {
            reason: 'grant step failed; undone',
            error: errorName(cause),
          }),
        ),
    ];
    for (const step of steps) await step().catch(() => undefined);
  }

  private async attachAccessEntry(grant: DirectGrant): Promise<void> {
    const { entries } = this.deps;
    await entries.create({
      cluster: grant.cluster,
      roleArn: grant.slot.roleArn,
      username: grant.username,
      grantId: grant.id,
    });
    await entries.associatePolicy({
      cluster: grant.cluster,
      roleArn: grant.slot.roleArn,
      policyArn: grant.accessPolicyArn,
      namespaces: grant.namespaces,
    });
  }

  private async revoke(grant: Grant, actor: AuditActor, reason: RevocationReason, note?: string): Promise<Grant> {
    const { audit, clock, entries, slots, store } = this.deps;
    if (grant.status === 'active') {
      const how = grant.via === 'relay' ? { via: 'relay' } : { slot: grant.slot.index };
      await audit.append(
        grantEvent(grant, 'grant.revoked', actor, { reason, note, ...how, expiresAt: grant.expiresAt }),
      );
    }
    // For a relay grant, this mark is the revocation: the relay reads the grant's status within seconds.
    const marked = await store.markGrantRevoked(grant.id, clock.now().toISOString(), actor.id, note ?? reason);
    if (grant.via === 'direct') {
      // Deleting the access entry is what stops every token of the grant at once; it runs even on a repeat.
      await entries.delete({ cluster: grant.cluster, roleArn: grant.slot.roleArn });
      await slots.release(grant.slot, grant.id);
    }
    const request = await store.getRequest(grant.requestId);
    if (request && request.status === 'granted') {
      await store.putRequest({
        ...request,
        status: reason === 'expired' ? 'expired' : 'revoked',
        updatedAt: clock.now().toISOString(),
      });
    }
    return marked?.grant ?? { ...grant, status: 'revoked' };
  }

  private async mintToken(grant: Grant, principal: Principal): Promise<ExecCredential> {
    if (grant.via === 'relay') return this.issueRelayToken(grant, principal);
    const credential = await this.deps.minter.mint({ grant, principal });
    // kubectl asks again at expiry; a credential never claims to outlive its grant.
    const expiration = new Date(
      Math.min(Date.parse(credential.status.expirationTimestamp), Date.parse(grant.expiresAt)),
    ).toISOString();
    const bounded: ExecCredential = {
      ...credential,
      status: { ...credential.status, expirationTimestamp: expiration },
    };
    await this.deps.audit.append(
      grantEvent(grant, 'token.issued', actorOf(principal), {
        fingerprint: fingerprint(bounded.status.token),
        expiresAt: expiration,
        sessionName: grant.sessionName,
      }),
    );
    return bounded;
  }

  /** A relay credential for a relay grant, as an ExecCredential: kubectl sends it to the relay as its bearer token. */
  private async issueRelayToken(grant: RelayGrant, principal: Principal): Promise<ExecCredential> {
    const signer = this.deps.relaySigner;
    if (!signer) throw new NotAvailableError('relay credentials are not available in this deployment');
    let issued;
    try {
      issued = await issueRelayCredential(
        signer,
        {
          id: `rc_${this.deps.ids.next()}`,
          grantId: grant.id,
          principalId: grant.principal.id,
          cluster: grant.cluster,
          namespaces: grant.namespaces,
          access: grant.access,
          groups: grant.groups,
          username: grant.username,
          grantExpiresAt: new Date(grant.expiresAt),
          ttlSeconds: this.deps.config.relay.credentialTtlSeconds,
        },
        this.deps.clock,
      );
    } catch (error) {
      // The grant ended between the check and the signing: the same answer as an ended grant.
      if (error instanceof RelayCredentialError) throw new GrantNotActiveError(`no token: ${error.message}`);
      throw error;
    }
    const expiresAt = issued.expiresAt.toISOString();
    await this.deps.audit.append(
      grantEvent(grant, 'token.issued', actorOf(principal), {
        fingerprint: issued.fingerprint,
        expiresAt,
        sessionName: grant.sessionName,
        via: 'relay',
      }),
    );
    return {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {},
      status: { token: issued.token, expirationTimestamp: expiresAt },
    };
  }

  private decide(principal: Principal, input: AccessRequestInput): AccessDecision {
    try {
      return this.deps.policy.decideAccess(principal, input);
    } catch (error) {
      // A policy engine failure is a denial, never a pass.
      return {
        effect: 'forbid',
        policies: [],
        approvalGroups: [],
        reason: `policy evaluation failed: ${errorName(error)}`,
      };
    }
  }

  private checkAgainstConfig(
    input: AccessRequestInput,
  ): { kind: 'unprocessable' | 'unavailable'; message: string } | undefined {
    const cluster = this.deps.config.clusters.find((candidate) => candidate.name === input.cluster);
    if (!cluster) return { kind: 'unprocessable', message: `unknown cluster "${input.cluster}"` };
    if (!(input.access in cluster.accessLevels)) {
      const levels = Object.keys(cluster.accessLevels).join(', ');
      return {
        kind: 'unprocessable',
        message: `cluster ${cluster.name} has no access level "${input.access}" (has ${levels})`,
      };
    }
    if (input.durationSeconds > cluster.maxDurationSeconds) {
      return {
        kind: 'unprocessable',
        message: `durationSeconds ${input.durationSeconds} is above cluster ${cluster.name}'s maximum of ${cluster.maxDurationSeconds}`,
      };
    }
    if (input.via === 'relay' && !this.deps.relaySigner) {
      return {
        kind: 'unavailable',
        message: 'relay access is not available in this deployment (no relay is configured); use via "direct"',
      };
    }
    return undefined;
  }

  private async requireRequest(id: string): Promise<AccessRequest> {
    const request = await this.deps.store.getRequest(id);
    if (!request) throw new NotFoundError(`access request ${id} does not exist`);
    return request;
  }

  private cluster(name: string): ClusterConfig {
    const cluster = this.deps.config.clusters.find((candidate) => candidate.name === name);
    if (!cluster) throw new UnprocessableRequestError(`unknown cluster "${name}"`);
    return cluster;
  }

  private isActive(grant: Grant): boolean {
    return grant.status === 'active' && Date.parse(grant.expiresAt) > this.deps.clock.now().getTime();
  }

  private grantState(grant: Grant): string {
    return grant.status === 'revoked' ? 'revoked' : 'expired';
  }

  private isAdmin(principal: Principal): boolean {
    return isMemberOf(principal, this.deps.config.admins);
  }
}

/** An event in a request's chain (`request/<id>`). */
function requestEvent(
  request: Pick<AccessRequest, 'id' | 'cluster' | 'namespaces'>,
  type: AuditEventType,
  actor: AuditActor,
  details: Record<string, unknown>,
): AuditEventInput {
  const subject = { cluster: request.cluster, namespaces: request.namespaces };
  return { type, stream: `request/${request.id}`, actor, subject, requestId: request.id, details };
}

/** An event in a grant's chain (`grant/<id>`). */
function grantEvent(
  grant: Pick<Grant, 'id' | 'requestId' | 'cluster' | 'namespaces'>,
  type: AuditEventType,
  actor: AuditActor,
  details: Record<string, unknown>,
): AuditEventInput {
  const subject = { cluster: grant.cluster, namespaces: grant.namespaces };
  return { type, stream: `grant/${grant.id}`, actor, subject, requestId: grant.requestId, grantId: grant.id, details };
}

function actorOf(principal: Principal): AuditActor {
  const ci = principal.ci
    ? Object.fromEntries(Object.entries(principal.ci).filter((entry): entry is [string, string] => !!entry[1]))
    : undefined;
  return { id: principal.id, issuer: principal.issuer, groups: principal.groups, ...(ci ? { ci } : {}) };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}
