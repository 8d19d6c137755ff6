/** What the evidence use cases need from the outside world: the archive bucket and a signing key. */

/** The object-locked audit bucket (S3 in AWS, s3rver locally). */
export interface ArchiveStore {
  /**
   * Writes an object unless one already exists at the key; never overwrites (the bucket keeps versions under Object
   * Lock, so a second write would add a version, not replace one). `sha256` (hex) travels as the object's checksum.
   */
  putIfAbsent(key: string, body: Uint8Array, sha256: string): Promise<'written' | 'exists'>;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every key under `prefix` (from `startAfter` on, when given), in key order, with its last-modified time. */
  list(prefix: string, startAfter?: string): AsyncIterable<{ key: string; lastModified: Date }>;
}

/** Signs digests. KMS (an asymmetric ECC_NIST_P256 SIGN_VERIFY key) in AWS, a key file locally. */
export interface DigestSigner {
  /** The key's id as digests record it (the KMS key ARN, or `local:<file name>`). */
  readonly keyId: string;
  /** PEM SubjectPublicKeyInfo of the key. */
  publicKeyPem(): Promise<string>;
  /** A DER-encoded ECDSA_SHA_256 signature over `message` (the signer hashes it). */
  sign(message: Uint8Array): Promise<Uint8Array>;
}
