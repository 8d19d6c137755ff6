/**
 * The heart of `gatehouse audit verify` (DESIGN.md section 2.5): given the digests, the archived objects and (when
 * there is one) DynamoDB's side of a time range, names every problem with its location — a digest key, an object key,
 * or a stream, seq and event id. Pure: the readers (evidence-reader.ts for a bucket, the export directory reader for an
 * export) fetch the bytes; this decides what they prove.
 */
import * as z from 'zod';
import { verifyChain, type ChainHead, type ChainProblemKind } from '../audit/chain.ts';
import type { AuditEvent } from '../audit/event.ts';
import {
  HOUR_MS,
  archiveObjectBody,
  archiveObjectKey,
  digestKey,
  hourStart,
  parseArchiveObjectKey,
  parseDigestKey,
  sha256Hex,
  type ArchivedObjectEntry,
} from './archive-layout.ts';
import { DIGEST_DELAY_MS } from './digester.ts';
import {
  DIGEST_SCHEMA,
  DIGEST_SIGNING_ALGORITHM,
  digestSignatureValid,
  publicKeySha256,
  type SignedDigest,
} from './digest.ts';

export type EvidenceProblemKind =
  /** A digest object is not a signed digest, or names another hour than its key. */
  | 'digest-unreadable'
  /** A digest's signature does not verify with the key it names: forged or altered. */
  | 'digest-forged'
  /** A digest is signed by a key that is neither pinned nor published. */
  | 'digest-unknown-key'
  /** A digest's `previous` does not name the previous hour's digest or its SHA-256. */
  | 'digest-link'
  /** No digest for an hour that should have one by now. */
  | 'digest-missing'
  /** A digest lists an object the archive does not hold. */
  | 'object-missing'
  /** An object's SHA-256 differs from its digest entry. */
  | 'object-altered'
  /** An object's content (stream, seq, id or time) disagrees with its key. */
  | 'object-misplaced'
  /** An object is not an event's canonical JSON. */
  | 'object-unreadable'
  /** An object no digest lists, though its hour's digest is due. */
  | 'object-undigested'
  /** A stream's chain, as the archive or DynamoDB holds it (`location.source`). */
  | `chain-${ChainProblemKind}`
  /** An event in DynamoDB has no archived object. */
  | 'not-archived'
  /** An archived event is not in DynamoDB. */
  | 'not-in-dynamodb'
  /** An archived object's bytes are not those of the DynamoDB event. */
  | 'archive-differs'
  /** An export's file is missing, unlisted, or not the bytes its manifest.json records. */
  | 'export-file';

export interface EvidenceLocation {
  source?: 'archive' | 'dynamodb';
  digestKey?: string;
  objectKey?: string;
  stream?: string;
  seq?: number;
  eventId?: string;
  /** A file of an export, relative to its directory. */
  file?: string;
}

export interface EvidenceProblem {
  kind: EvidenceProblemKind;
  location: EvidenceLocation;
  /** What is wrong, with its location; never an event's content. */
  message: string;
}

/** An object as a reader found it: its key, its bytes and, from a bucket, when it was written. */
export interface StoredObject {
  key: string;
  bytes: Uint8Array;
  writtenAt?: Date;
}

/** The trust anchor: one pinned public key, or the keys published in the archive (by the SHA-256 of their DER). */
export type DigestTrust = { pinned: string } | { published: ReadonlyMap<string, string> };

export interface EvidenceInput {
  /** The events' time range, `from <= time < to`; undefined for everything the source holds. */
  range?: { from: Date; to: Date };
  /** The archive hours whose digests are checked, `[from, to)`; hours not yet due by `now` are not expected. */
  digestHours: { from: Date; to: Date };
  /** Those hours' digests, and the one of the hour before `digestHours.from` for the first link. */
  digests: readonly StoredObject[];
  /** The archived event objects of the range. */
  objects: readonly StoredObject[];
  /**
   * How a stream's objects are ordered: by the seq in their keys (a bucket listing), or as listed (an export's
   * events.jsonl, whose order is part of what is checked).
   */
  order: 'key' | 'listed';
  /** DynamoDB's events of the range, when the source of truth is at hand (not for an export). */
  dynamoEvents?: readonly AuditEvent[];
  trust: DigestTrust;
  now: Date;
  /** The digester's delay after an hour ends. */
  digestDelayMs?: number;
}

