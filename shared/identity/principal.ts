/**
 * Maps a verified token's claims to the domain's Principal. Pure: the claims were verified before they reach here.
 * Every value is type-checked and length-bounded; a claim of the wrong type is ignored rather than trusted or crashed on.
 */
import type { IssuerConfig } from '../config/schema.ts';
import type { CiClaims, Principal } from '../model.ts';
import { AuthenticationError } from './errors.ts';

/** Longest subject accepted. GitHub's `repo:org/repo:environment:name` subjects stay well under this. */
export const MAX_SUBJECT_LENGTH = 256;
/** Longest single claim value (group, repository, ref, ...) kept. Longer values are dropped, not truncated. */
export const MAX_CLAIM_VALUE_LENGTH = 256;
/** RFC 5321 bounds a mailbox at 254 characters in practice; 320 is the commonly quoted upper limit. */
export const MAX_EMAIL_LENGTH = 320;
/** Most groups kept from one token; the rest are ignored, so a token cannot make policy evaluation expensive. */
export const MAX_GROUPS = 100;

export type Claims = Readonly<Record<string, unknown>>;

/**
 * Control characters (C0, DEL, C1) and the Unicode line and paragraph separators would let a claim forge lines in logs
 * and audit records; a value containing any is ignored.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function boundedString(value: unknown, maxLength = MAX_CLAIM_VALUE_LENGTH): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Kept exactly as sent (no trimming): two subjects that differ only in spaces must stay two principals.
  if (value.trim().length === 0 || value.length > maxLength || UNSAFE_CHARACTERS.test(value)) return undefined;
  return value;
}

/** Numeric ids (GitHub `run_id`, GitLab `pipeline_id`) arrive as strings of digits; a plain integer is accepted too. */
function numericId(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? String(value) : undefined;
  const text = boundedString(value, 32);
  return text !== undefined && /^\d+$/.test(text) ? text : undefined;
}

/** Own properties only: a claim named `__proto__` or `constructor` must not reach the prototype. */
function claim(claims: Claims, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(claims, name) ? claims[name] : undefined;
}

/** Groups from an array of strings or a space- or comma-separated string; anything else yields none. */
export function parseGroups(value: unknown): string[] {
  let candidates: unknown[];
  if (Array.isArray(value)) candidates = value;
  else if (typeof value === 'string') candidates = value.split(/[\s,]+/);
  else return [];
  const groups: string[] = [];
  for (const candidate of candidates) {
    const group = boundedString(candidate);
    if (group !== undefined && !groups.includes(group)) groups.push(group);
    if (groups.length === MAX_GROUPS) break;
  }
  return groups;
}

/** Drops the keys whose value is undefined, so a principal carries only the claims that were present and valid. */
function defined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as T;
}

function githubActionsClaims(claims: Claims): CiClaims {
  return defined({
    provider: 'github-actions' as const,
    repository: boundedString(claim(claims, 'repository')),
    ref: boundedString(claim(claims, 'ref')),
    workflow: boundedString(claim(claims, 'workflow')),
    environment: boundedString(claim(claims, 'environment')),
    runId: numericId(claim(claims, 'run_id')),
    actor: boundedString(claim(claims, 'actor')),
  });
}

function gitlabClaims(claims: Claims): CiClaims {
  return defined({
    provider: 'gitlab' as const,
    repository: boundedString(claim(claims, 'project_path')),
    ref: boundedString(claim(claims, 'ref')),
    environment: boundedString(claim(claims, 'environment')),
    pipelineId: numericId(claim(claims, 'pipeline_id')),
    userLogin: boundedString(claim(claims, 'user_login')),
  });
}

/**
 * Builds the principal for verified claims. The id is `<issuer name>:<subject>`, unique across configured issuers.
 * Throws AuthenticationError `missing_claim` when the configured subject claim is absent, not a string, or unusable.
 */
export function mapClaimsToPrincipal(issuer: IssuerConfig, claims: Claims): Principal {
  const subject = boundedString(claim(claims, issuer.claims.subject), MAX_SUBJECT_LENGTH);
  if (subject === undefined) {
    throw new AuthenticationError('missing_claim', { issuer: issuer.issuer, claim: issuer.claims.subject });
  }

  const principal: Principal = {
    id: `${issuer.name}:${subject}`,
    issuer: issuer.issuer,
    issuerName: issuer.name,
    subject,
    groups: parseGroups(claim(claims, issuer.claims.groups)),
  };

  // OIDC Core 5.1: an address the IdP marks unverified must not stand for the person.
  const email = boundedString(claim(claims, issuer.claims.email), MAX_EMAIL_LENGTH);
  if (email !== undefined && email.includes('@') && claim(claims, 'email_verified') !== false) principal.email = email;

  if (issuer.kind === 'github-actions') principal.ci = githubActionsClaims(claims);
  else if (issuer.kind === 'gitlab') principal.ci = gitlabClaims(claims);
  return principal;
}
