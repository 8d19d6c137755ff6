/**
 * Relay credentials (DESIGN.md section 2.4): what an agent presents to the relay instead of a cluster token. A compact
 * JWS (RFC 7515), ES256 over P-256, that names its key by `kid`, is addressed to the relay only (`aud`), is bound to
 * one grant (`gid`) and cluster (`cls`), and lives at most 15 minutes and never past its grant (`exp`). The relay
 * verifies it offline with the public key; it learns of a revocation from the grant's status, which it reads itself.
 *
 * The JWS is built by hand (header, payload, signing input) because the private key lives in KMS: the signer port signs
 * the input, and jose is used only to verify.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify, type CryptoKey } from 'jose';
import { fingerprint } from '../audit/fingerprint.ts';
import type { Clock, RelayCredentialSigner } from '../ports.ts';

/** The credential's `iss`. */
export const RELAY_ISSUER = 'gatehouse';
/** The credential's `aud`: only the relay accepts it; the Kubernetes API server and the Gatehouse API never do. */
export const RELAY_AUDIENCE = 'gatehouse-relay';
/** The credential's JOSE `typ`, so it is never mistaken for another kind of JWT (RFC 8725 section 3.11). */
export const RELAY_CREDENTIAL_TYPE = 'gatehouse-relay+jwt';
export const RELAY_CREDENTIAL_ALGORITHM = 'ES256';
/** The longest a relay credential may live (DESIGN.md section 7: tokens live at most 15 minutes). */
export const RELAY_CREDENTIAL_MAX_SECONDS = 900;
/** A token longer than this is refused before it is decoded: a real one is well under 2 KB. */
const MAX_TOKEN_LENGTH = 8192;
/** How far in the future `iat` may be before the credential is not yet valid: the relay's and the API's clocks differ. */
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;

/** The claims as the token carries them (short names keep the header Kubernetes clients send small). */
export interface RelayCredentialPayload {
  iss: typeof RELAY_ISSUER;
  aud: typeof RELAY_AUDIENCE;
  /** The principal id (`<issuer name>:<subject>`). */
  sub: string;
  /** Grant id. */
  gid: string;
  /** Gatehouse cluster name. */
  cls: string;
  /** Granted namespaces. */
  ns: string[];
  /** Access level. */
  acc: string;
  /** Kubernetes groups the relay impersonates. */
  grp: string[];
  /** The Kubernetes username the relay impersonates (`gatehouse:<session name>`). */
  usr: string;
  iat: number;
  exp: number;
  /** Credential id. */
  jti: string;
}

/** Who and what a credential is for: what it is issued with and what verifying it gives back. */
export interface RelayCredentialSubject {
  /** The credential id (`jti`), unique per credential. */
  id: string;
  grantId: string;
  principalId: string;
  cluster: string;
  namespaces: string[];
  access: string;
  groups: string[];
  username: string;
}

/** The verified claims, by their domain names. */
export interface RelayCredentialClaims extends RelayCredentialSubject {
  issuedAt: Date;
  expiresAt: Date;
}

/** What a credential is issued for. */
export interface RelayCredentialInput extends RelayCredentialSubject {
  /** The grant's end: the credential never outlives it. */
  grantExpiresAt: Date;
  /** The configured lifetime (`relay.credentialTtlSeconds`), at most 900. */
  ttlSeconds: number;
}

export interface IssuedRelayCredential {
  token: string;
  expiresAt: Date;
  /** `sha256:<16 hex>` of the token, for events and logs (the token itself never goes there). */
  fingerprint: string;
}

/** A credential could not be issued (a grant already ended, a bad lifetime, a signer failure). No token in the message. */
export class RelayCredentialError extends Error {
  override name = 'RelayCredentialError';
}

export type RelayCredentialRejection =
  | 'malformed'
  | 'unsupported-algorithm'
  | 'unknown-key'
  | 'bad-signature'
  | 'wrong-type'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'expired'
  | 'not-yet-valid'
  | 'too-long-lived'
  | 'wrong-cluster';

