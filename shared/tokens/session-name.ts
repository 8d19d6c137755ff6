/**
 * Names for a grant's STS session, derived from who asked and the grant id: RoleSessionName and SourceIdentity
 * (CloudTrail shows both, so they are readable) and session tags. Deterministic, so a retried mint gets the same
 * names; always carrying the grant id, so two grants never share a name.
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../model.ts';

/** RoleSessionName and SourceIdentity charset (STS AssumeRole API reference): `[\w+=,.@-]`, 2–64 characters. */
export const STS_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;
/** Session tag keys and values (STS Tag API reference): letters, separators, numbers and `_.:/=+-@`. */
export const STS_TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const STS_TAG_KEY_MAX = 128;
export const STS_TAG_VALUE_MAX = 256;
const STS_NAME_MAX = 64;
/** The longest grant id used verbatim; longer or odd ones are replaced by a digest so the name stays bounded. */
const GRANT_ID_VERBATIM_MAX = 32;

export const SESSION_TAG_KEYS = {
  grantId: 'gatehouse:grant-id',
  cluster: 'gatehouse:cluster',
  subject: 'gatehouse:subject',
} as const;

export interface SessionTag {
  key: string;
  value: string;
}

export interface SessionIdentity {
  /** STS RoleSessionName: `<issuer>-<repository or subject>-<grant id>`. */
  roleSessionName: string;
  /** STS SourceIdentity: `<issuer>-<subject>-<grant id>`; it stays with the session through role chaining. */
  sourceIdentity: string;
}

/** A grant id that cannot name a session (empty). */
export class SessionNameError extends Error {
  override name = 'SessionNameError';
}

/** True when `value` is a valid RoleSessionName. */
export function isValidRoleSessionName(value: string): boolean {
  return STS_NAME_PATTERN.test(value);
}

/** True when `value` is a valid SourceIdentity: the RoleSessionName rules, and no reserved `aws:` prefix. */
export function isValidSourceIdentity(value: string): boolean {
  return STS_NAME_PATTERN.test(value) && !value.toLowerCase().startsWith('aws:');
}

/** Derives the RoleSessionName and SourceIdentity for a grant. */
export function sessionIdentity(principal: Principal, grantId: string): SessionIdentity {
  const grantPart = grantIdPart(grantId);
  const issuer = issuerLabel(principal);
  const repository = principal.ci?.repository;
  return {
    roleSessionName: compose(issuer, repository && repository.length > 0 ? repository : principal.subject, grantPart),
    sourceIdentity: compose(issuer, principal.subject, grantPart),
  };
}

/** The RoleSessionName alone; the grant's `sessionName` and its access entry username (`gatehouse:<name>`) use it. */
export function roleSessionName(principal: Principal, grantId: string): string {
  return sessionIdentity(principal, grantId).roleSessionName;
}

/** The grant's session name (an alias of {@link roleSessionName}, the name the grant use case imports). */
export const deriveSessionName = roleSessionName;

/** Session tags for AssumeRole: grant id, cluster and the principal's id, made to fit STS's tag rules. */
export function sessionTags(input: { principal: Principal; grantId: string; cluster: string }): SessionTag[] {
  if (input.grantId.length === 0) throw new SessionNameError('grant id must not be empty');
  return [
    { key: SESSION_TAG_KEYS.grantId, value: tagValue(input.grantId) },
    { key: SESSION_TAG_KEYS.cluster, value: tagValue(input.cluster) },
    { key: SESSION_TAG_KEYS.subject, value: tagValue(input.principal.id) },
  ];
}

function compose(issuer: string, readable: string, grantPart: string): string {
  const room = STS_NAME_MAX - issuer.length - grantPart.length - 2;
  const middle = nameSafe(readable)
    .slice(0, Math.max(0, room))
    .replace(/[-.]+$/, '');
  return middle.length > 0 ? `${issuer}-${middle}-${grantPart}` : `${issuer}-${grantPart}`;
}

function issuerLabel(principal: Principal): string {
  if (principal.ci?.provider === 'github-actions') return 'gh';
  if (principal.ci?.provider === 'gitlab') return 'gl';
  const label = nameSafe(principal.issuerName)
    .slice(0, 12)
    .replace(/[-.]+$/, '');
  return label.length > 0 ? label : 'oidc';
}

/** The grant id itself when short and plain (ULIDs are), else a 24-hex-digit SHA-256 prefix of it. */
function grantIdPart(grantId: string): string {
  if (grantId.length === 0) throw new SessionNameError('grant id must not be empty');
  if (grantId.length <= GRANT_ID_VERBATIM_MAX && /^[A-Za-z0-9]+$/.test(grantId)) return grantId;
  return `g${sha256Hex(grantId).slice(0, 24)}`;
}

/**
 * Maps any text to `[\w+=,.@-]`: accents folded (é → e), path and claim separators (`/`, `:`) to `.`, anything else to
 * `-`, runs collapsed, and no leading or trailing separator.
 */
function nameSafe(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[/:]/g, '.')
    .replace(/[^\w+=,.@-]/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[-.]+|[-.]+$/g, '');
}

/**
 * Maps text into STS's tag charset (unknown characters become `_`) within 256 UTF-16 units; when it has to be cut,
 * a SHA-256 prefix of the whole text keeps distinct long values distinct.
 */
function tagValue(text: string): string {
  const safe = Array.from(text.normalize('NFC'), (ch) => (STS_TAG_PATTERN.test(ch) ? ch : '_')).join('');
  if (safe.length <= STS_TAG_VALUE_MAX) return safe;
  const suffix = `/sha256:${sha256Hex(text).slice(0, 16)}`;
  return truncateCodePoints(safe, STS_TAG_VALUE_MAX - suffix.length) + suffix;
}

function truncateCodePoints(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max) break;
    out += ch;
  }
  return out;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
