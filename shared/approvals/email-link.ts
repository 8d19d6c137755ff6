/**
 * Signed email approval links (DESIGN.md section 2.2, issue 3 item 4).
 *
 * A link is `<baseUrl>/v1/approvals/<linkId>?t=<token>`, with `linkId = apl_<ULID>` and
 * `token = <exp>.<mac>`: `exp` the expiry in epoch seconds and `mac` the unpadded base64url HMAC-SHA256 (RFC 2104,
 * RFC 4648 section 5) under the link key of `v1.<linkId>.<requestId>.<approverId>.<exp>`. The MAC binds the link to one
 * request and one approver, and the expiry to both, so none of them can be swapped or stretched. Following the link
 * (GET) only shows a confirmation page; a POST decides, and the `LinkStore` makes that POST count once.
 *
 * Verification takes every live key, newest first, so a key can be rotated without breaking links already sent.
 * Neither keys nor tokens ever enter an error message: use `fingerprint()` when a token must be named.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Ids } from '../ports.ts';

/** The path every approval link lives under; the handler's route is `GET, POST /v1/approvals/{approvalId}`. */
export const APPROVAL_LINK_PATH = '/v1/approvals/';

/** The query parameter that carries the token. */
export const APPROVAL_LINK_TOKEN_PARAM = 't';

/** HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 section 3), so they are refused. */
export const APPROVAL_LINK_KEY_MIN_BYTES = 32;

/** An HMAC key: random bytes from a secret store, at least `APPROVAL_LINK_KEY_MIN_BYTES` long. */
export type ApprovalLinkKey = Uint8Array;

