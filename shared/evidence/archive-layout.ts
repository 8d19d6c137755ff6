/**
 * The audit archive's layout in S3 (DESIGN.md section 2.5): where each event's object, each archiver batch's manifest
 * and each hourly digest live, and what an event's object holds. Pure: the archiver, the digester, the verifier and the
 * evidence export all derive keys and bytes from here, so they cannot disagree.
 *
 *   events/<YYYY-MM-DD>/<HH>/<stream>/<seq, 12 digits>-<event id>.json   one event, by its own time (UTC)
 *   manifests/<YYYY-MM-DD>/<HH>/<batch id>.json                            what one archiver batch wrote, by write time
 *   digests/<YYYY-MM-DD>/<HH>.json                                         the signed digest of one archive hour
 *   digests/keys/<SHA-256 of the DER public key>.pem                       the public keys digests are signed with
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/chain.ts';
import type { AuditEvent } from '../audit/event.ts';

export const EVENTS_PREFIX = 'events/';
export const MANIFESTS_PREFIX = 'manifests/';
export const DIGESTS_PREFIX = 'digests/';
export const PUBLIC_KEYS_PREFIX = 'digests/keys/';

/** Streams are written by Gatehouse itself (`request/<id>`, `grant/<id>`, `session/<id>`, `auth/<day>/<shard>`). */
const STREAM_PATTERN = /^[a-z]+(?:\/[A-Za-z0-9_.:-]+)+$/;
const EVENT_KEY_PATTERN =
  /^events\/(\d{4}-\d{2}-\d{2})\/(\d{2})\/([a-z]+(?:\/[A-Za-z0-9_.:-]+)+)\/(\d{12})-([0-9A-HJKMNP-TV-Z]{26})\.json$/;
const SEQ_DIGITS = 12;

/** Where an archived event's object lives: derived from the event alone, so a replay writes the same key. */
export function archiveObjectKey(event: Pick<AuditEvent, 'id' | 'time' | 'chain'>): string {
  const { stream, seq } = event.chain;
  if (!STREAM_PATTERN.test(stream)) throw new TypeError(`stream "${stream}" cannot name an archive object`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new TypeError(`seq ${seq} cannot name an archive object`);
  return `${EVENTS_PREFIX}${hourPath(new Date(event.time))}/${stream}/${String(seq).padStart(SEQ_DIGITS, '0')}-${event.id}.json`;
}

/** What an archive key says about its event, or undefined when the key is not an event object's. */
export function parseArchiveObjectKey(
  key: string,
): { day: string; hour: string; stream: string; seq: number; eventId: string } | undefined {
  const match = EVENT_KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, day, hour, stream, seq, eventId] = match as unknown as [string, string, string, string, string, string];
  return { day, hour, stream, seq: Number(seq), eventId };
}

/**
 * An event's object: its canonical JSON and a newline. Canonical, so the bytes (and their SHA-256) follow from the event
 * in DynamoDB, and a line of an evidence export's events.jsonl is byte for byte the archived object.
 */
export function archiveObjectBody(event: AuditEvent): Buffer {
  return Buffer.from(`${canonicalJson(event)}\n`, 'utf8');
}

/** Lower-case hex SHA-256. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The key of one archiver batch's manifest, in the hour it is written. */
export function manifestKey(writtenAt: Date, batchId: string): string {
  return `${MANIFESTS_PREFIX}${hourPath(writtenAt)}/${batchId}.json`;
}

/** The prefix of the manifests written in the hour starting at `hour`. */
export function manifestHourPrefix(hour: Date): string {
  return `${MANIFESTS_PREFIX}${hourPath(hour)}/`;
}

/** The key of the digest of the archive hour starting at `hour`. */
export function digestKey(hour: Date): string {
  return `${DIGESTS_PREFIX}${hourPath(hour)}.json`;
}

/** The hour a digest key names, or undefined for any other key. */
export function parseDigestKey(key: string): Date | undefined {
  const match = /^digests\/(\d{4}-\d{2}-\d{2})\/(\d{2})\.json$/.exec(key);
  if (!match) return undefined;
  const hour = new Date(`${match[1]}T${match[2]}:00:00.000Z`);
  return Number.isNaN(hour.getTime()) ? undefined : hour;
}

/** The key of a published public key, by the SHA-256 of its DER SubjectPublicKeyInfo (the digest's `publicKeySha256`). */
export function publicKeyKey(publicKeySha256: string): string {
  return `${PUBLIC_KEYS_PREFIX}${publicKeySha256}.pem`;
}

/** The start of the UTC hour that holds `time`. */
export function hourStart(time: Date): Date {
  const hour = new Date(time.getTime());
  hour.setUTCMinutes(0, 0, 0);
  return hour;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The start of the UTC day that holds `time`. */
export function startOfUtcDay(time: Date): Date {
  return new Date(Math.floor(time.getTime() / DAY_MS) * DAY_MS);
}

/** `YYYY-MM-DD/HH` of the UTC hour holding `time`. */
function hourPath(time: Date): string {
  if (Number.isNaN(time.getTime())) throw new TypeError('an archive key needs a valid time');
  const iso = time.toISOString();
  return `${iso.slice(0, 10)}/${iso.slice(11, 13)}`;
}

/** One archiver batch's record of what it wrote (or found already written): the digester lists these. */
export interface ArchiveManifest {
  schema: 'gatehouse.manifest/v1';
  batchId: string;
  writtenAt: string;
  objects: ArchivedObjectEntry[];
}

/** One archived object as manifests and digests list it. */
export interface ArchivedObjectEntry {
  key: string;
  /** Hex SHA-256 of the object's bytes. */
  sha256: string;
  eventId: string;
  stream: string;
  seq: number;
  /** The event's own hash (its chain link), so a digest names each stream's head. */
  hash: string;
  /** The event's time. */
  time: string;
}

/** The manifest entry of an event's object. */
export function archivedObjectEntry(event: AuditEvent): ArchivedObjectEntry {
  return {
    key: archiveObjectKey(event),
    sha256: sha256Hex(archiveObjectBody(event)),
    eventId: event.id,
    stream: event.chain.stream,
    seq: event.chain.seq,
    hash: event.chain.hash,
    time: event.time,
  };
}
