import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { DigestSigner } from '../../evidence/ports.ts';

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
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      // `wx`: two runtimes starting at once must not each write a key and sign with different ones.
      try {
        writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    return new FileDigestSigner(createPrivateKey(readFileSync(file, 'utf8')), file);
  }

  async publicKeyPem(): Promise<string> {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return sign('sha256', message, { key: this.privateKey, dsaEncoding: 'der' });
  }
}