export interface EvidenceSummary {
  /** Digests checked (in `digestHours`). */
  digests: number;
  objects: number;
  /** DynamoDB events compared. */
  events: number;
  streams: number;
  /** Objects or events not yet covered (archived after the newest digest, or written moments ago): not problems. */
  pending: number;
  /** The keys the digests are signed with, by fingerprint, with how many digests each signed. */
  keys: { sha256: string; keyIds: string[]; digests: number }[];
}

export interface EvidenceReport {
  summary: EvidenceSummary;
  problems: EvidenceProblem[];
}

/** How long an event may wait for the archiver (stream lag, retries) before its absence from the archive is a gap. */
export const ARCHIVE_LAG_MS = 15 * 60_000;

const SignedDigestSchema = z.object({
  digest: z.object({
    schema: z.literal(DIGEST_SCHEMA),
    hour: z.string(),
    previous: z.object({ hour: z.string(), sha256: z.string() }).nullable(),
    objects: z.array(
      z.object({
        key: z.string(),
        sha256: z.string(),
        eventId: z.string(),
        stream: z.string(),
        seq: z.number(),
        hash: z.string(),
        time: z.string(),
      }),
    ),
    heads: z.record(z.string(), z.object({ seq: z.number(), hash: z.string() })),
    signedAt: z.string(),
    keyId: z.string(),
    publicKeySha256: z.string(),
    signingAlgorithm: z.literal(DIGEST_SIGNING_ALGORITHM),
  }),
  signature: z.string(),
});

interface ParsedDigest {
  key: string;
  hour: Date;
  bytes: Uint8Array;
  signed: SignedDigest;
}

/** Checks everything the input holds and reports every problem found. */
export function verifyEvidence(input: EvidenceInput): EvidenceReport {
  const problems: EvidenceProblem[] = [];
  const delayMs = input.digestDelayMs ?? DIGEST_DELAY_MS;

  const digests = parseDigests(input.digests, problems);
  const checked = [...digests.values()].filter(
    (digest) => digest.hour >= input.digestHours.from && digest.hour < input.digestHours.to,
  );
  const keys = checkSignatures(checked, input.trust, problems);
  checkLinks(checked, digests, input.digestHours.from, problems);
  checkMissingHours(digests, input.digestHours, (hour) => isDigestDue(hour, input.now, delayMs), problems);

  const listed = new Map<string, { entry: ArchivedObjectEntry; digestKey: string }[]>();
  for (const digest of digests.values()) {
    for (const entry of digest.signed.digest.objects) {
      const entries = listed.get(entry.key) ?? [];
      entries.push({ entry, digestKey: digest.key });
      listed.set(entry.key, entries);
    }
  }
  let newestDigestEnd = -Infinity;
  for (const digest of digests.values()) newestDigestEnd = Math.max(newestDigestEnd, digest.hour.getTime() + HOUR_MS);

  let pending = 0;
  const archivedEvents: { event: AuditEvent; key: string; keySeq: number }[] = [];
  const objectKeys = new Set<string>();
  for (const object of input.objects) {
    objectKeys.add(object.key);
    const event = parseEvent(object.bytes);
    const fromKey = parseArchiveObjectKey(object.key);
    const at: EvidenceLocation = {
      source: 'archive',
      objectKey: object.key,
      ...(fromKey ? { stream: fromKey.stream, seq: fromKey.seq, eventId: fromKey.eventId } : {}),
    };
    const sha256 = sha256Hex(object.bytes);
    const entries = listed.get(object.key);
    if (!entries) {
      const writtenAt = object.writtenAt ?? (event ? new Date(event.time) : input.now);
      // Pending: archived after the newest digest's hour ended, and that hour's digest is not yet due.
      if (writtenAt.getTime() >= newestDigestEnd && !isDigestDue(hourStart(writtenAt), input.now, delayMs)) {
        pending += 1;
      } else {
        problems.push(problem('object-undigested', at, `object ${object.key} is not listed in any digest`));
      }
    }
    for (const { entry, digestKey } of entries ?? []) {
      if (entry.sha256 !== sha256) {
        problems.push(
          problem(
            'object-altered',
            { ...at, digestKey },
            `object ${object.key}: its SHA-256 is not the one digest ${digestKey} lists: altered`,
          ),
        );
      }
    }
    if (!event) {
      problems.push(problem('object-unreadable', at, `object ${object.key} is not an audit event's canonical JSON`));
      continue;
    }
    const expectedKey = keyOf(event);
    if (expectedKey !== object.key) {
      problems.push(
        problem(
          'object-misplaced',
          at,
          `object ${object.key} holds ${describeEvent(event)}, whose key is ${expectedKey ?? 'not derivable'}`,
        ),
      );
    }
    archivedEvents.push({ event, key: object.key, keySeq: fromKey?.seq ?? event.chain.seq });
  }

  for (const [key, entries] of listed) {
    if (objectKeys.has(key)) continue;
    for (const { entry, digestKey } of entries) {
      if (input.range && !inRange(new Date(entry.time), input.range)) continue;
      problems.push(
        problem(
          'object-missing',
          {
            source: 'archive',
            digestKey,
            objectKey: key,
            stream: entry.stream,
            seq: entry.seq,
            eventId: entry.eventId,
          },
          `object ${key} (stream ${entry.stream}, seq ${entry.seq}, event ${entry.eventId}) is listed in digest ${digestKey} but missing from the archive`,
        ),
      );
    }
  }

  const archiveOrder = input.order === 'key' ? stableSortBy(archivedEvents, (item) => item.keySeq) : archivedEvents;
  const keyById = new Map(archivedEvents.map((item) => [item.event.id, item.key]));
  const streams = new Set<string>();
  checkStreams(
    archiveOrder.map((item) => item.event),
    'archive',
    input.range !== undefined,
    keyById,
    problems,
    streams,
  );

  let events = 0;
  if (input.dynamoEvents) {
    events = input.dynamoEvents.length;
    const bySeq = stableSortBy([...input.dynamoEvents], (event) => event.chain?.seq ?? 0);
    checkStreams(bySeq, 'dynamodb', input.range !== undefined, new Map(), problems, streams);
    const completeness = checkCompleteness(input.dynamoEvents, input.objects, {
      archivedBy: new Date(input.now.getTime() - ARCHIVE_LAG_MS),
    });
    problems.push(...completeness.problems);
    pending += completeness.pending;
  }

  return {
    summary: { digests: checked.length, objects: input.objects.length, events, streams: streams.size, pending, keys },
    problems,
  };
}

