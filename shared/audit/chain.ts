/**
 * The per-stream audit hash chain of DESIGN.md section 5. Pure: the hash is SHA-256 over a canonical JSON form of the
 * event, so any reader in any language can recompute it, and any change to any field of a stored event shows.
 */
import { createHash } from 'node:crypto';
import { AUDIT_EVENT_SCHEMA } from './event.ts';
import type { AuditEvent, AuditEventInput } from './event.ts';

/** The `prev` of the first event of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

/** The last link of a stream: what the next event chains to. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as `JSON.stringify`
 * writes them (the same rules as RFC 8785 JCS for the values an event holds). As in `JSON.stringify`, `toJSON` is
 * honoured, undefined/function/symbol members are dropped from objects and become `null` in arrays. BigInt, cycles and
 * non-finite numbers are refused rather than silently changed, so a value hashes the same before and after storage.
 */
export function canonicalJson(value: unknown): string {
  return write(value, []) ?? 'undefined';
}

/**
 * The canonical JSON of `value`, or undefined where JSON.stringify leaves a member out. `open` holds the objects being
 * written (a cycle check; events are shallow, so a short array beats a Set); a throw abandons the whole write.
 */
function write(value: unknown, open: object[]): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold a non-finite number');
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('canonical JSON cannot hold a BigInt');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (open.includes(object)) throw new TypeError('canonical JSON cannot hold a cycle');
  open.push(object);
  let json: string;
  if (Array.isArray(object)) {
    json = '[';
    for (let index = 0; index < object.length; index += 1) {
      json += `${index > 0 ? ',' : ''}${write(object[index], open) ?? 'null'}`;
    }
    json += ']';
  } else {
    json = '{';
    for (const key of Object.keys(object).sort()) {
      const member = write((object as Record<string, unknown>)[key], open);
      if (member !== undefined) json += `${json.length > 1 ? ',' : ''}${JSON.stringify(key)}:${member}`;
    }
    json += '}';
  }
  open.pop();
  return json;
}

/** Hex SHA-256 over the canonical JSON of the event with `chain.hash` left out (present or not). */
export function computeEventHash(
  event: Omit<AuditEvent, 'chain'> & { chain: Omit<AuditEvent['chain'], 'hash'> },
): string {
  const { hash: _hash, ...link } = event.chain as AuditEvent['chain'];
  return createHash('sha256')
    .update(canonicalJson({ ...event, chain: link }), 'utf8')
    .digest('hex');
}

/**
 * The event that extends `head` (or starts the stream when `head` is undefined). The result is plain JSON data — a
 * deep copy with undefined members dropped — so what a store keeps is exactly what was hashed.
 */
export function buildEvent(input: AuditEventInput, head: ChainHead | undefined, id: string, time: Date): AuditEvent {
  const { stream, ...rest } = input;
  if (typeof stream !== 'string' || stream.length === 0) throw new TypeError('an audit event needs a stream');
  if (head && (!Number.isSafeInteger(head.seq) || head.seq < 1 || !HASH_PATTERN.test(head.hash))) {
    throw new TypeError(`the head of stream ${stream} is malformed`);
  }
  const canonical = canonicalJson({
    ...rest,
    schema: AUDIT_EVENT_SCHEMA,
    id,
    time: time.toISOString(),
    chain: { stream, seq: head ? head.seq + 1 : 1, prev: head ? head.hash : GENESIS_HASH },
  });
  const unhashed = JSON.parse(canonical) as Omit<AuditEvent, 'chain'> & {
    chain: Omit<AuditEvent['chain'], 'hash'>;
  };
  // Canonical JSON is a fixed point of parsing and writing it again, so `canonical` is exactly what
  // computeEventHash(unhashed) would hash: hashing it here saves writing the event twice per append.
  const hash = createHash('sha256').update(canonical, 'utf8').digest('hex');
  return { ...unhashed, chain: { ...unhashed.chain, hash } };
}

const HASH_PATTERN = /^[0-9a-f]{64}$/;

export type ChainProblemKind =
  /** One or more seqs are missing before this event. */
  | 'gap'
  /** A second event claims a seq already taken: the stream forked, or an event was duplicated. */
  | 'fork'
  /** This event's seq is lower than one already seen: the list is not in chain order. */
  | 'order'
  /** This event's `prev` is not the hash of the event before it. */
  | 'prev'
  /** This event's `hash` is not the hash of its content: it was altered. */
  | 'hash'
  /** This event belongs to another stream. */
  | 'stream'
  /** Two events share one id. */
  | 'duplicate-id'
  /** The event has no usable chain link or id. */
  | 'malformed';

export interface ChainProblem {
  kind: ChainProblemKind;
  stream: string;
  seq: number;
  eventId: string;
  message: string;
}

export interface VerifyChainOptions {
  /** The stream every event must belong to; by default the first event's. */
  stream?: string;
  /** Verify a tail of the stream: the link the first event must follow (by default seq 0 and the genesis hash). */
  after?: ChainHead;
}

/**
 * Checks one stream's events, in the order given (a store returns them by seq; sort first if the source has no
 * order), and names every problem with its seq and event id. An empty list has no problems. A chain alone cannot show
 * events cut off after the last one; the signed hourly digests (DESIGN.md section 2.5) cover that.
 */
export function verifyChain(events: readonly AuditEvent[], options: VerifyChainOptions = {}): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const stream = options.stream ?? events[0]?.chain?.stream ?? '';
  let lastSeq = options.after?.seq ?? 0;
  let lastHash = options.after?.hash ?? GENESIS_HASH;
  const hashBySeq = new Map<number, string>();
  const seenIds = new Set<string>();

  for (const event of events) {
    const link = event?.chain;
    const eventId = typeof event?.id === 'string' ? event.id : '';
    const seq = typeof link?.seq === 'number' ? link.seq : NaN;
    const report = (kind: ChainProblemKind, message: string) =>
      problems.push({ kind, stream, seq, eventId, message: `seq ${seq}, event ${eventId || '?'}: ${message}` });

    if (!link || !Number.isSafeInteger(seq) || seq < 1 || typeof link.hash !== 'string' || !eventId) {
      report('malformed', 'no usable chain link, seq or id');
      continue;
    }
    if (link.stream !== stream) report('stream', `belongs to stream ${String(link.stream)}, not ${stream}`);
    if (seenIds.has(eventId)) report('duplicate-id', 'the id is used by an earlier event');
    seenIds.add(eventId);
    if (computeEventHash(event) !== link.hash) report('hash', 'the hash does not match the content: altered');

    const earlier = hashBySeq.get(seq);
    if (earlier !== undefined) {
      report('fork', earlier === link.hash ? 'the same event appears twice' : 'a second event claims this seq');
      continue;
    }
    hashBySeq.set(seq, link.hash);
    if (seq <= lastSeq) {
      report('order', `comes after seq ${lastSeq}: out of chain order`);
      continue;
    }
    if (seq > lastSeq + 1) {
      const missing = seq - lastSeq - 1;
      report('gap', missing === 1 ? `seq ${lastSeq + 1} is missing` : `seqs ${lastSeq + 1}..${seq - 1} are missing`);
    } else if (link.prev !== lastHash) {
      report('prev', `prev does not match the hash of seq ${lastSeq}`);
    }
    lastSeq = seq;
    lastHash = link.hash;
  }
  return problems;
}
