/**
 * Why a bearer token was refused. shared/http/problem.ts maps every AuthenticationError to 401 by its name, and shows
 * its message to the caller, so a message names the reason and at most the configured issuer URL: never the token,
 * never a claim value the caller sent.
 */

/** The fixed set of reasons a token is refused. Audit events and metrics key on these codes. */
export const AUTHENTICATION_FAILURE_REASONS = [
  'missing',
  'too_large',
  'malformed',
  'unknown_issuer',
  'algorithm_not_allowed',
  'bad_signature',
  'unknown_key',
  'expired',
  'not_yet_valid',
  'issued_in_future',
  'bad_audience',
  'missing_claim',
  'jwks_unavailable',
] as const;

export type AuthenticationFailureReason = (typeof AUTHENTICATION_FAILURE_REASONS)[number];

const DEFAULT_MESSAGES: Record<AuthenticationFailureReason, string> = {
  missing: 'no bearer token was presented',
  too_large: 'the bearer token is larger than allowed',
  malformed: 'the bearer token is not a well-formed signed JWT',
  unknown_issuer: 'the token was not issued by a configured issuer',
  algorithm_not_allowed: 'the token is signed with an algorithm that is not allowed (asymmetric algorithms only)',
  bad_signature: 'the token signature does not verify',
  unknown_key: 'the token is signed with a key the issuer does not publish',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet (nbf)',
  issued_in_future: 'the token claims to be issued in the future (iat)',
  bad_audience: 'the token is not meant for this audience',
  missing_claim: 'the token lacks a required claim',
  jwks_unavailable: "the issuer's signing keys could not be fetched",
};

/** A claim name is printed only when it looks like one, so a crafted name cannot smuggle text into a message. */
const SAFE_CLAIM_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface AuthenticationErrorOptions {
  /** The configured issuer URL the token was checked against (never an unverified `iss` value). */
  issuer?: string;
  /** The name (not the value) of the claim at fault. */
  claim?: string;
}

/** A bearer token was missing or refused. `reason` is one of {@link AUTHENTICATION_FAILURE_REASONS}. */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  readonly reason: AuthenticationFailureReason;
  readonly issuer: string | undefined;
  readonly claim: string | undefined;

  constructor(reason: AuthenticationFailureReason, options: AuthenticationErrorOptions = {}) {
    const claim = options.claim !== undefined && SAFE_CLAIM_NAME.test(options.claim) ? options.claim : undefined;
    let message = DEFAULT_MESSAGES[reason];
    if (claim) message += ` (claim "${claim}")`;
    if (options.issuer) message += ` [issuer ${options.issuer}]`;
    super(message);
    this.reason = reason;
    this.issuer = options.issuer;
    this.claim = claim;
  }
}

export function isAuthenticationError(error: unknown): error is AuthenticationError {
  return error instanceof AuthenticationError;
}
