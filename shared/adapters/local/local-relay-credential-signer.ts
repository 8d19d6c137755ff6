import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RelayCredentialSigner } from '../../ports.ts';
import { relayKeyId } from '../../tokens/relay-credential.ts';

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
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      // `wx`: a runtime and a relay starting at once must not each write a key and use different ones.
      try {
        writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    return new LocalRelayCredentialSigner(createPrivateKey(readFileSync(file, 'utf8')));
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
