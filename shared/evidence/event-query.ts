/**
 * Auditors' event queries (GET /v1/events, GET /v1/evidence): the query parameters, the opaque cursor that continues
 * a query, and one page of matching events read from the time-ordered events. Pure: the events come through the
 * `AuditEventTimeline` port.
 */
import * as z from 'zod';
import { RequestValidationError, validationErrorFrom } from '../access/errors.ts';
import { canonicalJson } from '../audit/chain.ts';
import type { AuditEvent } from '../audit/event.ts';
import { DAY_MS, sha256Hex } from './archive-layout.ts';
import type { AuditEventTimeline, EventPosition } from './ports.ts';

/** Without `from`, a query covers the last day. */
export const DEFAULT_RANGE_MS = DAY_MS;
/** A query reads at most a month of the byTime index, day partition by day partition. */
export const MAX_RANGE_MS = 31 * DAY_MS;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/**
 * A page's JSON stays under this, well below Lambda's 6 MB synchronous response limit (AWS Lambda quotas), leaving
 * room for the envelope and, on evidence pages, digests and public keys.
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Events a page may read and discard (filters) before it answers with what it has and a cursor: a bounded request. */
export const MAX_SCANNED_PER_PAGE = 20_000;

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const isoTime = z.iso.datetime({ offset: true, message: 'an ISO-8601 date-time such as 2026-03-01T00:00:00Z' });
const text = (max: number) => z.string().trim().min(1).max(max);

/** Query string parameters of GET /v1/events. */
export const EventQueryParamsSchema = z
  .object({
    from: isoTime.optional(),
    to: isoTime.optional(),
    /** A principal id (`<issuer name>:<subject>`), `approver:<id>` or `system:<component>`. */
    actor: text(300).optional(),
    cluster: text(100).optional(),
    namespace: text(63).optional(),
    grantId: z
      .string()
      .regex(/^grt_[0-9A-HJKMNP-TV-Z]{26}$/, 'a grant id (grt_...)')
      .optional(),
    type: z
      .string()
      .regex(/^[a-z]+(?:\.[a-z]+)+$/, 'an event type such as access.requested')
      .optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: z.string().min(1).max(2048).optional(),
  })
  .strict();

/**
 * Query string parameters of GET /v1/evidence: a range and a cursor, no filters (evidence is every event); or, with
 * `recording` (a session recording's key, `sessions/<day>/<session id>.cast`) and `offset`, a part of that recording.
 */
export const EvidenceParamsSchema = z
  .object({
    from: isoTime,
    to: isoTime,
    cursor: z.string().min(1).max(2048).optional(),
    recording: z
      .string()
      .regex(/^sessions\/\d{4}-\d{2}-\d{2}\/[0-9A-HJKMNP-TV-Z]{26}\.cast$/, 'a recording key sessions/<day>/<id>.cast')
      .optional(),
    offset: z.coerce.number().int().min(0).optional(),
  })
  .strict()
  .refine((params) => params.recording !== undefined || params.offset === undefined, {
    path: ['offset'],
    message: '`offset` goes with `recording`',
  })
  .refine((params) => params.recording === undefined || params.cursor === undefined, {
    path: ['cursor'],
    message: 'a recording is read by `offset`, not by cursor',
  });

export interface EventFilters {
  actor?: string;
  cluster?: string;
  namespace?: string;
  grantId?: string;
  type?: string;
}

export interface TimeRange {
  from: Date;
  to: Date;
}

/** Where a query stands between pages: in its events, or (evidence) in the digests that cover them. */
const CursorSchema = z.discriminatedUnion('phase', [
  z
    .object({
      v: z.literal(1),
      /** The query this cursor continues: a cursor of another query (other range or filters) is refused. */
      q: z.string().regex(/^[0-9a-f]{16}$/),
      phase: z.literal('events'),
      after: z.object({ time: z.iso.datetime(), id: z.string().regex(ULID) }).strict(),
      /** Events returned by the pages before. */
      returned: z.number().int().min(0),
    })
    .strict(),
  z
    .object({
      v: z.literal(1),
      q: z.string().regex(/^[0-9a-f]{16}$/),
      phase: z.literal('digests'),
      /** The next archive hour whose digest to read. */
      hour: z.iso.datetime(),
      /** Exported events no digest read so far lists. */
      uncovered: z.number().int().min(0),
      /** Every event the export returned. */
      exported: z.number().int().min(0),
    })
    .strict(),
]);

export type Cursor = z.infer<typeof CursorSchema>;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** The cursor a page handed out, checked against the query it continues; anything else is a 400. */
export function decodeCursor(value: string, queryId: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = CursorSchema.safeParse(parsed);
  if (!result.success) throw invalid('cursor', 'not a cursor this API handed out');
  if (result.data.q !== queryId) throw invalid('cursor', 'the cursor belongs to another query (range or filters)');
  return result.data;
}

