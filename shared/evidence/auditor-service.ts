/**
 * What auditors read: events by query (GET /v1/events) and evidence for a range (GET /v1/evidence): the events, then
 * the signed digests that cover them as their exact stored bytes, and the public keys those name. Only members of
 * `auditors` may read; every read and every refusal is itself recorded (filters and counts, never event contents),
 * before the answer, so a read that cannot be recorded does not happen (fail closed).
 */
import { createHash } from 'node:crypto';
import { ForbiddenError, NotFoundError, RequestValidationError } from '../access/errors.ts';
import type { AuditActor, AuditEvent, AuditEventInput } from '../audit/event.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { isMemberOf } from '../identity/membership.ts';
import type { Principal } from '../model.ts';
import type { AuditSink, Clock } from '../ports.ts';
import { digestKey, hourStart, HOUR_MS, publicKeyKey } from './archive-layout.ts';
import type { SignedDigest } from './digest.ts';
import {
  decodeCursor,
  encodeCursor,
  MAX_PAGE_BYTES,
  MAX_PAGE_SIZE,
  parseEventQuery,
  parseEvidenceQuery,
  queryId,
  readEventPage,
  type Cursor,
  type TimeRange,
} from './event-query.ts';
import type { ArchiveStore, AuditEventTimeline } from './ports.ts';

/** Digests one evidence page reads at most, so a page answers well within API Gateway's 29 s. */
export const MAX_DIGEST_READS_PER_PAGE = 96;

export interface AuditorServiceDeps {
  config: GatehouseConfig;
  timeline: AuditEventTimeline;
  /** The audit bucket; only the evidence export reads it. */
  archive?: ArchiveStore;
  audit: AuditSink;
  clock: Clock;
}

export interface EventsAnswer {
  range: { from: string; to: string };
  events: AuditEvent[];
  /** Continues the query; null on its last page. */
  nextCursor: string | null;
}

/** A digest as stored: `body` holds its exact bytes (UTF-8), since re-serialising could change what is signed. */
export interface StoredDigest {
  hour: string;
  key: string;
  body: string;
}

export interface StoredPublicKey {
  sha256: string;
  key: string;
  pem: string;
}

export interface EvidenceAnswer extends EventsAnswer {
  digests: StoredDigest[];
  publicKeys: StoredPublicKey[];
  /** On the last page: how many exported events no digest read lists (archived in an hour not digested yet). */
  coverage?: { exportedEvents: number; uncoveredEvents: number };
  /** Asked with `recording`: that part of a session recording (and no events or digests). */
  recording?: RecordingPart;
}

/** A part of a session recording, as stored: `body` is base64 of its bytes from `offset`. */
export interface RecordingPart {
  key: string;
  offset: number;
  /** The whole recording's bytes. */
  size: number;
  body: string;
  /** Where the next part starts, or null after the last. */
  nextOffset: number | null;
}

/** Bytes of a recording one answer carries: 3 MiB, 4 MiB as base64, MAX_PAGE_BYTES. */
export const MAX_RECORDING_PART_BYTES = (MAX_PAGE_BYTES / 4) * 3;

export class AuditorService {
  constructor(private readonly deps: AuditorServiceDeps) {}

  /** A page of the events that match the query's filters. */
  async queryEvents(principal: Principal, params: Record<string, string | undefined>): Promise<EventsAnswer> {
    await this.requireAuditor(principal, 'events');
    const { range, filters, limit, cursor } = parseEventQuery(params, this.deps.clock.now());
    const id = queryId('events', range, filters);
    const position = cursor ? decodeCursor(cursor, id) : undefined;
    if (position && position.phase !== 'events') throw new RequestValidationError('not a cursor of an events query');
    const page = await readEventPage(this.deps.timeline, {
      range,
      filters,
      limit,
      maxBytes: MAX_PAGE_BYTES,
      ...(position ? { after: position.after } : {}),
    });
    const returned = (position?.returned ?? 0) + page.events.length;
    await this.deps.audit.append(
      this.readEvent(principal, 'audit.queried', {
        range: isoRange(range),
        filters,
        limit,
        continued: position !== undefined,
        returned: page.events.length,
        scanned: page.scanned,
        more: page.next !== undefined,
      }),
    );
    return {
      range: isoRange(range),
      events: page.events,
      nextCursor: page.next ? encodeCursor({ v: 1, q: id, phase: 'events', after: page.next, returned }) : null,
    };
  }

