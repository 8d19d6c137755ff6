/**
 * The Cedar schema every Gatehouse policy is validated against (strict mode), in Cedar's human-readable schema syntax.
 *
 * This constant is the one source of the schema: there is no `.cedarschema` file beside it, because the domain may not
 * read files (DESIGN.md section 3) and a second hand-kept copy would drift. To use the schema with the Cedar CLI or an
 * editor, print it: `npx tsx -e "import('./shared/policy/schema.ts').then(m => console.log(m.GATEHOUSE_CEDAR_SCHEMA))"`.
 */
import { checkParseSchema, preparseSchema } from '@cedar-policy/cedar-wasm/nodejs';

export const GATEHOUSE_CEDAR_SCHEMA = `// Gatehouse policy schema. Policies see the principal established from a verified OIDC token, the namespace asked
// for, and the request's details in the context.
namespace Gatehouse {
  // A group the principal belongs to, from the token's group claim (GitLab groups, IdP groups) or from config.
  entity Group;

  // Claims from a CI system. Every attribute is optional: test with \`has\` before use, e.g.
  // \`principal.ci has repository && principal.ci.repository == "acme/patient-portal"\`.
  type CiClaims = {
    provider?: String, // "github-actions" | "gitlab"
    repository?: String, // GitHub "owner/repo"; GitLab project path
    ref?: String, // e.g. "refs/heads/main"
    workflow?: String,
    environment?: String,
    runId?: String,
    actor?: String,
    pipelineId?: String,
    userLogin?: String,
  };

  // Who is asking. The entity id is the principal id, "<issuer name>:<subject>".
  entity Principal in [Group] {
    subject: String,
    issuer: String, // the issuer URL
    issuerName: String, // the issuer's name in gatehouse.config.yaml
    email?: String,
    ci: CiClaims, // an empty record when the token is not from a CI system
  };

  // A cluster by its name in gatehouse.config.yaml; every namespace is in its cluster.
  entity Cluster;

  // A namespace of a cluster; the entity id is "<cluster>/<namespace>".
  entity Namespace in [Cluster] {
    name: String,
    cluster: String,
  };

  // Asking for just-in-time access to one namespace (a request for several namespaces is one decision per namespace).
  action RequestAccess appliesTo {
    principal: Principal,
    resource: Namespace,
    context: {
      access: String, // an access level of the cluster, e.g. "view", "edit", "admin"
      durationSeconds: Long,
      purpose: String,
      ticket: String, // "" when none was given
      hasTicket: Bool,
      via: String, // "direct" | "relay"
    },
  };

  // What one Kubernetes API request through the relay names, as the apiserver resolves it (shared/k8s/request-info.ts).
  // For exec, attach and portforward the pod's labels are its tags: \`resource.hasTag("phi") && resource.getTag("phi") == "true"\`.
  entity KubernetesObject in [Namespace, Cluster] {
    cluster: String,
    namespace: String, // "" when cluster-scoped
    apiGroup: String, // "" for the core group
    resource: String, // "pods", "secrets", …; "" for non-resource paths such as /version
    subresource: String, // "exec", "log", "proxy", …; "" when none
    name: String, // "" for lists and creates
    path: String,
  } tags String;

  // A relay guardrail: one decision per Kubernetes request, after the relay has checked the grant's own scope
  // (namespaces and access level). A forbid denies it. Attach, port-forward and proxy are denied unless a permit
  // allows them; anything else inside the grant's scope is allowed unless forbidden.
  action KubernetesRequest appliesTo {
    principal: Principal,
    resource: KubernetesObject,
    context: {
      verb: String, // get, list, watch, create, update, patch, delete, deletecollection, proxy; the method for other paths
      access: String, // the grant's access level
      grantId: String,
      ticket: String, // the access request's ticket, "" when none
      hasTicket: Bool,
      labelSelector: String,
      fieldSelector: String,
    },
  };
}
`;

/** The name under which the schema is preparsed in cedar-wasm's cache, for `statefulIsAuthorized`. */
export const GATEHOUSE_SCHEMA_NAME = 'gatehouse';

/** The entity type and action names of the schema, so code never spells them twice. */
export const CEDAR_TYPES = {
  principal: 'Gatehouse::Principal',
  group: 'Gatehouse::Group',
  cluster: 'Gatehouse::Cluster',
  namespace: 'Gatehouse::Namespace',
  kubernetesObject: 'Gatehouse::KubernetesObject',
  action: 'Gatehouse::Action',
} as const;

export const REQUEST_ACCESS_ACTION = 'RequestAccess';
export const KUBERNETES_REQUEST_ACTION = 'KubernetesRequest';

/** Thrown when the built-in schema does not parse: a defect of Gatehouse itself, never of an operator's files. */
export class PolicySchemaError extends Error {
  override readonly name = 'PolicySchemaError';
}

let preparsed = false;

/**
 * Parses the schema and caches it in cedar-wasm (once per process or worker thread); returns its cache name.
 * Throws PolicySchemaError when the schema does not parse.
 */
export function loadGatehouseSchema(): string {
  if (preparsed) return GATEHOUSE_SCHEMA_NAME;
  const checked = checkParseSchema(GATEHOUSE_CEDAR_SCHEMA);
  if (checked.type === 'failure') {
    throw new PolicySchemaError(`Gatehouse Cedar schema: ${checked.errors.map((e) => e.message).join('; ')}`);
  }
  const cached = preparseSchema(GATEHOUSE_SCHEMA_NAME, GATEHOUSE_CEDAR_SCHEMA);
  if (cached.type === 'failure') {
    throw new PolicySchemaError(`Gatehouse Cedar schema: ${cached.errors.map((e) => e.message).join('; ')}`);
  }
  preparsed = true;
  return GATEHOUSE_SCHEMA_NAME;
}