/**
 * DynamoDB against the archive: every event archived, with exactly its canonical bytes, and every archived event still
 * in DynamoDB. Events newer than `archivedBy` that are not archived yet are counted as pending, not as gaps. Used by
 * `audit verify`, the daily reconciliation and the archiver's fault tests.
 */
export function checkCompleteness(
  dynamoEvents: readonly AuditEvent[],
  archived: readonly StoredObject[],
  options: { archivedBy?: Date } = {},
): { problems: EvidenceProblem[]; pending: number } {
  const problems: EvidenceProblem[] = [];
  const archivedById = new Map<string, StoredObject>();
  for (const object of archived) {
    const eventId = parseArchiveObjectKey(object.key)?.eventId;
    if (eventId) archivedById.set(eventId, object);
  }
  let pending = 0;
  const seen = new Set<string>();
  for (const event of dynamoEvents) {
    seen.add(event.id);
    const object = archivedById.get(event.id);
    const at: EvidenceLocation = {
      source: 'dynamodb',
      stream: event.chain?.stream,
      seq: event.chain?.seq,
      eventId: event.id,
    };
    if (!object) {
      if (options.archivedBy && event.time >= options.archivedBy.toISOString()) {
        pending += 1;
        continue;
      }
      const key = keyOf(event);
      problems.push(
        problem(
          'not-archived',
          { ...at, ...(key ? { objectKey: key } : {}) },
          `${describeEvent(event)} is in DynamoDB but not archived${key ? ` (expected ${key})` : ''}`,
        ),
      );
    } else if (Buffer.compare(Buffer.from(object.bytes), archiveObjectBody(event)) !== 0) {
      problems.push(
        problem(
          'archive-differs',
          { ...at, objectKey: object.key },
          `object ${object.key} differs from ${describeEvent(event)} in DynamoDB`,
        ),
      );
    }
  }
  for (const [eventId, object] of archivedById) {
    if (seen.has(eventId)) continue;
    const fromKey = parseArchiveObjectKey(object.key)!;
    problems.push(
      problem(
        'not-in-dynamodb',
        { source: 'archive', objectKey: object.key, stream: fromKey.stream, seq: fromKey.seq, eventId },
        `object ${object.key} (stream ${fromKey.stream}, seq ${fromKey.seq}, event ${eventId}) is archived but missing from DynamoDB`,
      ),
    );
  }
  return { problems, pending };
}

