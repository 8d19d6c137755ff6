/**
 * Exec/attach session recordings as evidence: where the relay stores them (`sessions/<YYYY-MM-DD>/<session id>.cast`
 * in the audit bucket, by the session's start day), what the `session.ended` event says of each (key, SHA-256, bytes),
 * and the check that a recording's bytes are the ones that event names. The event is chained and digested; the
 * recording is not, so this check is what makes a recording evidence. Pure: events and bytes in, answers out.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent } from '../audit/event.ts';
import { EVENTS_PREFIX, HOUR_MS, hourStart } from './archive-layout.ts';
import type { ArchiveStore } from './ports.ts';

export const SESSIONS_PREFIX = 'sessions/';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const RECORDING_KEY = /^sessions\/(\d{4}-\d{2}-\d{2})\/([0-9A-HJKMNP-TV-Z]{26})\.cast$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A session id is the ULID the relay made for it. */
export function isSessionId(value: string): boolean {
  return ULID.test(value);
}

/** The session a recording key names, or undefined when the key is not a recording's (so it can name a file). */
export function parseRecordingKey(key: string): { day: string; sessionId: string } | undefined {
  const match = RECORDING_KEY.exec(key);
  return match ? { day: match[1]!, sessionId: match[2]! } : undefined;
}

/** A session's recording as its `session.ended` event names it. */
export interface SessionRecordingRef {
  sessionId: string;
  grantId?: string;
  requestId?: string;
  /** The session.ended event's time. */
  endedAt: string;
  key: string;
  sha256: string;
  bytes: number;
}

/** What a session.ended event says of the recording: where it is, or why there is none. */
export type SessionRecordingLookup =
  { found: true; recording: SessionRecordingRef; ended: AuditEvent } | { found: false; reason: string };

/** The recording named by a session's `session.ended` event among `events`. */
export function findSessionRecording(events: readonly AuditEvent[], sessionId: string): SessionRecordingLookup {
  const ended = events.find((event) => event.type === 'session.ended' && event.sessionId === sessionId);
  if (!ended) {
    const started = events.some((event) => event.type === 'session.started' && event.sessionId === sessionId);
    return {
      found: false,
      reason: started
        ? `session ${sessionId} has started but not ended: its recording is written when it ends`
        : `no session.ended event for session ${sessionId}`,
    };
  }
  const recording = recordingRefOf(ended);
  if (recording) return { found: true, recording, ended };
  const details = recordingDetails(ended);
  return {
    found: false,
    reason:
      details?.lost === true
        ? `the relay could not store the recording of session ${sessionId} (session.ended says it was lost)`
        : `the session.ended event of session ${sessionId} names no recording`,
  };
}

/** Every stored recording the events name, in event order (one per session). */
export function sessionRecordings(events: readonly AuditEvent[]): SessionRecordingRef[] {
  const seen = new Set<string>();
  const refs: SessionRecordingRef[] = [];
  for (const event of events) {
    if (event.type !== 'session.ended') continue;
    const ref = recordingRefOf(event);
    if (ref && !seen.has(ref.key)) {
      seen.add(ref.key);
      refs.push(ref);
    }
  }
  return refs;
}

/**
 * The recording of a session.ended event, when the event names a stored one whose key is the session's own (an event
 * naming another key, or one that cannot be a file name, is not taken at its word).
 */
function recordingRefOf(event: AuditEvent): SessionRecordingRef | undefined {
  const details = recordingDetails(event);
  if (!details || details.lost === true || !event.sessionId) return undefined;
  const { key, sha256, bytes } = details;
  if (typeof key !== 'string' || typeof sha256 !== 'string' || typeof bytes !== 'number') return undefined;
  if (parseRecordingKey(key)?.sessionId !== event.sessionId || !SHA256_HEX.test(sha256)) return undefined;
  if (!Number.isSafeInteger(bytes) || bytes < 0) return undefined;
  return {
    sessionId: event.sessionId,
    ...(event.grantId ? { grantId: event.grantId } : {}),
    ...(event.requestId ? { requestId: event.requestId } : {}),
    endedAt: event.time,
    key,
    sha256,
    bytes,
  };
}

function recordingDetails(event: AuditEvent): Record<string, unknown> | undefined {
  const recording = event.details?.recording;
  return recording && typeof recording === 'object' ? (recording as Record<string, unknown>) : undefined;
}

/** Why a recording's bytes are not the ones its event names, or undefined when they are. */
export function recordingMismatch(ref: SessionRecordingRef, bytes: Uint8Array): string | undefined {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 === ref.sha256 && bytes.byteLength === ref.bytes) return undefined;
  return (
    `the recording ${ref.key} is not the one session.ended names: SHA-256 ${sha256} (${bytes.byteLength} bytes), ` +
    `expected ${ref.sha256} (${ref.bytes} bytes); it was changed after the session ended`
  );
}

/** Session ids are ULIDs: the first ten characters are the milliseconds of the session's start. */
export function sessionStart(sessionId: string): Date {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let ms = 0;
  for (const char of sessionId.slice(0, 10)) ms = ms * 32 + alphabet.indexOf(char);
  return new Date(ms);
}

/**
 * How long after its start a session's session.ended is looked for in the archive: a session ends with its grant, and
 * a grant lasts at most 12 hours (config `maxDurationSeconds`), with an hour of slack for the archiver.
 */
export const SESSION_SEARCH_HOURS = 14;

/**
 * A session's events from the archive alone (no events table): its stream `session/<id>` is listed in each hour from
 * its start (the ULID's time) for SESSION_SEARCH_HOURS, stopping at the first hour that holds its session.ended.
 */
export async function archivedSessionEvents(store: ArchiveStore, sessionId: string): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  const first = hourStart(sessionStart(sessionId)).getTime();
  for (let hour = first; hour < first + SESSION_SEARCH_HOURS * HOUR_MS; hour += HOUR_MS) {
    const path = new Date(hour).toISOString();
    const prefix = `${EVENTS_PREFIX}${path.slice(0, 10)}/${path.slice(11, 13)}/session/${sessionId}/`;
    for await (const { key } of store.list(prefix)) {
      const bytes = await store.get(key);
      if (!bytes) continue;
      try {
        events.push(JSON.parse(Buffer.from(bytes).toString('utf8')) as AuditEvent);
      } catch {
        // An object that does not parse is `audit verify`'s to report; the lookup goes on without it.
      }
    }
    if (events.some((event) => event.type === 'session.ended')) break;
  }
  return events;
}