  /**
   * A page of the evidence of a range: events first (as GET /v1/events pages them, unfiltered); once they are all out,
   * the digests from the hour before the range (its link anchors the chain of those after) on, until every exported
   * event is listed in one, or the current hour (whose digest is normally not written yet) has been looked at.
   */
  async exportEvidence(principal: Principal, params: Record<string, string | undefined>): Promise<EvidenceAnswer> {
    await this.requireAuditor(principal, 'evidence');
    const { range, cursor, recording } = parseEvidenceQuery(params);
    if (recording) return this.exportRecordingPart(principal, range, recording);
    const id = queryId('evidence', range);
    let position: Cursor | undefined = cursor ? decodeCursor(cursor, id) : undefined;
    const answer: EvidenceAnswer = {
      range: isoRange(range),
      events: [],
      nextCursor: null,
      digests: [],
      publicKeys: [],
    };
    let budget = MAX_PAGE_BYTES;

    if (position === undefined || position.phase === 'events') {
      const page = await readEventPage(this.deps.timeline, {
        range,
        filters: {},
        limit: MAX_PAGE_SIZE,
        maxBytes: MAX_PAGE_BYTES,
        ...(position ? { after: position.after } : {}),
      });
      answer.events = page.events;
      budget -= page.bytes;
      const returned = (position?.returned ?? 0) + page.events.length;
      position = page.next
        ? { v: 1, q: id, phase: 'events', after: page.next, returned }
        : {
            v: 1,
            q: id,
            phase: 'digests',
            hour: new Date(hourStart(range.from).getTime() - HOUR_MS).toISOString(),
            uncovered: returned,
            exported: returned,
          };
    }
    if (position.phase === 'digests') {
      const walk = await this.walkDigests(range, position, budget, answer.events.length > 0);
      answer.digests = walk.digests;
      answer.publicKeys = walk.publicKeys;
      if (walk.next) position = walk.next;
      else {
        answer.coverage = { exportedEvents: position.exported, uncoveredEvents: walk.uncovered };
        position = undefined;
      }
    }
    answer.nextCursor = position ? encodeCursor(position) : null;

    await this.deps.audit.append(
      this.readEvent(principal, 'evidence.exported', {
        range: answer.range,
        continued: cursor !== undefined,
        events: answer.events.length,
        digests: answer.digests.map((digest) => digest.hour),
        publicKeys: answer.publicKeys.map((key) => key.sha256),
        ...(answer.coverage ? { coverage: answer.coverage } : {}),
        more: answer.nextCursor !== null,
      }),
    );
    return answer;
  }

  /**
   * A part of a session recording named by a session.ended event of the export (`gatehouse evidence` asks for each it
   * found). Only keys of the recordings' layout are read, so this reads no other object of the bucket. The part is
   * recorded like every evidence read.
   */
  private async exportRecordingPart(
    principal: Principal,
    range: TimeRange,
    requested: { key: string; offset: number },
  ): Promise<EvidenceAnswer> {
    const stored = await this.requireArchive().get(requested.key);
    if (!stored) throw new NotFoundError(`no recording ${requested.key} in the audit bucket`);
    if (requested.offset > stored.byteLength) {
      throw new RequestValidationError(
        `the query is invalid: offset: beyond the recording's ${stored.byteLength} bytes`,
        [{ path: 'offset', message: `beyond the recording's ${stored.byteLength} bytes` }],
      );
    }
    const end = Math.min(stored.byteLength, requested.offset + MAX_RECORDING_PART_BYTES);
    const part: RecordingPart = {
      key: requested.key,
      offset: requested.offset,
      size: stored.byteLength,
      body: Buffer.from(stored.subarray(requested.offset, end)).toString('base64'),
      nextOffset: end < stored.byteLength ? end : null,
    };
    await this.deps.audit.append(
      this.readEvent(principal, 'evidence.exported', {
        range: isoRange(range),
        recording: { key: part.key, offset: part.offset, bytes: end - part.offset },
        more: part.nextOffset !== null,
      }),
    );
    return { range: isoRange(range), events: [], nextCursor: null, digests: [], publicKeys: [], recording: part };
  }

  /**
   * Reads digests hour by hour from the cursor's hour, counting the exported events each lists for the first time,
   * until none is left uncovered, the current hour has been looked at, or the page's bytes or reads run out.
   */
  private async walkDigests(
    range: TimeRange,
    position: Extract<Cursor, { phase: 'digests' }>,
    budget: number,
    pageHasEvents: boolean,
  ): Promise<{
    digests: StoredDigest[];
    publicKeys: StoredPublicKey[];
    uncovered: number;
    next?: Extract<Cursor, { phase: 'digests' }>;
  }> {
    const archive = this.requireArchive();
    const listings = new DigestListings(archive);
    const currentHour = hourStart(this.deps.clock.now()).getTime();
    const digests: StoredDigest[] = [];
    const keyHashes = new Set<string>();
    let uncovered = position.uncovered;
    let hour = Date.parse(position.hour);
    let bytes = 0;
    let reads = 0;
    while (uncovered > 0 && hour <= currentHour) {
      if (reads === MAX_DIGEST_READS_PER_PAGE) break;
      const key = digestKey(new Date(hour));
      const stored = await archive.get(key);
      reads += 1;
      if (stored) {
        // A page always carries something: a digest larger than the budget goes alone on a page of its own.
        if ((digests.length > 0 || pageHasEvents) && bytes + stored.byteLength > budget) break;
        const body = Buffer.from(stored).toString('utf8');
        digests.push({ hour: new Date(hour).toISOString(), key, body });
        bytes += stored.byteLength;
        const signed = parseSignedDigest(body);
        if (signed) {
          keyHashes.add(signed.digest.publicKeySha256);
          uncovered -= await listings.firstListedIn(signed, hour, range);
        }
      }
      hour += HOUR_MS;
    }
    const done = uncovered <= 0 || hour > currentHour;
    const publicKeys = await this.publicKeys(archive, keyHashes);
    return {
      digests,
      publicKeys,
      uncovered: Math.max(uncovered, 0),
      ...(done ? {} : { next: { ...position, hour: new Date(hour).toISOString(), uncovered } }),
    };
  }

