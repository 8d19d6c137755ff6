/**
 * How the relay learns who is calling: the request's bearer token is a relay credential (shared/tokens/
 * relay-credential.ts), verified offline against the control plane's public key(s) — no network call per request. A
 * verified token is remembered until it expires, so a client's repeated requests cost one signature check in all.
 */
import { fingerprint } from '#shared/audit/fingerprint.ts';
import type { Clock } from '#shared/ports.ts';
import {
  verifyRelayCredential,
  type RelayCredentialClaims,
  type RelayVerificationKey,
} from '#shared/tokens/relay-credential.ts';

/** What a verified relay credential says, and its fingerprint for events (never the token). */
export interface RelayCredentialIdentity extends RelayCredentialClaims {
  fingerprint: string;
}

export type CredentialCheck = { ok: true; identity: RelayCredentialIdentity } | { ok: false; reason: string };

export interface CredentialVerifier {
  verify(token: string): Promise<CredentialCheck>;
}

/** Verified tokens remembered at most; the oldest are forgotten first. */
const REMEMBERED_TOKENS = 4096;

/** A verifier for the credentials of `cluster`, signed by any of `keys` (by `kid`: keys rotate). */
export function relayCredentialVerifier(
  keys: ReadonlyMap<string, RelayVerificationKey>,
  cluster: string,
  clock: Clock,
): CredentialVerifier {
  const verified = new Map<string, RelayCredentialIdentity>();
  return {
    async verify(token) {
      const now = clock.now();
      const known = verified.get(token);
      if (known && known.expiresAt.getTime() > now.getTime()) return { ok: true, identity: known };
      verified.delete(token);
      const check = await verifyRelayCredential(token, keys, { now, cluster });
      if (!check.ok) return { ok: false, reason: check.message };
      const identity = { ...check.claims, fingerprint: fingerprint(token) };
      if (verified.size >= REMEMBERED_TOKENS) verified.delete(verified.keys().next().value!);
      verified.set(token, identity);
      return { ok: true, identity };
    },
  };
}