const LINK_ID = /^apl_[0-9A-HJKMNP-TV-Z]{26}$/;
// Request ids are `req_<ULID>` today; no dot, so the dot-separated MAC input parses one way only.
const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;
// As `approvers.people[].id` in the config schema. It may hold dots, but it is the only field that may, and every
// field around it is dot-free, so the MAC input is still unambiguous.
const APPROVER_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const TOKEN = /^([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$/;

/** A link could not be made: a bad key, id, base URL or expiry. The message never holds a key. */
export class ApprovalLinkError extends Error {
  override name = 'ApprovalLinkError';
}

/** A new link id, `apl_<ULID>`. */
export function newApprovalLinkId(ids: Ids): string {
  return `apl_${ids.next()}`;
}

/** True when `value` has the shape of a link id, `apl_<ULID>`. */
export function isApprovalLinkId(value: string): boolean {
  return LINK_ID.test(value);
}

export interface CreateApprovalLinkInput {
  /** The newest link key. */
  key: ApprovalLinkKey;
  /** Where the API is reached from a phone, e.g. `https://gatehouse.example.com`; a path prefix is kept. */
  baseUrl: string;
  linkId: string;
  requestId: string;
  approverId: string;
  /** When the link stops working; carried in the token to the second. */
  expiresAt: Date | string;
}

export interface ApprovalLink {
  url: string;
  linkId: string;
  /** The secret part of the URL: keep it out of logs and events (fingerprint it). */
  token: string;
}

/** Signs a link for one approver and one request. Throws ApprovalLinkError on bad input. */
export function createApprovalLink(input: CreateApprovalLinkInput): ApprovalLink {
  checkKey(input.key);
  if (!LINK_ID.test(input.linkId)) throw new ApprovalLinkError('link id must be apl_ followed by a ULID');
  if (!REQUEST_ID.test(input.requestId)) throw new ApprovalLinkError('request id has characters a link cannot carry');
  if (!APPROVER_ID.test(input.approverId)) throw new ApprovalLinkError('approver id is not a configured approver id');
  const expiresAtMs = typeof input.expiresAt === 'string' ? Date.parse(input.expiresAt) : input.expiresAt.getTime();
  if (!Number.isFinite(expiresAtMs) || expiresAtMs < 1000) throw new ApprovalLinkError('expiry is not a valid time');
  const exp = Math.floor(expiresAtMs / 1000);

  const mac = sign(input.key, { linkId: input.linkId, requestId: input.requestId, approverId: input.approverId, exp });
  const token = `${exp}.${mac.toString('base64url')}`;
  return { url: approvalLinkUrl(input.baseUrl, input.linkId, token), linkId: input.linkId, token };
}

/** `<baseUrl>/v1/approvals/<linkId>?t=<token>`: the link in the email, and the confirmation form's POST target. */
export function approvalLinkUrl(baseUrl: string, linkId: string, token: string): string {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new ApprovalLinkError('base URL is not a URL');
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ApprovalLinkError('base URL must be http or https');
  }
  if (base.search !== '' || base.hash !== '' || base.username !== '' || base.password !== '') {
    throw new ApprovalLinkError('base URL must have no query, fragment or credentials');
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${prefix}${APPROVAL_LINK_PATH}${linkId}?${APPROVAL_LINK_TOKEN_PARAM}=${token}`;
}

/**
 * Reads the link id and token back from an approval URL (absolute, or a path with its query), or undefined when it is
 * not one. Only the shape is checked: `verifyApprovalLink` decides whether it is genuine.
 */
export function parseApprovalLinkUrl(url: string): { linkId: string; token: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url, 'http://link.invalid');
  } catch {
    return undefined;
  }
  const index = parsed.pathname.lastIndexOf(APPROVAL_LINK_PATH);
  if (index === -1) return undefined;
  const linkId = parsed.pathname.slice(index + APPROVAL_LINK_PATH.length);
  const token = parsed.searchParams.get(APPROVAL_LINK_TOKEN_PARAM);
  if (!LINK_ID.test(linkId) || token === null) return undefined;
  return { linkId, token };
}

export interface VerifyApprovalLinkInput {
  /** Every live key, newest first; a single key is taken as a list of one. */
  key: ApprovalLinkKey | readonly ApprovalLinkKey[];
  /** The link id from the URL path. */
  linkId: string;
  /** The token from the URL's `t` parameter, as received. */
  token: string;
  /** What the link store holds for `linkId`: the request and approver the link was made for. */
  link: { requestId: string; approverId: string };
  now: Date;
}

export type ApprovalLinkRejection = 'malformed' | 'tampered' | 'expired';

export type ApprovalLinkVerdict =
  | {
      ok: true;
      expiresAt: Date;
      /** Which key matched: 0 is the newest; more means an older key still in use. */ keyIndex: number;
    }
  | { ok: false; reason: ApprovalLinkRejection };

/**
 * Checks a link's token: its shape (`malformed`), its MAC over this link id, request and approver under any of the keys
 * (`tampered`: altered, swapped to another link, or made for another approver or request), then its expiry
 * (`expired`, only for a genuine token, so an attacker learns nothing from changing `exp`). MACs are compared in
 * constant time, against every key, so the timing tells nothing about which key or how much of the MAC matched.
 * Throws ApprovalLinkError when no usable key is given: a configuration fault, not a bad link.
 */
export function verifyApprovalLink(input: VerifyApprovalLinkInput): ApprovalLinkVerdict {
  const keys: readonly ApprovalLinkKey[] = input.key instanceof Uint8Array ? [input.key] : input.key;
  if (keys.length === 0) throw new ApprovalLinkError('no approval link key is configured');
  keys.forEach(checkKey);

  const match = TOKEN.exec(input.token);
  if (
    match === null ||
    !LINK_ID.test(input.linkId) ||
    !REQUEST_ID.test(input.link.requestId) ||
    !APPROVER_ID.test(input.link.approverId)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const exp = Number(match[1]);
  const given = Buffer.from(match[2]!, 'base64url');
  // 43 base64url characters hold 258 bits; a canonical encoding of 32 bytes leaves the last two zero. Refusing others
  // keeps one token per MAC, so a token is a stable thing to fingerprint and count as used.
  if (given.length !== 32 || given.toString('base64url') !== match[2]) return { ok: false, reason: 'malformed' };

  const fields = { linkId: input.linkId, requestId: input.link.requestId, approverId: input.link.approverId, exp };
  let keyIndex = -1;
  keys.forEach((key, index) => {
    const equal = timingSafeEqual(sign(key, fields), given);
    if (equal && keyIndex === -1) keyIndex = index;
  });
  if (keyIndex === -1) return { ok: false, reason: 'tampered' };

  const expiresAt = new Date(exp * 1000);
  if (input.now.getTime() >= expiresAt.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt, keyIndex };
}

function sign(
  key: ApprovalLinkKey,
  fields: { linkId: string; requestId: string; approverId: string; exp: number },
): Buffer {
  const message = `v1.${fields.linkId}.${fields.requestId}.${fields.approverId}.${fields.exp}`;
  return createHmac('sha256', key).update(message, 'utf8').digest();
}

function checkKey(key: ApprovalLinkKey): void {
  if (!(key instanceof Uint8Array) || key.byteLength < APPROVAL_LINK_KEY_MIN_BYTES) {
    throw new ApprovalLinkError(`an approval link key must be at least ${APPROVAL_LINK_KEY_MIN_BYTES} bytes`);
  }
}

/** An approval link as the link store keeps it. */
export interface StoredLinkInput {
  linkId: string;
  requestId: string;
  approverId: string;
  /** ISO-8601 UTC, the same instant the token carries. */
  expiresAt: string;
}

export interface StoredLink extends StoredLinkInput {
  /** When the link's one POST was accepted; absent while it is unused. */
  usedAt?: string;
}

/**
 * Approval links, each usable once. `consume` is a conditional write, so of any number of concurrent POSTs of the same
 * link exactly one succeeds and the rest get LinkAlreadyUsedError.
 */
export interface LinkStore {
  /** Stores a new link; a link id already stored throws LinkExistsError (ids are never reused). */
  create(link: StoredLinkInput): Promise<void>;
  get(linkId: string): Promise<StoredLink | undefined>;
  /**
   * Marks the link used at `at` and returns it. Throws LinkAlreadyUsedError when it was used before,
   * LinkExpiredError when `at` is at or after its expiry, and LinkNotFoundError when there is no such link.
   */
  consume(linkId: string, at: Date): Promise<StoredLink>;
}

/** The link was used already: its one decision has been taken. */
export class LinkAlreadyUsedError extends Error {
  override name = 'LinkAlreadyUsedError';
  constructor(readonly linkId: string) {
    super(`approval link ${linkId} has already been used`);
  }
}

/** The link's expiry has passed. */
export class LinkExpiredError extends Error {
  override name = 'LinkExpiredError';
  constructor(readonly linkId: string) {
    super(`approval link ${linkId} has expired`);
  }
}

/** No link with this id is stored (never made, or deleted after its retention). */
export class LinkNotFoundError extends Error {
  override name = 'LinkNotFoundError';
  constructor(readonly linkId: string) {
    super(`approval link ${linkId} does not exist`);
  }
}

/** A link with this id is stored already. */
export class LinkExistsError extends Error {
  override name = 'LinkExistsError';
  constructor(readonly linkId: string) {
    super(`approval link ${linkId} already exists`);
  }
}