/** Names a query by what it selects, so its cursors cannot continue another one. */
export function queryId(kind: 'events' | 'evidence', range: TimeRange, filters: EventFilters = {}): string {
  return sha256Hex(
    canonicalJson({ kind, from: range.from.toISOString(), to: range.to.toISOString(), ...filters }),
  ).slice(0, 16);
}

/** The query parameters of GET /v1/events, validated, with the range defaulted and bounded. */
export function parseEventQuery(
  params: Record<string, string | undefined>,
  now: Date,
): { range: TimeRange; filters: EventFilters; limit: number; cursor?: string } {
  const { from, to, limit, cursor, ...filters } = parse(EventQueryParamsSchema, params);
  const end = to ? new Date(to) : now;
  const range = checkedRange(from ? new Date(from) : new Date(end.getTime() - DEFAULT_RANGE_MS), end);
  const present = Object.fromEntries(Object.entries(filters).filter(([, value]) => value !== undefined));
  return { range, filters: present, limit, ...(cursor ? { cursor } : {}) };
}

/** The query parameters of GET /v1/evidence, validated and bounded. */
export function parseEvidenceQuery(params: Record<string, string | undefined>): {
  range: TimeRange;
  cursor?: string;
  recording?: { key: string; offset: number };
} {
  const { from, to, cursor, recording, offset } = parse(EvidenceParamsSchema, params);
  return {
    range: checkedRange(new Date(from), new Date(to)),
    ...(cursor ? { cursor } : {}),
    ...(recording ? { recording: { key: recording, offset: offset ?? 0 } } : {}),
  };
}

function checkedRange(from: Date, to: Date): TimeRange {
  if (from.getTime() >= to.getTime()) throw invalid('from', '`from` must be before `to`');
  if (to.getTime() - from.getTime() > MAX_RANGE_MS) {
    throw invalid('to', `a query covers at most ${MAX_RANGE_MS / DAY_MS} days; split the range`);
  }
  return { from, to };
}

function parse<Schema extends z.ZodType>(schema: Schema, params: Record<string, string | undefined>): z.infer<Schema> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  throw validationErrorFrom(result.error.issues, { subject: 'the query', root: '(query)', unknown: 'parameter' });
}

function invalid(path: string, message: string): RequestValidationError {
  return new RequestValidationError(`the query is invalid: ${path}: ${message}`, [{ path, message }]);
}

/** Whether an event passes every filter given. A namespace matches the subject's namespace or any of its namespaces. */
export function matchesFilters(event: AuditEvent, filters: EventFilters): boolean {
  if (filters.actor !== undefined && event.actor.id !== filters.actor) return false;
  if (filters.cluster !== undefined && event.subject?.cluster !== filters.cluster) return false;
  if (filters.grantId !== undefined && event.grantId !== filters.grantId) return false;
  if (filters.type !== undefined && event.type !== filters.type) return false;
  if (filters.namespace !== undefined) {
    const { namespace, namespaces = [] } = event.subject ?? {};
    if (namespace !== filters.namespace && !namespaces.includes(filters.namespace)) return false;
  }
  return true;
}

export interface EventPage {
  events: AuditEvent[];
  /** Bytes of the events' JSON, as the page will carry them. */
  bytes: number;
  /** Events read, matching or not. */
  scanned: number;
  /** Where the next page starts; undefined when the range holds nothing more. */
  next?: EventPosition;
}

/**
 * One page of the events of `range` that pass `filters`, after `after`: at most `limit` events and `maxBytes` of JSON
 * (at least one event, whatever its size), and at most `maxScanned` events read. A page cut short by the bytes or the
 * scan bound still says where to go on, so walking the cursors returns every match once, in order.
 */
export async function readEventPage(
  timeline: AuditEventTimeline,
  input: {
    range: TimeRange;
    filters: EventFilters;
    after?: EventPosition;
    limit: number;
    maxBytes: number;
    maxScanned?: number;
  },
): Promise<EventPage> {
  const maxScanned = input.maxScanned ?? MAX_SCANNED_PER_PAGE;
  const events: AuditEvent[] = [];
  let bytes = 0;
  let scanned = 0;
  let last: EventPosition | undefined;
  for await (const event of timeline.eventsBetween(input.range.from, input.range.to, input.after)) {
    // The page is full: it goes on after the last event read, if there is another one.
    if (events.length === input.limit || scanned === maxScanned) return { events, bytes, scanned, next: last };
    if (matchesFilters(event, input.filters)) {
      const size = Buffer.byteLength(JSON.stringify(event), 'utf8');
      if (events.length > 0 && bytes + size > input.maxBytes) return { events, bytes, scanned, next: last };
      events.push(event);
      bytes += size;
    }
    scanned += 1;
    last = { time: event.time, id: event.id };
  }
  return { events, bytes, scanned };
}