/** One line per problem kind a person can act on: the location first, then what is wrong. */
export function formatProblem(found: EvidenceProblem): string {
  return `${found.kind}: ${found.message}`;
}

function parseDigests(stored: readonly StoredObject[], problems: EvidenceProblem[]): Map<number, ParsedDigest> {
  const byHour = new Map<number, ParsedDigest>();
  for (const { key, bytes } of stored) {
    const hour = parseDigestKey(key);
    let signed: SignedDigest | undefined;
    try {
      signed = SignedDigestSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8'))) as SignedDigest;
    } catch {
      signed = undefined;
    }
    if (!hour || !signed) {
      problems.push(problem('digest-unreadable', { digestKey: key }, `digest ${key} is not a signed digest`));
      continue;
    }
    if (signed.digest.hour !== hour.toISOString()) {
      problems.push(
        problem('digest-unreadable', { digestKey: key }, `digest ${key} is the digest of ${signed.digest.hour}`),
      );
      continue;
    }
    byHour.set(hour.getTime(), { key, hour, bytes, signed });
  }
  return byHour;
}

function checkSignatures(
  digests: readonly ParsedDigest[],
  trust: DigestTrust,
  problems: EvidenceProblem[],
): EvidenceSummary['keys'] {
  const pinnedSha = 'pinned' in trust ? publicKeySha256(trust.pinned) : undefined;
  const keys = new Map<string, { sha256: string; keyIds: Set<string>; digests: number }>();
  for (const { key, signed } of digests) {
    const { publicKeySha256: sha, keyId } = signed.digest;
    const pem = 'pinned' in trust ? (sha === pinnedSha ? trust.pinned : undefined) : trust.published.get(sha);
    // A published key file must be the key its name says: else anyone who can write the bucket could swap it.
    if (!pem || publicKeySha256(pem) !== sha) {
      problems.push(
        problem(
          'digest-unknown-key',
          { digestKey: key },
          `digest ${key} is signed by key ${sha} (${keyId}), which is ${'pinned' in trust ? 'not the pinned key' : 'not published'}`,
        ),
      );
      continue;
    }
    const used = keys.get(sha) ?? { sha256: sha, keyIds: new Set<string>(), digests: 0 };
    used.keyIds.add(keyId);
    used.digests += 1;
    keys.set(sha, used);
    if (!digestSignatureValid(signed, pem)) {
      problems.push(
        problem('digest-forged', { digestKey: key }, `digest ${key}: the signature does not verify with key ${sha}`),
      );
    }
  }
  return [...keys.values()].map((used) => ({ ...used, keyIds: [...used.keyIds].sort() }));
}

function checkLinks(
  digests: readonly ParsedDigest[],
  all: ReadonlyMap<number, ParsedDigest>,
  firstCheckedHour: Date,
  problems: EvidenceProblem[],
): void {
  for (const digest of digests) {
    const previousHour = new Date(digest.hour.getTime() - HOUR_MS);
    const stored = all.get(previousHour.getTime());
    const { previous } = digest.signed.digest;
    const at = { digestKey: digest.key };
    if (previous === null) {
      if (stored) {
        problems.push(
          problem('digest-link', at, `digest ${digest.key} claims to be the first, but ${stored.key} precedes it`),
        );
      }
      continue;
    }
    if (previous.hour !== previousHour.toISOString()) {
      problems.push(
        problem(
          'digest-link',
          at,
          `digest ${digest.key} links to hour ${previous.hour}, not ${previousHour.toISOString()}`,
        ),
      );
    } else if (!stored) {
      // Inside the checked hours the missing-hour check names it; before them, only this link shows it.
      if (previousHour < firstCheckedHour) {
        problems.push(
          problem(
            'digest-missing',
            { digestKey: digestKey(previousHour) },
            `digest of hour ${previousHour.toISOString()} is missing (${digest.key} links to it)`,
          ),
        );
      }
    } else if (sha256Hex(stored.bytes) !== previous.sha256) {
      problems.push(
        problem('digest-link', at, `digest ${digest.key}: the SHA-256 of ${stored.key} is not the one it links to`),
      );
    }
  }
}

