import { createHash } from 'node:crypto';

/**
 * A short, stable, non-reversible name for a secret, so events can say which token was issued without holding it:
 * `sha256:` and the first 16 hex characters (64 bits) of its SHA-256. Enough to match a token a reader already has
 * against the log; far too little to recover or forge one.
 */
export function fingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16)}`;
}
