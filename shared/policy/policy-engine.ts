/**
 * The Cedar policy engine for access requests (DESIGN.md sections 2.1 and 7).
 *
 * Policies are parsed and validated against the Gatehouse schema (strict mode) once, at load; decisions then run on the
 * set cedar-wasm keeps preparsed, one Cedar request per namespace asked for. Pure: the caller reads the policy files and
 * passes their text.
 */
import { createHash } from 'node:crypto';
import {
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  statefulIsAuthorized,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { Context, DetailedError, EntityJson, TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
import type { AccessRequestInput, Principal } from '../model.ts';
import {
  CEDAR_TYPES,
  GATEHOUSE_CEDAR_SCHEMA,
  KUBERNETES_REQUEST_ACTION,
  REQUEST_ACCESS_ACTION,
  loadGatehouseSchema,
} from './schema.ts';

/** One Cedar policy file, as the caller read it. `name` appears in policy ids and error messages. */
export interface PolicyFile {
  name: string;
  text: string;
}

export interface LoadPolicyEngineProps {
  files: PolicyFile[];
}

/** One problem found while loading policies; `line` and `column` are 1-based, present when Cedar gives a location. */
export interface PolicyLoadIssue {
  file: string;
  line?: number;
  column?: number;
  policyId?: string;
  message: string;
}

/** The policy files do not parse, do not validate against the schema, or break a Gatehouse rule (ids, annotations). */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(readonly issues: PolicyLoadIssue[]) {
    super(
      `Cedar policies refused (${issues.length} ${issues.length === 1 ? 'error' : 'errors'}):\n` +
        issues.map((issue) => `  ${formatIssue(issue)}`).join('\n'),
    );
  }
}

export type AccessEffect = 'permit' | 'forbid' | 'approval';

export interface AccessDecision {
  /** `permit`: grant now; `approval`: permitted once `approvalGroups` approve; `forbid`: denied. */
  effect: AccessEffect;
  /** Ids of the policies that determined the effect: the satisfied permits, or the satisfied forbids / errored policies. */
  policies: string[];
  /** The `@approval("group")` groups of the determining permits; empty unless `effect` is `approval`. */
  approvalGroups: string[];
  /**
   * A sentence for the requester and the audit trail: namespaces, policy ids, approver groups, and (on a Cedar error)
   * Cedar's message cut to 200 characters. It never quotes the request's purpose or ticket.
   */
  reason: string;
}

export interface PolicyEngine {
  /** Short SHA-256 of the policy files' names and text, for `/healthz` and audit events. */
  readonly version: string;
  /** Every policy's id, in file order. */
  readonly policyIds: readonly string[];
  /**
   * Cedar validator warnings (strings with mixed scripts or BIDI control characters, impossible policies); loading
   * succeeds with them, and the caller should log them.
   */
  readonly warnings: readonly PolicyLoadIssue[];
  /**
   * Decides an access request: every namespace must be permitted. A forbid, a namespace no policy permits, or a Cedar
   * error for any namespace forbids the whole request (fail closed). A permit determined by any policy annotated
   * `@approval("group")`, for any namespace, needs that group's approval (the stricter outcome wins).
   */
  decideAccess(principal: Principal, request: AccessRequestInput): AccessDecision;
  /**
   * Decides one Kubernetes request through the relay (a guardrail), already inside its grant's scope: a forbid or a
   * Cedar error denies it (fail closed); a request that needs an explicit permit (`needsPermit`: attach, port-forward,
   * proxy) is denied unless one applies; anything else is allowed.
   */
  decideKubernetesRequest(principal: Principal, request: KubernetesRequestInput): GuardrailDecision;
}

/** One Kubernetes request as the guardrails see it (DESIGN.md section 4, request parsing). */
export interface KubernetesRequestInput {
  cluster: string;
  /** `''` when cluster-scoped. */
  namespace: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  name: string;
  path: string;
  verb: string;
  access: string;
  grantId: string;
  ticket: string;
  labelSelector: string;
  fieldSelector: string;
  /** The target pod's labels (exec, attach, port-forward); empty otherwise. */
  labels: Readonly<Record<string, string>>;
  needsPermit: boolean;
}

export interface GuardrailDecision {
  allowed: boolean;
  /** The policies that decided: the forbids that denied, the permits that allowed, the policies that errored. */
  policies: string[];
  /** A sentence for the agent (in a Kubernetes Status) and the audit trail; never a label value or selector. */
  reason: string;
}

/** The annotation that names a policy; without it a policy's id is `<file name>#<index>`, the index 0-based. */
export const POLICY_ID_ANNOTATION = 'id';
/** The annotation on a permit policy that makes the access it grants wait for the named approver group. */
export const APPROVAL_ANNOTATION = 'approval';

const MAX_ERROR_DETAIL = 200;

interface LoadedPolicy {
  id: string;
  text: string;
  approvalGroup?: string;
}

/**
 * Parses and validates the policy files against the Gatehouse schema (strict) and returns an engine for decisions.
 * Throws PolicyLoadError listing every problem of every file, with its file name and line/column where Cedar gives one.
 */
export function loadPolicyEngine(props: LoadPolicyEngineProps): PolicyEngine {
  const schemaName = loadGatehouseSchema();
  const issues: PolicyLoadIssue[] = [];
  const warnings: PolicyLoadIssue[] = [];
  const policies: LoadedPolicy[] = [];
  const seenIds = new Map<string, string>();

  for (const file of props.files) {
    const parts = policySetTextToParts(file.text);
    if (parts.type === 'failure') {
      issues.push(...parts.errors.flatMap((error) => issuesFromCedar(file, error)));
      continue;
    }
    if (parts.policy_templates.length > 0) {
      // Slots are filled by template links, which Gatehouse does not make: a template would silently never apply.
      for (const template of parts.policy_templates) {
        const at = file.text.indexOf(template);
        issues.push({
          file: file.name,
          ...(at >= 0 ? locate(file.text, byteLength(file.text.slice(0, at))) : {}),
          message: 'policy templates (policies with ?principal or ?resource slots) are not supported',
        });
      }
      continue;
    }

    // Cedar names the policies of a text policy0, policy1, … in order; validation errors are reported with those ids.
    const cedarIdToOurs = new Map<string, string>();
    let searchFrom = 0;
    parts.policies.forEach((text, index) => {
      const at = file.text.indexOf(text, searchFrom);
      if (at >= 0) searchFrom = at + text.length;
      const where = at >= 0 ? locate(file.text, byteLength(file.text.slice(0, at))) : {};
      const policy = readAnnotations(file, text, index, where, issues);
      if (!policy) return;
      const firstFile = seenIds.get(policy.id);
      if (firstFile !== undefined) {
        issues.push({
          file: file.name,
          ...where,
          policyId: policy.id,
          message: `duplicate policy id "${policy.id}" (first used in ${firstFile})`,
        });
        return;
      }
      seenIds.set(policy.id, file.name);
      cedarIdToOurs.set(`policy${index}`, policy.id);
      if (policy.valid) policies.push(policy);
    });

    const validation = validate({
      schema: GATEHOUSE_CEDAR_SCHEMA,
      policies: { staticPolicies: file.text },
      validationSettings: { mode: 'strict' },
    });
    if (validation.type === 'failure') {
      issues.push(...validation.errors.flatMap((error) => issuesFromCedar(file, error)));
      continue;
    }
    for (const { policyId, error } of validation.validationErrors) {
      issues.push(...issuesFromCedar(file, error, cedarIdToOurs.get(policyId) ?? policyId));
    }
    for (const { policyId, error } of validation.validationWarnings) {
      warnings.push(...issuesFromCedar(file, error, cedarIdToOurs.get(policyId) ?? policyId));
    }
  }

  if (issues.length > 0) throw new PolicyLoadError(sortByFileAndPosition(issues, props.files));

  const digest = createHash('sha256');
  for (const file of props.files) {
    digest.update(`${byteLength(file.name)}:${file.name}${byteLength(file.text)}:${file.text}`);
  }
  const hash = digest.digest('hex');

  // The id names the content, so reloading the same files reuses cedar-wasm's cached set instead of adding another.
  const policySetId = `gatehouse-access-${hash}`;
  const staticPolicies = Object.fromEntries(policies.map((policy) => [policy.id, policy.text]));
  const preparsed = preparsePolicySet(policySetId, { staticPolicies });
  if (preparsed.type === 'failure') {
    throw new PolicyLoadError(
      preparsed.errors.map((error) => ({ file: props.files.map((f) => f.name).join(', '), message: error.message })),
    );
  }

  return new CedarPolicyEngine(
    hash.slice(0, 12),
    policySetId,
    schemaName,
    policies,
    sortByFileAndPosition(warnings, props.files),
  );
}

class CedarPolicyEngine implements PolicyEngine {
  readonly policyIds: readonly string[];
  private readonly approvalGroupOf: ReadonlyMap<string, string | undefined>;
  private readonly positionOf: ReadonlyMap<string, number>;

  constructor(
    readonly version: string,
    private readonly policySetId: string,
    private readonly schemaName: string,
    policies: LoadedPolicy[],
    readonly warnings: readonly PolicyLoadIssue[],
  ) {
    this.policyIds = policies.map((policy) => policy.id);
    this.approvalGroupOf = new Map(policies.map((policy) => [policy.id, policy.approvalGroup]));
    this.positionOf = new Map(policies.map((policy, index) => [policy.id, index]));
  }

  decideAccess(principal: Principal, request: AccessRequestInput): AccessDecision {
    const namespaces = [...new Set(request.namespaces)];
    if (namespaces.length === 0) {
      return { effect: 'forbid', policies: [], approvalGroups: [], reason: 'no namespaces were requested' };
    }
    if (!Number.isSafeInteger(request.durationSeconds)) {
      // Cedar's Long is a 64-bit integer; a fraction or an unsafe number would fail inside Cedar with a vaguer message.
      return {
        effect: 'forbid',
        policies: [],
        approvalGroups: [],
        reason: 'durationSeconds must be a whole number of seconds',
      };
    }
    const principalEntities = principalToEntities(principal);
    const principalUid: TypeAndId = { type: CEDAR_TYPES.principal, id: principal.id };
    const context: Context = {
      access: request.access,
      durationSeconds: request.durationSeconds,
      purpose: request.purpose,
      ticket: request.ticket ?? '',
      hasTicket: (request.ticket ?? '') !== '',
      via: request.via,
    };
    const clusterUid: TypeAndId = { type: CEDAR_TYPES.cluster, id: request.cluster };
    const clusterEntity: EntityJson = { uid: clusterUid, attrs: {}, parents: [] };

    const permits: string[] = [];
    const denials: string[] = [];
    const denyingPolicies: string[] = [];
    for (const namespace of namespaces) {
      const label = `${request.cluster}/${namespace}`;
      const resourceUid: TypeAndId = { type: CEDAR_TYPES.namespace, id: label };
      const outcome = this.evaluate({
        principal: principalUid,
        action: { type: CEDAR_TYPES.action, id: REQUEST_ACCESS_ACTION },
        resource: resourceUid,
        context,
        entities: [
          ...principalEntities,
          { uid: resourceUid, attrs: { name: namespace, cluster: request.cluster }, parents: [clusterUid] },
          clusterEntity,
        ],
      });
      switch (outcome.kind) {
        case 'permit':
          permits.push(...outcome.policies);
          break;
        case 'forbid':
          denyingPolicies.push(...outcome.policies);
          denials.push(`namespace ${label} is forbidden by ${listPolicies(outcome.policies)}`);
          break;
        case 'no-permit':
          denials.push(`no policy permits ${request.access} access to namespace ${label}`);
          break;
        case 'error':
          denyingPolicies.push(...outcome.policies);
          denials.push(`policy evaluation failed for namespace ${label}: ${outcome.detail}`);
          break;
      }
    }

    if (denials.length > 0) {
      return { effect: 'forbid', policies: unique(denyingPolicies), approvalGroups: [], reason: denials.join('; ') };
    }
    const determining = unique(permits);
    const approvalGroups = unique(
      determining.map((id) => this.approvalGroupOf.get(id)).filter((group) => group !== undefined),
    );
    if (approvalGroups.length > 0) {
      const needing = determining.filter((id) => this.approvalGroupOf.get(id) !== undefined);
      return {
        effect: 'approval',
        policies: determining,
        approvalGroups,
        reason: `permitted once approved by ${approvalGroups.join(', ')} (${listPolicies(needing)})`,
      };
    }
    return {
      effect: 'permit',
      policies: determining,
      approvalGroups: [],
      reason: `permitted by ${listPolicies(determining)}`,
    };
  }

  decideKubernetesRequest(principal: Principal, request: KubernetesRequestInput): GuardrailDecision {
    const clusterUid: TypeAndId = { type: CEDAR_TYPES.cluster, id: request.cluster };
    const namespaceUid: TypeAndId = { type: CEDAR_TYPES.namespace, id: `${request.cluster}/${request.namespace}` };
    const resourceUid: TypeAndId = { type: CEDAR_TYPES.kubernetesObject, id: request.path };
    const scope: EntityJson[] = request.namespace
      ? [
          { uid: namespaceUid, attrs: { name: request.namespace, cluster: request.cluster }, parents: [clusterUid] },
          { uid: clusterUid, attrs: {}, parents: [] },
        ]
      : [{ uid: clusterUid, attrs: {}, parents: [] }];
    const outcome = this.evaluate({
      principal: { type: CEDAR_TYPES.principal, id: principal.id },
      action: { type: CEDAR_TYPES.action, id: KUBERNETES_REQUEST_ACTION },
      resource: resourceUid,
      context: {
        verb: request.verb,
        access: request.access,
        grantId: request.grantId,
        ticket: request.ticket,
        hasTicket: request.ticket !== '',
        labelSelector: request.labelSelector,
        fieldSelector: request.fieldSelector,
      },
      entities: [
        ...principalToEntities(principal),
        {
          uid: resourceUid,
          attrs: {
            cluster: request.cluster,
            namespace: request.namespace,
            apiGroup: request.apiGroup,
            resource: request.resource,
            subresource: request.subresource,
            name: request.name,
            path: request.path,
          },
          parents: [request.namespace ? namespaceUid : clusterUid],
          tags: { ...request.labels },
        },
        ...scope,
      ],
    });
    const what = describeKubernetesRequest(request);
    switch (outcome.kind) {
      case 'permit':
        return {
          allowed: true,
          policies: outcome.policies,
          reason: `${what} permitted by ${listPolicies(outcome.policies)}`,
        };
      case 'forbid':
        return {
          allowed: false,
          policies: outcome.policies,
          reason: `${what} is forbidden by ${listPolicies(outcome.policies)}`,
        };
      case 'error':
        return {
          allowed: false,
          policies: outcome.policies,
          reason: `policy evaluation failed for ${what}: ${outcome.detail}`,
        };
      case 'no-permit':
        return request.needsPermit
          ? { allowed: false, policies: [], reason: `${what} needs a policy that permits it, and none does` }
          : { allowed: true, policies: [], reason: `${what} is inside the grant and no guardrail forbids it` };
    }
  }

  private inFileOrder(ids: string[]): string[] {
    return [...ids].sort((a, b) => (this.positionOf.get(a) ?? 0) - (this.positionOf.get(b) ?? 0));
  }

  private evaluate(call: {
    principal: TypeAndId;
    action: TypeAndId;
    resource: TypeAndId;
    context: Context;
    entities: EntityJson[];
  }): NamespaceOutcome {
    let answer: ReturnType<typeof statefulIsAuthorized>;
    try {
      answer = statefulIsAuthorized({
        ...call,
        preparsedSchemaName: this.schemaName,
        preparsedPolicySetId: this.policySetId,
        validateRequest: true,
      });
    } catch (error) {
      // Fail closed (DESIGN.md section 7): an engine fault is a denial, never a pass.
      return { kind: 'error', policies: [], detail: truncate(error instanceof Error ? error.message : String(error)) };
    }
    if (answer.type === 'failure') {
      return { kind: 'error', policies: [], detail: truncate(answer.errors.map((e) => e.message).join('; ')) };
    }
    const { decision } = answer.response;
    const diagnostics = {
      // Cedar reports policy ids as a set, in no fixed order; file order keeps decisions and audit events reproducible.
      reason: this.inFileOrder(answer.response.diagnostics.reason),
      errors: answer.response.diagnostics.errors,
    };
    // Cedar skips a policy whose evaluation errors, so an erroring forbid would otherwise let the request through.
    if (diagnostics.errors.length > 0) {
      return {
        kind: 'error',
        policies: this.inFileOrder(diagnostics.errors.map((e) => e.policyId)),
        detail: truncate(diagnostics.errors.map((e) => `policy ${e.policyId}: ${e.error.message}`).join('; ')),
      };
    }
    if (decision === 'allow') return { kind: 'permit', policies: diagnostics.reason };
    if (diagnostics.reason.length > 0) return { kind: 'forbid', policies: diagnostics.reason };
    return { kind: 'no-permit' };
  }
}

type NamespaceOutcome =
  | { kind: 'permit'; policies: string[] }
  | { kind: 'forbid'; policies: string[] }
  | { kind: 'no-permit' }
  | { kind: 'error'; policies: string[]; detail: string };

/** `get secrets/db in namespace claims` — names, never selectors or label values. */
function describeKubernetesRequest(request: KubernetesRequestInput): string {
  if (!request.resource) return `${request.verb} ${request.path}`;
  const resource = [request.resource, request.name, request.subresource].filter(Boolean).join('/');
  const group = request.apiGroup ? `.${request.apiGroup}` : '';
  return `${request.verb} ${resource}${group}${request.namespace ? ` in namespace ${request.namespace}` : ''}`;
}

function principalToEntities(principal: Principal): EntityJson[] {
  const groups = unique(principal.groups);
  const ci: Record<string, string> = {};
  if (principal.ci) {
    for (const [key, value] of Object.entries(principal.ci)) {
      if (typeof value === 'string') ci[key] = value;
    }
  }
  const attrs: Record<string, string | Record<string, string>> = {
    subject: principal.subject,
    issuer: principal.issuer,
    issuerName: principal.issuerName,
    ci,
  };
  if (principal.email !== undefined) attrs.email = principal.email;
  return [
    {
      uid: { type: CEDAR_TYPES.principal, id: principal.id },
      attrs,
      parents: groups.map((group) => ({ type: CEDAR_TYPES.group, id: group })),
    },
    ...groups.map((group) => ({ uid: { type: CEDAR_TYPES.group, id: group }, attrs: {}, parents: [] })),
  ];
}

/** Reads a policy's `@id` and `@approval` annotations, recording any misuse as an issue. */
function readAnnotations(
  file: PolicyFile,
  text: string,
  index: number,
  where: { line?: number; column?: number },
  issues: PolicyLoadIssue[],
): (LoadedPolicy & { valid: boolean }) | undefined {
  const json = policyToJson(text);
  // A policy that does not convert also fails validation, which reports it with its location.
  if (json.type === 'failure') return undefined;
  const annotations = json.json.annotations ?? {};
  const id = annotations[POLICY_ID_ANNOTATION];
  const approval = annotations[APPROVAL_ANNOTATION];
  const policyId = id ?? `${file.name}#${index}`;
  let valid = true;
  if (id !== undefined && id.trim() === '') {
    issues.push({ file: file.name, ...where, message: `policy #${index}: @id must not be empty` });
    valid = false;
  }
  if (approval !== undefined) {
    if (json.json.effect !== 'permit') {
      issues.push({ file: file.name, ...where, policyId, message: '@approval applies only to permit policies' });
      valid = false;
    } else if (approval.trim() === '') {
      issues.push({ file: file.name, ...where, policyId, message: '@approval must name an approver group' });
      valid = false;
    }
  }
  return approval === undefined || !valid
    ? { id: policyId, text, valid }
    : { id: policyId, text, valid, approvalGroup: approval.trim() };
}

/** Flattens a Cedar error and its related errors into issues, each with the first source location it carries. */
function issuesFromCedar(file: PolicyFile, error: DetailedError, policyId?: string): PolicyLoadIssue[] {
  const location = error.sourceLocations?.[0];
  const label = location?.label ? ` (${location.label})` : '';
  const help = error.help ? `; ${error.help}` : '';
  const message = error.message
    .replace(/^failed to parse policies from string: /, '')
    .replace(/^for policy `[^`]*`, /, '');
  const issue: PolicyLoadIssue = {
    file: file.name,
    ...(location ? locate(file.text, location.start) : {}),
    ...(policyId !== undefined ? { policyId } : {}),
    message: `${message}${label}${help}`,
  };
  return [issue, ...(error.related ?? []).flatMap((related) => issuesFromCedar(file, related, policyId))];
}

/** Turns a Cedar source offset (a UTF-8 byte offset into the text) into a 1-based line and column (in characters). */
function locate(text: string, byteOffset: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  let bytes = 0;
  for (const char of text) {
    if (bytes >= byteOffset) break;
    bytes += byteLength(char);
    if (char === '\n') {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
  }
  return { line, column };
}

const encoder = new TextEncoder();

function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/** Orders issues as the files are listed, then by position, so the list reads top to bottom like the files. */
function sortByFileAndPosition(issues: PolicyLoadIssue[], files: PolicyFile[]): PolicyLoadIssue[] {
  const fileOrder = new Map(files.map((file, index) => [file.name, index]));
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        (fileOrder.get(a.issue.file) ?? 0) - (fileOrder.get(b.issue.file) ?? 0) ||
        (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.index - b.index,
    )
    .map(({ issue }) => issue);
}

function formatIssue(issue: PolicyLoadIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  const policy = issue.policyId !== undefined ? ` [${issue.policyId}]` : '';
  return `${where}${policy}: ${issue.message}`;
}

function listPolicies(ids: string[]): string {
  return ids.length === 1 ? `policy ${ids[0]}` : `policies ${ids.join(', ')}`;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_DETAIL ? `${text.slice(0, MAX_ERROR_DETAIL - 1)}…` : text;
}