/** Names every due hour with no digest, as runs of hours, from the first digest (or the checked hours' start) on. */
function checkMissingHours(
  digests: ReadonlyMap<number, ParsedDigest>,
  hours: { from: Date; to: Date },
  isDue: (hour: Date) => boolean,
  problems: EvidenceProblem[],
): void {
  if (digests.size === 0) return;
  const earliest = [...digests.values()].reduce((a, b) => (a.hour < b.hour ? a : b));
  // Nothing is expected before the very first digest (the one with no predecessor).
  const start =
    earliest.signed.digest.previous === null
      ? Math.max(earliest.hour.getTime(), hours.from.getTime())
      : hours.from.getTime();
  let run: Date[] = [];
  const flush = () => {
    if (run.length === 0) return;
    const first = run[0]!;
    const last = run[run.length - 1]!;
    problems.push(
      problem(
        'digest-missing',
        { digestKey: digestKey(first) },
        run.length === 1
          ? `digest of hour ${first.toISOString()} is missing (${digestKey(first)})`
          : `digests of hours ${first.toISOString()} to ${last.toISOString()} (${run.length} hours) are missing`,
      ),
    );
    run = [];
  };
  for (let time = start; time < hours.to.getTime(); time += HOUR_MS) {
    const hour = new Date(time);
    if (!digests.has(time) && isDue(hour)) run.push(hour);
    else flush();
  }
  flush();
}

/** A digest is overdue an hour after the run that should have written it (the hour's end plus the delay). */
function isDigestDue(hour: Date, now: Date, delayMs: number): boolean {
  return hour.getTime() + 2 * HOUR_MS + delayMs <= now.getTime();
}

/**
 * Every stream's chain: first the order the source gives (a later seq before an earlier one is an `order` problem),
 * then the chain in seq order with `verifyChain`. With a range, a stream that began before it is anchored on its first
 * event's own `prev`; with everything, every stream must start at seq 1.
 */
function checkStreams(
  events: readonly AuditEvent[],
  source: 'archive' | 'dynamodb',
  anchored: boolean,
  keyById: ReadonlyMap<string, string>,
  problems: EvidenceProblem[],
  streams: Set<string>,
): void {
  const byStream = new Map<string, AuditEvent[]>();
  for (const event of events) {
    const stream = event.chain?.stream ?? '';
    const listed = byStream.get(stream);
    if (listed) listed.push(event);
    else byStream.set(stream, [event]);
  }
  for (const [stream, listed] of byStream) {
    streams.add(stream);
    const locate = (seq: number, eventId: string): EvidenceLocation => {
      const objectKey = keyById.get(eventId);
      return { source, stream, seq, eventId, ...(objectKey ? { objectKey } : {}) };
    };
    let highest = 0;
    for (const event of listed) {
      const seq = event.chain?.seq ?? 0;
      if (seq < highest) {
        problems.push(
          problem(
            'chain-order',
            locate(seq, event.id),
            `${source}: stream ${stream}, seq ${seq}, event ${event.id} comes after seq ${highest}: out of chain order`,
          ),
        );
      }
      highest = Math.max(highest, seq);
    }
    const bySeq = stableSortBy(listed, (event) => event.chain?.seq ?? 0);
    const first = bySeq[0]!;
    const after: ChainHead | undefined =
      anchored && first.chain?.seq > 1 ? { seq: first.chain.seq - 1, hash: first.chain.prev } : undefined;
    for (const found of verifyChain(bySeq, { stream, ...(after ? { after } : {}) })) {
      problems.push(
        problem(
          `chain-${found.kind}`,
          locate(found.seq, found.eventId),
          `${source}: stream ${stream}, ${found.message}`,
        ),
      );
    }
  }
}

function parseEvent(bytes: Uint8Array): AuditEvent | undefined {
  try {
    const event = JSON.parse(Buffer.from(bytes).toString('utf8')) as AuditEvent;
    return typeof event?.id === 'string' && typeof event.time === 'string' && event.chain ? event : undefined;
  } catch {
    return undefined;
  }
}

function keyOf(event: AuditEvent): string | undefined {
  try {
    return archiveObjectKey(event);
  } catch {
    return undefined;
  }
}

function describeEvent(event: AuditEvent): string {
  return `stream ${event.chain?.stream}, seq ${event.chain?.seq}, event ${event.id}`;
}

function inRange(time: Date, range: { from: Date; to: Date }): boolean {
  return time >= range.from && time < range.to;
}

function stableSortBy<T>(items: readonly T[], by: (item: T) => number): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => by(a.item) - by(b.item) || a.index - b.index)
    .map(({ item }) => item);
}

function problem(kind: EvidenceProblemKind, location: EvidenceLocation, message: string): EvidenceProblem {
  return { kind, location, message };
}