export type RelayCredentialCheck =
  { ok: true; claims: RelayCredentialClaims } | { ok: false; reason: RelayCredentialRejection; message: string };

/** A verification key: a public key as SPKI PEM, or already a KeyObject or a WebCrypto CryptoKey. */
export type RelayVerificationKey = string | KeyObject | CryptoKey;

export interface RelayVerifyOptions {
  now: Date;
  /** The Gatehouse cluster this relay fronts: a credential for another cluster is refused. */
  cluster: string;
  /** @default 900 (RELAY_CREDENTIAL_MAX_SECONDS); a larger value is capped at it */
  maxLifetimeSeconds?: number;
  /** How far ahead of `now` an `iat` may be. @default 5 */
  clockToleranceSeconds?: number;
}

/** The `kid` of a P-256 public key: hex of the first 16 bytes of SHA-256 over its SPKI DER. */
export function relayKeyId(publicKey: string | KeyObject | Uint8Array): string {
  const der =
    publicKey instanceof Uint8Array
      ? publicKey
      : (typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey).export({
          type: 'spki',
          format: 'der',
        });
  return createHash('sha256').update(der).digest().subarray(0, 16).toString('hex');
}

/**
 * Issues a relay credential: `exp` is `min(now + ttlSeconds, grantExpiresAt)`, and a grant that has already ended gets
 * none. The signer signs the JWS signing input (`base64url(header).base64url(payload)`, RFC 7515 section 5.1).
 */
export async function issueRelayCredential(
  signer: RelayCredentialSigner,
  input: RelayCredentialInput,
  clock: Clock,
): Promise<IssuedRelayCredential> {
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > RELAY_CREDENTIAL_MAX_SECONDS) {
    throw new RelayCredentialError(
      `a relay credential lives 1 to ${RELAY_CREDENTIAL_MAX_SECONDS} seconds, not ${input.ttlSeconds}`,
    );
  }
  const iat = Math.floor(clock.now().getTime() / 1000);
  // Rounded down: the credential ends at or before the grant, never a fraction of a second after.
  const exp = Math.min(iat + input.ttlSeconds, Math.floor(input.grantExpiresAt.getTime() / 1000));
  if (exp <= iat) throw new RelayCredentialError(`grant ${input.grantId} has ended; no relay credential`);

  const header = { alg: RELAY_CREDENTIAL_ALGORITHM, typ: RELAY_CREDENTIAL_TYPE, kid: await signer.keyId() };
  const payload: RelayCredentialPayload = {
    iss: RELAY_ISSUER,
    aud: RELAY_AUDIENCE,
    sub: input.principalId,
    gid: input.grantId,
    cls: input.cluster,
    ns: [...input.namespaces],
    acc: input.access,
    grp: [...input.groups],
    usr: input.username,
    iat,
    exp,
    jti: input.id,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = await signer.sign(Buffer.from(signingInput, 'ascii'));
  if (signature.length !== 64) {
    throw new RelayCredentialError(`the signer returned a ${signature.length}-byte signature; ES256 needs 64`);
  }
  const token = `${signingInput}.${Buffer.from(signature).toString('base64url')}`;
  return { token, expiresAt: new Date(exp * 1000), fingerprint: fingerprint(token) };
}

/**
 * Verifies a relay credential offline: shape, `alg` (ES256 only, so `none` and HMAC are refused before any key is
 * used), `kid` against `keys`, the signature (jose), then `typ`, `iss`, `aud`, time and lifetime, and the cluster.
 * Imported PEM keys are cached, so a request costs one ECDSA verification. Messages never include the token.
 */
