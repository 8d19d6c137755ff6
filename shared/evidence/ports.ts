/**
 * What the evidence use cases need from the outside world: the archive bucket, a signing key, the events by time and
 * the archiver's dead letters.
 */
import type { AuditEvent } from '../audit/event.ts';

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

/** The events of a time range from the source of truth (DynamoDB); `DynamoDbChainStore` implements it as it is. */
export interface AuditEventRange {
  /** The events with `from <= time < to`, in time order. */
  queryRange(from: Date, to: Date): Promise<AuditEvent[]>;
}

/** A message of the archiver's dead-letter queue: the stream's on-failure record, as the queue holds it. */
export interface DeadLetter {
  /** The message's id: the same message received twice has the same id. */
  id: string;
  /** What `delete` needs (SQS's receipt handle). */
  receipt: string;
  /** The message body: the on-failure record's JSON. */
  body: string;
}

/** The archiver's dead-letter queue (SQS in AWS, a JSONL file locally). */
export interface DeadLetters {
  /** Some of the messages not deleted yet; none when the queue is empty. */
  receive(): Promise<DeadLetter[]>;
  /** Removes a message for good: only once what it stood for is archived. */
  delete(letter: DeadLetter): Promise<void>;
}

/** A place in the time order of events: the byTime index sorts by time, then by id. */
export interface EventPosition {
  time: string;
  id: string;
}

/** The events of a time range read lazily in pages, for queries that must stop part way (GET /v1/events). */
export interface AuditEventTimeline {
  /** The events with `from <= time < to` that come after `after` (when given), in (time, id) order. */
  eventsBetween(from: Date, to: Date, after?: EventPosition): AsyncIterable<AuditEvent>;
}
