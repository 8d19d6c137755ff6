/**
 * Verifies an OIDC bearer token against the configured issuers and maps it to a Principal.
 *
 * The order of checks is deliberate: size first (before any decoding), then the compact-JWS shape, then the header's
 * algorithm (so `alg: none` and HMAC tokens are refused before any key is looked up, which defeats the RS256→HS256 key
 * confusion attack, CVE-2015-9235 and its kin), then the unverified `iss` only to pick an issuer from the allow-list,
 * and only then signature and claims with jose. Pure: keys come through the injected resolver, time through the Clock.
 */
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { IssuerConfig } from '../config/schema.ts';
import type { Principal } from '../model.ts';
import type { Clock } from '../ports.ts';
import { AuthenticationError } from './errors.ts';
import { mapClaimsToPrincipal } from './principal.ts';

/** Asymmetric JWS algorithms only (RFC 7518 section 3, RFC 8037). No `none`, no HS256/384/512. */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

const ALLOWED = new Set<string>(ALLOWED_ALGORITHMS);

/**
 * Three base64url segments. An empty signature passes this shape check on purpose, so an unsecured JWT (`alg: none`,
 * RFC 7519 section 6) is refused by name as `algorithm_not_allowed` below.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface OidcVerifierOptions {
  /** The allow-list: a token's `iss` must equal one of these URLs exactly. */
  issuers: IssuerConfig[];
  /** The key resolver per issuer, e.g. remoteKeyResolver() from shared/adapters/http/remote-jwks.ts. */
  keys: (issuer: IssuerConfig) => JWTVerifyGetKey;
  clock: Clock;
  /** Tokens longer than this are refused before they are decoded (config `api.maxJwtBytes`). */
  maxJwtBytes: number;
}

export interface VerifiedToken {
  principal: Principal;
  /** The verified claims, for audit details and policy context. */
  claims: JWTPayload;
}

export class OidcVerifier {
  readonly #issuers: ReadonlyMap<string, IssuerConfig>;
  readonly #keys: (issuer: IssuerConfig) => JWTVerifyGetKey;
  readonly #clock: Clock;
  readonly #maxJwtBytes: number;

  constructor(options: OidcVerifierOptions) {
    const issuers = new Map<string, IssuerConfig>();
    for (const issuer of options.issuers) {
      if (issuers.has(issuer.issuer)) throw new Error(`issuer URL ${issuer.issuer} is configured twice`);
      issuers.set(issuer.issuer, issuer);
    }
    if (!Number.isSafeInteger(options.maxJwtBytes) || options.maxJwtBytes <= 0) {
      throw new Error('maxJwtBytes must be a positive integer');
    }
    this.#issuers = issuers;
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#maxJwtBytes = options.maxJwtBytes;
  }

  /** Verifies the token and returns its principal; throws AuthenticationError with a reason code otherwise. */
  async verify(jwt: string): Promise<VerifiedToken> {
    if (typeof jwt !== 'string' || jwt.length === 0) throw new AuthenticationError('missing');
    // Length in UTF-16 units is at most the UTF-8 length; the shape check below then guarantees pure ASCII.
    if (jwt.length > this.#maxJwtBytes) throw new AuthenticationError('too_large');
    if (!COMPACT_JWS.test(jwt)) throw new AuthenticationError('malformed');

    let alg: unknown;
    let payload: JWTPayload;
    try {
      alg = decodeProtectedHeader(jwt).alg;
      payload = decodeJwt(jwt);
    } catch {
      throw new AuthenticationError('malformed');
    }
    if (typeof alg !== 'string' || !ALLOWED.has(alg)) throw new AuthenticationError('algorithm_not_allowed');

    // The unverified payload is read only to choose which configured issuer's keys to verify with.
    if (payload.iss === undefined) throw new AuthenticationError('missing_claim', { claim: 'iss' });
    const issuer = typeof payload.iss === 'string' ? this.#issuers.get(payload.iss) : undefined;
    if (!issuer) throw new AuthenticationError('unknown_issuer');

    const now = this.#clock.now();
    const skew = issuer.clockSkewSeconds;
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(jwt, guardKeyLookup(this.#keys(issuer), issuer), {
        algorithms: [...ALLOWED_ALGORITHMS],
        issuer: issuer.issuer,
        audience: issuer.audience,
        requiredClaims: ['exp'],
        clockTolerance: skew,
        currentDate: now,
      }));
    } catch (error) {
      throw toAuthenticationError(error, issuer);
    }

    // jose checks iat only together with maxTokenAge; a token from the future means a broken or hostile issuer clock.
    if (typeof claims.iat === 'number' && claims.iat > Math.floor(now.getTime() / 1000) + skew) {
      throw new AuthenticationError('issued_in_future', { issuer: issuer.issuer });
    }

    return { principal: mapClaimsToPrincipal(issuer, claims), claims };
  }
}

/**
 * Errors from the key resolver that are neither jose's nor ours (a network TypeError, say) mean the keys could not be
 * obtained; they become `jwks_unavailable` here, so a later TypeError can only come from jose's own key checks.
 */
function guardKeyLookup(getKey: JWTVerifyGetKey, issuer: IssuerConfig): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (error) {
      if (error instanceof AuthenticationError || error instanceof joseErrors.JOSEError) throw error;
      throw new AuthenticationError('jwks_unavailable', { issuer: issuer.issuer });
    }
  };
}

/** Maps every jose error to a reason. The jose error is not kept as `cause`: it can hold the decoded claims. */
function toAuthenticationError(error: unknown, issuer: IssuerConfig): unknown {
  const at = { issuer: issuer.issuer };
  if (error instanceof AuthenticationError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AuthenticationError('expired', at);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return new AuthenticationError('missing_claim', { ...at, claim: error.claim });
    // A claim of the wrong type (`"nbf": "yesterday"`) makes the token malformed.
    if (error.reason === 'invalid') return new AuthenticationError('malformed', { ...at, claim: error.claim });
    if (error.claim === 'aud') return new AuthenticationError('bad_audience', at);
    if (error.claim === 'nbf') return new AuthenticationError('not_yet_valid', at);
    if (error.claim === 'iss') return new AuthenticationError('unknown_issuer');
    return new AuthenticationError('malformed', { ...at, claim: error.claim });
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new AuthenticationError('algorithm_not_allowed', at);
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthenticationError('bad_signature', at);
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new AuthenticationError('unknown_key', at);
  }
  // The JWKS was unreachable, timed out, or was not a usable key set.
  if (
    error instanceof joseErrors.JWKSTimeout ||
    error instanceof joseErrors.JWKSInvalid ||
    error instanceof joseErrors.JWKInvalid
  ) {
    return new AuthenticationError('jwks_unavailable', at);
  }
  if (error instanceof joseErrors.JOSENotSupported) return new AuthenticationError('algorithm_not_allowed', at);
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) {
    return new AuthenticationError('malformed', at);
  }
  // ERR_JOSE_GENERIC: jose's own remote JWKS reports a non-200 or non-JSON key set response this way.
  if (error instanceof joseErrors.JOSEError) return new AuthenticationError('jwks_unavailable', at);
  // jose throws TypeError when the resolved key cannot verify this algorithm (wrong type, RSA modulus under 2048 bits).
  if (error instanceof TypeError) return new AuthenticationError('unknown_key', at);
  return error;
}
