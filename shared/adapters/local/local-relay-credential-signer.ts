import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { RelayCredentialSigner } from '../../ports.ts';
import { relayKeyId } from '../../tokens/relay-credential.ts';
import { openP256KeyFile } from './p256-key-file.ts';

/** The file, in the local runtime's data directory, that holds the relay credential signing key. */
export const LOCAL_RELAY_CREDENTIAL_KEY_FILE = 'relay-credential-key.pem';

/**
 * The local runtime's stand-in for the KMS relay credential key: an ECDSA P-256 key generated once into a PKCS#8 PEM
 * file only its owner can read (0600), signing ES256 (`r || s`). A local relay verifies with its public key, which
 * {@link LocalRelayCredentialSigner.open} on the same file gives it. For development only.
 */
export class LocalRelayCredentialSigner implements RelayCredentialSigner {
  private readonly publicKey: KeyObject;
  private readonly kid: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    this.kid = relayKeyId(this.publicKey);
  }

  /** The key in `file`, generated there first when the file does not exist. */
  static open(file: string): LocalRelayCredentialSigner {
    return new LocalRelayCredentialSigner(openP256KeyFile(file));
  }

  async keyId(): Promise<string> {
    return this.kid;
  }

  async publicKeyPem(): Promise<string> {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  async sign(signingInput: Uint8Array): Promise<Uint8Array> {
    return sign('sha256', signingInput, { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
  }
}
