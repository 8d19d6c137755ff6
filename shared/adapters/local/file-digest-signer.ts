import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import type { DigestSigner } from '../../evidence/ports.ts';
import { openP256KeyFile } from './p256-key-file.ts';

/** The file, in the local runtime's data directory, that holds the digest signing key. */
export const LOCAL_DIGEST_KEY_FILE = 'digest-signing-key.pem';

/**
 * The local runtime's stand-in for the KMS signing key: an ECDSA P-256 key generated once into a PKCS#8 PEM file that
 * only its owner can read (0600), signing as KMS's ECDSA_SHA_256 does (SHA-256, DER signature). For development only.
 */
export class FileDigestSigner implements DigestSigner {
  readonly keyId: string;
  private readonly publicKey: KeyObject;

  private constructor(
    private readonly privateKey: KeyObject,
    file: string,
  ) {
    this.keyId = `local:${basename(file)}`;
    this.publicKey = createPublicKey(privateKey);
  }

  /** The key in `file`, generated there first when the file does not exist. */
  static open(file: string): FileDigestSigner {
    return new FileDigestSigner(openP256KeyFile(file), file);
  }

  async publicKeyPem(): Promise<string> {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return sign('sha256', message, { key: this.privateKey, dsaEncoding: 'der' });
  }
}
