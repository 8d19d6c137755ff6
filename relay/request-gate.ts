/**
 * The relay's request path up to the decision to forward (issue 6, point 2), one small stage per concern:
 * authenticate → check the target → parse it as the apiserver does → the grant's scope → the guardrails. Each stage
 * either passes what the next needs or refuses with a Kubernetes Status and the reason the audit event records. The
 * HTTP handler and the WebSocket upgrade handler both go through it, so exec and attach meet the same checks.
 */
import type { IncomingMessage } from 'node:http';
import { parseRequestInfo, checkRequestTarget, type RequestInfo } from '#shared/k8s/request-info.ts';
import type { ClusterConfig } from '#shared/config/schema.ts';
import type { GuardrailDecision, KubernetesRequestInput, PolicyEngine } from '#shared/policy/policy-engine.ts';
import type { Principal } from '#shared/model.ts';
import { checkGrantScope } from '#shared/relay/grant-scope.ts';
import { failureStatus, type KubernetesStatus } from '#shared/relay/kubernetes-status.ts';
import type { CredentialVerifier, RelayCredentialIdentity } from './credentials.ts';
import type { ActiveGrant, GrantDirectory } from './grant-directory.ts';

/** A request the relay may forward, with everything the later stages and the audit event need. */
export interface AdmittedRequest {
  identity: RelayCredentialIdentity;
  active: ActiveGrant;
  info: RequestInfo;
  /** Path and query as authorized: forwarded byte for byte. */
  target: string;
  decision: GuardrailDecision;
  /** The client sent Impersonate-* headers, which the relay dropped. */
  strippedImpersonation: boolean;
}

/** A refusal: the Status for the client, and what the event records (identity and request when they were known). */
export interface Refusal {
  status: KubernetesStatus;
  stage: 'authenticate' | 'target' | 'parse' | 'scope' | 'guardrail' | 'upstream' | 'negotiate' | 'audit';
  identity?: RelayCredentialIdentity;
  active?: ActiveGrant;
  info?: RequestInfo;
  decision?: GuardrailDecision;
}

export type GateResult = { admitted: true; request: AdmittedRequest } | { admitted: false; refusal: Refusal };

export interface RequestGateDeps {
  cluster: ClusterConfig;
  credentials: CredentialVerifier;
  grants: GrantDirectory;
  policy: PolicyEngine;
  /** The labels of a pod, read upstream as the principal, for guardrails on exec, attach and port-forward. */
  podLabels(
    admitted: { identity: RelayCredentialIdentity; active: ActiveGrant },
    namespace: string,
    name: string,
  ): Promise<Record<string, string>>;
}

const POD_SESSION_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

/** Guardrail decisions remembered at most; the oldest are forgotten first. */
const REMEMBERED_DECISIONS = 10_000;

export class RequestGate {
  /**
   * Decisions by their whole input: Cedar is deterministic over it (no time, no randomness in the context) and the
   * policies are fixed for the process's life, so an agent's repeated request (a poll, a page, a retry) is decided once.
   */
  readonly #decisions = new Map<string, GuardrailDecision>();

  constructor(private readonly deps: RequestGateDeps) {}

  #decide(principal: Principal, input: KubernetesRequestInput): GuardrailDecision {
    const key = `${principal.id}\u0000${JSON.stringify(input)}`;
    let decision = this.#decisions.get(key);
    if (!decision) {
      decision = this.deps.policy.decideKubernetesRequest(principal, input);
      if (this.#decisions.size >= REMEMBERED_DECISIONS) this.#decisions.delete(this.#decisions.keys().next().value!);
      this.#decisions.set(key, decision);
    }
    return decision;
  }