export async function verifyRelayCredential(
  token: string,
  keys: ReadonlyMap<string, RelayVerificationKey>,
  options: RelayVerifyOptions,
): Promise<RelayCredentialCheck> {
  const reject = (reason: RelayCredentialRejection, message: string): RelayCredentialCheck => ({
    ok: false,
    reason,
    message,
  });
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    return reject('malformed', 'the relay credential is not a compact JWS');
  }
  const header = decodeSegment(token.slice(0, token.indexOf('.')));
  if (!header) return reject('malformed', 'the relay credential has an unreadable header');
  if (header.alg !== RELAY_CREDENTIAL_ALGORITHM) {
    return reject('unsupported-algorithm', `the relay credential's algorithm is not ${RELAY_CREDENTIAL_ALGORITHM}`);
  }
  if (header.crit !== undefined) return reject('malformed', 'the relay credential has critical header parameters');
  if (typeof header.kid !== 'string' || !keys.has(header.kid)) {
    return reject('unknown-key', 'the relay credential is signed with a key this relay does not trust');
  }
  let key: KeyObject | CryptoKey;
  try {
    key = importKey(keys.get(header.kid)!);
  } catch {
    return reject('unknown-key', 'the verification key of the relay credential could not be read');
  }

  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(token, key, { algorithms: [RELAY_CREDENTIAL_ALGORITHM] }));
  } catch {
    return reject('bad-signature', 'the relay credential signature does not verify');
  }
  if (header.typ !== RELAY_CREDENTIAL_TYPE) return reject('wrong-type', 'the token is not a relay credential');
  const payload = parsePayload(payloadBytes);
  if (!payload) return reject('malformed', 'the relay credential is missing claims or has claims of the wrong type');
  if (payload.iss !== RELAY_ISSUER) return reject('wrong-issuer', 'the relay credential was not issued by Gatehouse');
  if (payload.aud !== RELAY_AUDIENCE) return reject('wrong-audience', 'the credential is not addressed to the relay');

  const now = Math.floor(options.now.getTime() / 1000);
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  const maxLifetime = Math.min(
    options.maxLifetimeSeconds ?? RELAY_CREDENTIAL_MAX_SECONDS,
    RELAY_CREDENTIAL_MAX_SECONDS,
  );
  if (payload.exp <= now) return reject('expired', 'the relay credential has expired');
  if (payload.iat > now + tolerance) return reject('not-yet-valid', 'the relay credential is not valid yet');
  if (payload.exp - payload.iat > maxLifetime) {
    return reject('too-long-lived', `the relay credential lives longer than ${maxLifetime} seconds`);
  }
  if (payload.cls !== options.cluster) {
    return reject('wrong-cluster', `the relay credential is for another cluster than ${options.cluster}`);
  }
  return {
    ok: true,
    claims: {
      id: payload.jti,
      grantId: payload.gid,
      principalId: payload.sub,
      cluster: payload.cls,
      namespaces: payload.ns,
      access: payload.acc,
      groups: payload.grp,
      username: payload.usr,
      issuedAt: new Date(payload.iat * 1000),
      expiresAt: new Date(payload.exp * 1000),
    },
  };
}

/** Three base64url segments, none empty (an unsecured JWS has an empty signature and is refused as malformed). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function parsePayload(bytes: Uint8Array): RelayCredentialPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Record<string, unknown>;
  const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);
  const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    !isString(p.iss) ||
    !isString(p.aud) ||
    !isString(p.sub) ||
    !isString(p.gid) ||
    !isString(p.cls) ||
    !isStrings(p.ns) ||
    !isString(p.acc) ||
    !isStrings(p.grp) ||
    !isString(p.usr) ||
    !isTime(p.iat) ||
    !isTime(p.exp) ||
    !isString(p.jti)
  ) {
    return undefined;
  }
  return p as unknown as RelayCredentialPayload;
}

/** PEM keys imported once per process: the relay verifies with the same few keys on every request. */
const imported = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 64;

function importKey(key: RelayVerificationKey): KeyObject | CryptoKey {
  if (typeof key !== 'string') return key;
  let object = imported.get(key);
  if (!object) {
    object = createPublicKey(key);
    if (object.asymmetricKeyType !== 'ec' || object.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new RelayCredentialError('a relay verification key must be an EC P-256 public key');
    }
    if (imported.size >= MAX_CACHED_KEYS) imported.clear();
    imported.set(key, object);
  }
  return object;
}
