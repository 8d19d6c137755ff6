import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { DIGEST_SIGNING_ALGORITHM } from '../../evidence/digest.ts';
import type { DigestSigner } from '../../evidence/ports.ts';
import { publicKeyPemFromDer } from './kms-public-key.ts';

/** A digest could not be signed or the signing key read. The message names the key, never any content. */
export class DigestSigningError extends Error {
  override name = 'DigestSigningError';
}

/**
 * Signs digests with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY). KMS is sent the SHA-256 of the message with
 * `MessageType: DIGEST`, so a digest of any size costs one small request (KMS refuses RAW messages over 4 KB).
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
 */
export class KmsDigestSigner implements DigestSigner {
  private pem: Promise<string> | undefined;

  constructor(
    private readonly kms: KMSClient,
    /** The key ARN: digests record it as `keyId`. */
    readonly keyId: string,
  ) {}

  publicKeyPem(): Promise<string> {
    this.pem ??= (async () => {
      let der: Uint8Array | undefined;
      try {
        der = (await this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId }))).PublicKey;
      } catch (error) {
        throw new DigestSigningError(`the public key of ${this.keyId} could not be read`, { cause: error });
      }
      if (!der) throw new DigestSigningError(`KMS returned no public key for ${this.keyId}`);
      return publicKeyPemFromDer(der);
    })().catch((error: unknown) => {
      this.pem = undefined;
      throw error;
    });
    return this.pem;
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    let signature: Uint8Array | undefined;
    try {
      ({ Signature: signature } = await this.kms.send(
        new SignCommand({
          KeyId: this.keyId,
          Message: createHash('sha256').update(message).digest(),
          MessageType: 'DIGEST',
          SigningAlgorithm: DIGEST_SIGNING_ALGORITHM,
        }),
      ));
    } catch (error) {
      throw new DigestSigningError(`KMS could not sign with ${this.keyId}`, { cause: error });
    }
    if (!signature) throw new DigestSigningError(`KMS returned no signature from ${this.keyId}`);
    return signature;
  }
}
