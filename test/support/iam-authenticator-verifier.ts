/**
 * Test-side view of the EKS token verifier: aws-iam-authenticator's Verify rules plus SigV4 recomputation, from
 * shared/tokens/eks-token-verifier.ts (one implementation, shared with the local relay), and helpers to open and
 * re-seal tokens so tests can tamper with them.
 */
import { EKS_TOKEN_PREFIX } from '../../shared/tokens/eks-token.ts';
import { verifyEksToken } from '../../shared/tokens/eks-token-verifier.ts';
import type { EksTokenCheck, EksTokenVerifyOptions } from '../../shared/tokens/eks-token-verifier.ts';

export { checkEksTokenFormat, verifyEksToken } from '../../shared/tokens/eks-token-verifier.ts';
export type { EksTokenCheck, EksTokenRejection } from '../../shared/tokens/eks-token-verifier.ts';

/** Verifies like aws-iam-authenticator would, with STS's signature check done locally with the known secret key. */
export function verifyAsIamAuthenticator(token: string, options: EksTokenVerifyOptions): EksTokenCheck {
  return verifyEksToken(token, options);
}

/** The presigned URL inside a token. */
export function decodeEksToken(token: string): string {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) throw new Error('not an EKS token');
  return Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8');
}

/** Seals a (possibly tampered) URL as a token. */
export function encodeEksToken(url: string): string {
  return EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
}

/** Returns the token with its URL rewritten by `edit`. */
export function tamper(token: string, edit: (url: string) => string): string {
  return encodeEksToken(edit(decodeEksToken(token)));
}
