/**
 * The local runtime's relay credential key, as a local relay needs it: `gatehouse local` signs relay credentials with
 * the P-256 key in `<dataDir>/relay-credential-key.pem`, and a relay started on the same data directory verifies them
 * with its public key. Either may start first: the key is created once, by whichever opens it first.
 */
import { join, resolve } from 'node:path';
import {
  LOCAL_RELAY_CREDENTIAL_KEY_FILE,
  LocalRelayCredentialSigner,
} from '#shared/adapters/local/local-relay-credential-signer.ts';

export interface LocalRelayVerificationKeys {
  /** The key's `kid` (relayKeyId of its public key). */
  keyId: string;
  /** The public key, SPKI PEM. */
  publicKeyPem: string;
  /** `kid` → PEM, as verifyRelayCredential (shared/tokens/relay-credential.ts) takes it. */
  keys: ReadonlyMap<string, string>;
}

/** The signer the local runtime issues relay credentials with, on the data directory's key file. */
export function openLocalRelaySigner(dataDir: string): LocalRelayCredentialSigner {
  return LocalRelayCredentialSigner.open(join(resolve(dataDir), LOCAL_RELAY_CREDENTIAL_KEY_FILE));
}

/** The public key that verifies the relay credentials `gatehouse local` issues on `dataDir` (created if missing). */
export async function localRelayVerificationKeys(dataDir: string): Promise<LocalRelayVerificationKeys> {
  const signer = openLocalRelaySigner(dataDir);
  const [keyId, publicKeyPem] = await Promise.all([signer.keyId(), signer.publicKeyPem()]);
  return { keyId, publicKeyPem, keys: new Map([[keyId, publicKeyPem]]) };
}
