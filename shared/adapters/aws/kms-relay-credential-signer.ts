import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { RelayCredentialSigner } from '../../ports.ts';
import { derToJoseSignature } from '../../tokens/ecdsa-signature.ts';
import { relayKeyId } from '../../tokens/relay-credential.ts';
import { publicKeyPemFromDer } from './kms-public-key.ts';

/** A relay credential could not be signed or the key read. The message names the key, never the credential. */
export class RelayCredentialSigningError extends Error {
  override name = 'RelayCredentialSigningError';
}

/**
 * Signs relay credentials with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): KMS is sent the SHA-256 of the
 * JWS signing input with `MessageType: DIGEST` and `ECDSA_SHA_256`, and its DER signature becomes the 64-byte `r || s`
 * JOSE wants (RFC 7518 section 3.4). The public key is read once per process and names the key (`kid`).
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
 */
export class KmsRelayCredentialSigner implements RelayCredentialSigner {
  private key: Promise<{ pem: string; kid: string }> | undefined;

  constructor(
    private readonly kms: KMSClient,
    /** The key's ARN or id. */
    private readonly keyArn: string,
  ) {}

  async keyId(): Promise<string> {
    return (await this.publicKey()).kid;
  }

  async publicKeyPem(): Promise<string> {
    return (await this.publicKey()).pem;
  }

  async sign(signingInput: Uint8Array): Promise<Uint8Array> {
    let signature: Uint8Array | undefined;
    try {
      ({ Signature: signature } = await this.kms.send(
        new SignCommand({
          KeyId: this.keyArn,
          Message: createHash('sha256').update(signingInput).digest(),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ));
    } catch (error) {
      throw new RelayCredentialSigningError(`KMS could not sign with ${this.keyArn}`, { cause: error });
    }
    if (!signature) throw new RelayCredentialSigningError(`KMS returned no signature from ${this.keyArn}`);
    try {
      return derToJoseSignature(signature);
    } catch (error) {
      throw new RelayCredentialSigningError(`KMS returned an unreadable signature from ${this.keyArn}`, {
        cause: error,
      });
    }
  }

  private publicKey(): Promise<{ pem: string; kid: string }> {
    this.key ??= (async () => {
      let der: Uint8Array | undefined;
      try {
        der = (await this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyArn }))).PublicKey;
      } catch (error) {
        throw new RelayCredentialSigningError(`the public key of ${this.keyArn} could not be read`, { cause: error });
      }
      if (!der) throw new RelayCredentialSigningError(`KMS returned no public key for ${this.keyArn}`);
      return { pem: publicKeyPemFromDer(der), kid: relayKeyId(der) };
    })().catch((error: unknown) => {
      // A failed read is not cached: the next credential asks KMS again.
      this.key = undefined;
      throw error;
    });
    return this.key;
  }
}