  async admit(req: IncomingMessage): Promise<GateResult> {
    const refuse = (refusal: Refusal): GateResult => ({ admitted: false, refusal });

    const token = bearerToken(req.rawHeaders);
    if (!token.ok) return refuse({ stage: 'authenticate', status: failureStatus('Unauthorized', token.reason) });
    const checked = await this.deps.credentials.verify(token.value);
    if (!checked.ok) {
      return refuse({
        stage: 'authenticate',
        status: failureStatus('Unauthorized', `relay credential refused: ${checked.reason}`),
      });
    }
    const identity = checked.identity;
    if (identity.cluster !== this.deps.cluster.name) {
      // The verifier refuses other clusters' credentials already; this keeps the gate safe with any verifier.
      return refuse({
        stage: 'authenticate',
        identity,
        status: failureStatus(
          'Unauthorized',
          `the credential is for cluster ${identity.cluster}, this relay fronts ${this.deps.cluster.name}`,
        ),
      });
    }
    const lookup = await this.deps.grants.lookup(identity.grantId);
    if (!lookup.active)
      return refuse({ stage: 'authenticate', identity, status: failureStatus('Unauthorized', lookup.reason) });
    const active = lookup.value;
    if (active.grant.principal.id !== identity.principalId || active.grant.cluster !== identity.cluster) {
      return refuse({
        stage: 'authenticate',
        identity,
        status: failureStatus('Unauthorized', 'the credential does not match its grant'),
      });
    }

    const method = req.method ?? '';
    const rawUrl = req.url ?? '';
    const target = checkRequestTarget(rawUrl);
    if (!target.ok) {
      return refuse({
        stage: 'target',
        identity,
        active,
        status: failureStatus('BadRequest', `request path refused: ${target.reason}`),
      });
    }
    let info: RequestInfo;
    try {
      info = parseRequestInfo(method, rawUrl);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unparseable request';
      return refuse({ stage: 'parse', identity, active, status: failureStatus('BadRequest', reason) });
    }

    const scope = checkGrantScope(info, method, {
      namespaces: active.grant.namespaces,
      access: active.grant.access,
      accessPolicyArn: this.deps.cluster.accessLevels[active.grant.access] ?? '',
    });
    if (!scope.inScope)
      return refuse({ stage: 'scope', identity, active, info, status: failureStatus('Forbidden', scope.reason) });

    let labels: Record<string, string> = {};
    if (info.resource === 'pods' && POD_SESSION_SUBRESOURCES.has(info.subresource)) {
      try {
        labels = await this.deps.podLabels({ identity, active }, info.namespace, info.name);
      } catch {
        // Without the labels a label guardrail cannot be decided: refuse rather than decide without them.
        return refuse({
          stage: 'upstream',
          identity,
          active,
          info,
          status: failureStatus(
            'ServiceUnavailable',
            `the labels of pod ${info.namespace}/${info.name} could not be read for the guardrails`,
          ),
        });
      }
    }
    const decision = this.#decide(active.grant.principal, {
      cluster: this.deps.cluster.name,
      namespace: info.namespace,
      apiGroup: info.apiGroup,
      resource: info.resource,
      subresource: info.subresource,
      name: info.name,
      path: info.path,
      verb: info.verb,
      access: active.grant.access,
      grantId: active.grant.id,
      ticket: active.ticket,
      labelSelector: info.labelSelector,
      fieldSelector: info.fieldSelector,
      labels,
      needsPermit: scope.needsPermit,
    });
    if (!decision.allowed) {
      return refuse({
        stage: 'guardrail',
        identity,
        active,
        info,
        decision,
        status: failureStatus('Forbidden', decision.reason),
      });
    }
    const strippedImpersonation = req.rawHeaders.some((name, index) => index % 2 === 0 && /^impersonate-/i.test(name));
    return { admitted: true, request: { identity, active, info, target: rawUrl, decision, strippedImpersonation } };
  }
}

/**
 * The bearer token of the one `Authorization` header. Node keeps only the first of repeated Authorization headers, so
 * the raw headers are read: two of them are refused, never resolved either way.
 */
function bearerToken(rawHeaders: readonly string[]): { ok: true; value: string } | { ok: false; reason: string } {
  const values: string[] = [];
  for (let index = 0; index < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() === 'authorization') values.push(rawHeaders[index + 1] ?? '');
  }
  if (values.length === 0) return { ok: false, reason: 'a relay credential is required (Authorization: Bearer)' };
  if (values.length > 1) return { ok: false, reason: 'more than one Authorization header' };
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(values[0]!.trim());
  if (!match) return { ok: false, reason: 'the Authorization header is not a bearer token' };
  return { ok: true, value: match[1]! };
}
