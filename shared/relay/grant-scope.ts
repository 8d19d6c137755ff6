/**
 * The first authorization stage of the relay: is the request inside what its grant allows at all — the granted
 * namespaces, and the verbs of the access level — before any guardrail looks at it. Kubernetes RBAC, through the groups
 * the relay impersonates, then decides again at the cluster: this stage only makes sure the relay never asks for more.
 */
import type { RequestInfo } from '../k8s/request-info.ts';

/** What the access levels' EKS access policies let a principal do, by the policy's name. */
const READ_VERBS = ['get', 'list', 'watch'];
const WRITE_VERBS = [...READ_VERBS, 'create', 'update', 'patch', 'delete', 'deletecollection'];
const VERBS_BY_POLICY: ReadonlyArray<[RegExp, readonly string[]]> = [
  [/ViewPolicy$/, READ_VERBS],
  [/(?:Edit|Admin|ClusterAdmin)Policy$/, WRITE_VERBS],
];

/** Discovery and OpenAPI documents kubectl reads before anything else; no other non-resource path is forwarded. */
const DISCOVERY_PATHS = [
  /^\/version$/,
  /^\/api(?:\/v1)?$/,
  /^\/apis(?:\/[^/]+(?:\/[^/]+)?)?$/,
  /^\/openapi\/v[23](?:\/.*)?$/,
];

/** Cluster-scoped requests a namespaced grant still needs: `kubectl auth can-i` and `auth whoami` ask about themselves. */
const SELF_REVIEWS = new Set([
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
  'authentication.k8s.io/selfsubjectreviews',
]);

const HAS_UPPER_CASE = /[A-Z]/;

/** Subresources that reach into a container or a network: only a guardrail policy may allow them. */
const PERMIT_ONLY_SUBRESOURCES = new Set(['attach', 'portforward', 'proxy']);

export interface ScopeGrant {
  namespaces: readonly string[];
  access: string;
  /** The access level's EKS access policy ARN (from the cluster's config). */
  accessPolicyArn: string;
}

export type ScopeCheck = { inScope: true; needsPermit: boolean } | { inScope: false; reason: string };

/** Decides whether `info` is inside `grant`; `needsPermit` marks requests only an explicit guardrail permit allows. */
export function checkGrantScope(info: RequestInfo, method: string, grant: ScopeGrant): ScopeCheck {
  if (!info.isResourceRequest) {
    const isRead = method === 'GET' || method === 'HEAD';
    if (isRead && DISCOVERY_PATHS.some((path) => path.test(info.path))) return { inScope: true, needsPermit: false };
    return { inScope: false, reason: `${info.path} is not a Kubernetes API resource path the relay forwards` };
  }
  if (info.verb === '') return { inScope: false, reason: `the method ${method} is not a Kubernetes API verb` };
  const resource = info.apiGroup ? `${info.apiGroup}/${info.resource}` : info.resource;
  // Groups, versions, resources and subresources are lowercase by definition (CRD plurals too). The apiserver's routes
  // would answer a `Secrets` with 404; the relay does not lean on that.
  if (HAS_UPPER_CASE.test(`${resource}/${info.subresource}/${info.apiVersion}`)) {
    return { inScope: false, reason: `${resource} is not a Kubernetes resource name (they are lower case)` };
  }
  if (!info.namespace) {
    if (SELF_REVIEWS.has(resource) && info.verb === 'create') return { inScope: true, needsPermit: false };
    return {
      inScope: false,
      reason: `${info.verb} on cluster-scoped ${resource || 'resources'} is outside the grant (namespaces ${grant.namespaces.join(', ')})`,
    };
  }
  if (!grant.namespaces.includes(info.namespace)) {
    return {
      inScope: false,
      reason: `namespace ${info.namespace} is outside the grant (namespaces ${grant.namespaces.join(', ')})`,
    };
  }
  const verbs = VERBS_BY_POLICY.find(([pattern]) => pattern.test(grant.accessPolicyArn))?.[1] ?? READ_VERBS;
  if (info.subresource === 'exec' && info.resource === 'pods') {
    return verbs.includes('create')
      ? { inScope: true, needsPermit: false }
      : { inScope: false, reason: `exec needs an access level that may change pods; the grant has ${grant.access}` };
  }
  const needsPermit = info.verb === 'proxy' || PERMIT_ONLY_SUBRESOURCES.has(info.subresource);
  if (needsPermit) return { inScope: true, needsPermit };
  if (!verbs.includes(info.verb)) {
    return { inScope: false, reason: `${info.verb} is not allowed by access level ${grant.access}` };
  }
  return { inScope: true, needsPermit: false };
}
