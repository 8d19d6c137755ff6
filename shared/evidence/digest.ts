/**
 * The hourly digest (DESIGN.md section 2.5): a signed list of every object the archiver wrote in one UTC hour, the
 * chain heads of the streams they belong to, and the SHA-256 of the previous hour's digest, so a digest cannot be
 * dropped, reordered or edited without a link or a signature failing. An hour with nothing archived still gets a digest
 * with no objects: absence is then told apart from deletion. Pure: building, the bytes that are signed, and checking a
 * signature with a known public key.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../audit/chain.ts';
import { sha256Hex, type ArchivedObjectEntry } from './archive-layout.ts';

export const DIGEST_SCHEMA = 'gatehouse.digest/v1';
/** KMS's name for the one signing algorithm digests use: ECDSA over P-256 with SHA-256, DER-encoded signatures. */
export const DIGEST_SIGNING_ALGORITHM = 'ECDSA_SHA_256';

/** What is signed. */
export interface DigestBody {
  schema: typeof DIGEST_SCHEMA;
  /** Start of the archive hour (UTC ISO-8601); the digest covers [hour, hour + 1 h). */
  hour: string;
  /** The previous hour's digest: its hour and the SHA-256 of its object's bytes; null only for the very first digest. */
  previous: { hour: string; sha256: string } | null;
  /** Every object archived in the hour, by key, once each, sorted by key. */
  objects: ArchivedObjectEntry[];
  /** For each stream with an object in the hour: the highest seq archived in the hour and that event's hash. */
  heads: Record<string, { seq: number; hash: string }>;
  /** When the digest was signed: later than the hour's end by the digester's delay, or more when it caught up. */
  signedAt: string;
  /** The signing key as KMS names it (key ARN), and the SHA-256 of its DER public key (published under digests/keys/). */
  keyId: string;
  publicKeySha256: string;
  signingAlgorithm: typeof DIGEST_SIGNING_ALGORITHM;
}

/** The digest object as stored: the body and a base64 DER ECDSA signature over `digestSigningInput(body)`. */
export interface SignedDigest {
  digest: DigestBody;
  signature: string;
}

/** The bytes that are signed: the canonical JSON of the body (KMS signs their SHA-256 with MessageType DIGEST). */
export function digestSigningInput(body: DigestBody): Buffer {
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** The stored bytes of a signed digest; their SHA-256 is what the next digest's `previous.sha256` holds. */
export function signedDigestBytes(signed: SignedDigest): Buffer {
  return Buffer.from(`${canonicalJson(signed)}\n`, 'utf8');
}

/** The digest body of one hour, with objects deduplicated by key and sorted, and the heads they imply. */
export function buildDigestBody(input: {
  hour: Date;
  previous: { hour: Date; bytes: Uint8Array } | undefined;
  objects: readonly ArchivedObjectEntry[];
  signedAt: Date;
  keyId: string;
  publicKeySha256: string;
}): DigestBody {
  const byKey = new Map<string, ArchivedObjectEntry>();
  for (const entry of input.objects) if (!byKey.has(entry.key)) byKey.set(entry.key, entry);
  const objects = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const heads: DigestBody['heads'] = {};
  for (const entry of objects) {
    const head = heads[entry.stream];
    if (!head || entry.seq > head.seq) heads[entry.stream] = { seq: entry.seq, hash: entry.hash };
  }
  return {
    schema: DIGEST_SCHEMA,
    hour: input.hour.toISOString(),
    previous: input.previous
      ? { hour: input.previous.hour.toISOString(), sha256: sha256Hex(input.previous.bytes) }
      : null,
    objects,
    heads,
    signedAt: input.signedAt.toISOString(),
    keyId: input.keyId,
    publicKeySha256: input.publicKeySha256,
    signingAlgorithm: DIGEST_SIGNING_ALGORITHM,
  };
}

/** The SHA-256 of a PEM public key's DER SubjectPublicKeyInfo: how digests and the published key files name it. */
export function publicKeySha256(publicKeyPem: string | KeyObject): string {
  const key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

/** Whether `signed.signature` is a valid ECDSA P-256 SHA-256 signature of its body by `publicKeyPem`. */
export function digestSignatureValid(signed: SignedDigest, publicKeyPem: string): boolean {
  try {
    return verifySignature(
      'sha256',
      digestSigningInput(signed.digest),
      { key: createPublicKey(publicKeyPem), dsaEncoding: 'der' },
      Buffer.from(signed.signature, 'base64'),
    );
  } catch {
    return false;
  }
}
