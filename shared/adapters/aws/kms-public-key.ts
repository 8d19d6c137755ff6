import { createPublicKey } from 'node:crypto';

/** A KMS `GetPublicKey` answer (DER SubjectPublicKeyInfo, RFC 5280) as an SPKI PEM, for the digest and relay signers. */
export function publicKeyPemFromDer(der: Uint8Array): string {
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}