  private async publicKeys(archive: ArchiveStore, hashes: Set<string>): Promise<StoredPublicKey[]> {
    const keys: StoredPublicKey[] = [];
    for (const sha256 of hashes) {
      if (!/^[0-9a-f]{64}$/.test(sha256)) continue;
      const key = publicKeyKey(sha256);
      const pem = await archive.get(key);
      // A missing key is left for `audit verify` to report; the export carries what the archive holds.
      if (pem) keys.push({ sha256, key, pem: Buffer.from(pem).toString('utf8') });
    }
    return keys;
  }

  private requireArchive(): ArchiveStore {
    if (!this.deps.archive) throw new Error('this function has no audit bucket (AUDIT_BUCKET) to read digests from');
    return this.deps.archive;
  }

  private async requireAuditor(principal: Principal, route: 'events' | 'evidence'): Promise<void> {
    if (isMemberOf(principal, this.deps.config.auditors)) return;
    await this.deps.audit.append(this.readEvent(principal, 'audit.read.refused', { route, reason: 'not an auditor' }));
    throw new ForbiddenError('only auditors may read audit events and evidence');
  }

  /** Auditor reads chain per day and per principal shard: readers contend only with themselves. */
  private readEvent(
    principal: Principal,
    type: 'audit.queried' | 'evidence.exported' | 'audit.read.refused',
    details: Record<string, unknown>,
  ): AuditEventInput {
    const shard = createHash('sha256').update(principal.id).digest()[0]! % 16;
    const day = this.deps.clock.now().toISOString().slice(0, 10);
    const actor: AuditActor = { id: principal.id, issuer: principal.issuer, groups: principal.groups };
    return { type, stream: `auditor/${day}/${shard}`, actor, details };
  }
}

function isoRange(range: TimeRange): { from: string; to: string } {
  return { from: range.from.toISOString(), to: range.to.toISOString() };
}

/** A stored digest's parsed shape, or undefined when it is not one (left for `audit verify` to report). */
function parseSignedDigest(body: string): SignedDigest | undefined {
  try {
    const value = JSON.parse(body) as SignedDigest;
    return Array.isArray(value?.digest?.objects) && typeof value.digest.publicKeySha256 === 'string'
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Which digest first lists an object. A replayed archiver batch lists objects it found already written, so one key can
 * appear in two digests; it covers an exported event once, in the first. An object is archived no earlier than its
 * event's hour, so only the digests from that hour up to the current one need a look (read once per page).
 */
class DigestListings {
  private readonly keysByHour = new Map<number, Promise<Set<string>>>();

  constructor(private readonly archive: ArchiveStore) {}

  /** How many objects of events in `range` this digest (of `hour`) lists for the first time. */
  async firstListedIn(signed: SignedDigest, hour: number, range: TimeRange): Promise<number> {
    this.keysByHour.set(hour, Promise.resolve(new Set(signed.digest.objects.map((object) => object.key))));
    const from = range.from.toISOString();
    const to = range.to.toISOString();
    let count = 0;
    for (const object of new Map(signed.digest.objects.map((o) => [o.key, o])).values()) {
      if (typeof object.time !== 'string' || object.time < from || object.time >= to) continue;
      if (!(await this.listedBefore(object.key, hourStart(new Date(object.time)).getTime(), hour))) count += 1;
    }
    return count;
  }

  private async listedBefore(key: string, firstHour: number, hour: number): Promise<boolean> {
    for (let earlier = firstHour; earlier < hour; earlier += HOUR_MS) {
      if ((await this.keysOf(earlier)).has(key)) return true;
    }
    return false;
  }

  private keysOf(hour: number): Promise<Set<string>> {
    let keys = this.keysByHour.get(hour);
    if (!keys) {
      keys = this.archive.get(digestKey(new Date(hour))).then((stored) => {
        const signed = stored ? parseSignedDigest(Buffer.from(stored).toString('utf8')) : undefined;
        return new Set(signed?.digest.objects.map((object) => object.key) ?? []);
      });
      this.keysByHour.set(hour, keys);
    }
    return keys;
  }
}
