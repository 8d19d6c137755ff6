/**
 * The audit sink every use case writes through: it extends a stream's hash chain with a conditional write, retries
 * when another writer took the seq first, and fails closed — when an event cannot be recorded it throws
 * AuditWriteError, and callers deny (DESIGN.md section 7).
 */
import type { AuditSink, Clock, Ids } from '../ports.ts';
import { buildEvent } from './chain.ts';
import type { ChainHead } from './chain.ts';
import type { AuditEvent, AuditEventInput } from './event.ts';

/** Where chains are kept. Adapters turn their own errors into domain errors. */
export interface ChainStore {
  /** The last event's seq and hash, read consistently; undefined for a stream with no events yet. */
  head(stream: string): Promise<ChainHead | undefined>;
  /** Stores the event only if its seq is free in its stream; throws ChainConflictError when it is taken. */
  put(event: AuditEvent): Promise<void>;
}

/** Another writer stored an event at this seq first. The writer re-reads the head and tries again. */
export class ChainConflictError extends Error {
  override name = 'ChainConflictError';
  constructor(
    readonly stream: string,
    readonly seq: number,
  ) {
    super(`seq ${seq} of stream ${stream} is already taken`);
  }
}

/** The event could not be recorded, so the step it records must not happen. Its message holds no event content. */
export class AuditWriteError extends Error {
  override name = 'AuditWriteError';
}

export interface AuditLogOptions {
  /** Attempts per event before giving up under contention. Default 16. */
  maxAttempts?: number;
  /** Upper bound of the first retry's random wait, doubled per retry up to `maxBackoffMs`. Default 4 ms. */
  baseBackoffMs?: number;
  /** Default 200 ms. */
  maxBackoffMs?: number;
  /** How to wait between attempts; tests may pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for backoff jitter. Default Math.random. */
  random?: () => number;
  /**
   * Streams whose head this log remembers after writing it, so the next append to them skips the store's head read
   * (one round trip instead of two). For writers that own their streams, as the relay owns `relay/<grant>/<instance>/…`:
   * a stream another writer appended to meanwhile costs a conflict and a re-read, never a fork (the put stays
   * conditional). The least recently written are forgotten first. Default 0: every append reads the head.
   */
  rememberHeads?: number;
}

/**
 * Strings that are credentials by their shape. A defence in depth only: writers must put fingerprints, never secrets,
 * into events (see fingerprint.ts); this catches the mistake before a token becomes part of a record kept six years.
 */
export const SECRET_PATTERNS: readonly { name: string; pattern: RegExp }[] = [
  // RFC 7519 compact JWS/JWT (and the first three parts of a JWE): a base64url JSON header always starts `eyJ`.
  { name: 'a JWT', pattern: /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/ },
  // An EKS bearer token: a presigned STS GetCallerIdentity URL, base64url encoded, as aws-iam-authenticator writes it.
  { name: 'an EKS token', pattern: /k8s-aws-v1\.[A-Za-z0-9_-]+/ },
  // A SigV4 presigned URL is itself a bearer credential until it expires.
  { name: 'a presigned AWS URL', pattern: /X-Amz-(?:Signature|Security-Token)=/i },
];

export class AuditLog implements AuditSink {
  private readonly maxAttempts: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** Per stream, the append in flight in this process: appends to one stream queue here instead of racing the store. */
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly rememberHeads: number;
  /** Heads this log wrote last, in the order written (a Map keeps insertion order: the first is the oldest). */
  private readonly heads = new Map<string, ChainHead>();

  constructor(
    private readonly store: ChainStore,
    private readonly clock: Clock,
    private readonly ids: Ids,
    options: AuditLogOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 16;
    this.baseBackoffMs = options.baseBackoffMs ?? 4;
    this.maxBackoffMs = options.maxBackoffMs ?? 200;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.rememberHeads = options.rememberHeads ?? 0;
  }

  /** Appends the event to its stream's chain and returns it as stored; throws AuditWriteError when it cannot. */
  append(input: AuditEventInput): Promise<AuditEvent> {
    const stream = input?.stream;
    const before = this.tails.get(stream) ?? Promise.resolve();
    const run = before.then(
      () => this.appendNow(input),
      () => this.appendNow(input),
    );
    this.tails.set(stream, run);
    const forget = () => {
      if (this.tails.get(stream) === run) this.tails.delete(stream);
    };
    run.then(forget, forget);
    return run;
  }

  private async appendNow(input: AuditEventInput): Promise<AuditEvent> {
    assertNoSecrets(input);
    const stream = input.stream;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      let event: AuditEvent;
      try {
        const head = this.heads.get(stream) ?? (await this.store.head(stream));
        event = buildEvent(input, head, this.ids.next(), this.clock.now());
      } catch (error) {
        throw new AuditWriteError(`the audit event for stream ${stream} could not be prepared`, { cause: error });
      }
      // Whatever happens to this put, the head to build on next is the one this put stores or the store's own.
      this.heads.delete(stream);
      try {
        await this.store.put(event);
        this.remember(stream, { seq: event.chain.seq, hash: event.chain.hash });
        return event;
      } catch (error) {
        if (!(error instanceof ChainConflictError)) {
          throw new AuditWriteError(`the audit event for stream ${stream} could not be stored`, { cause: error });
        }
      }
      if (attempt === this.maxAttempts) break;
      // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): writers that collided spread out.
      const ceiling = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (attempt - 1));
      await this.sleep(Math.floor(this.random() * ceiling));
    }
    throw new AuditWriteError(
      `the audit event for stream ${stream} could not be stored: ${this.maxAttempts} attempts lost to other writers`,
    );
  }

  private remember(stream: string, head: ChainHead): void {
    if (this.rememberHeads === 0) return;
    if (this.heads.size >= this.rememberHeads) this.heads.delete(this.heads.keys().next().value!);
    this.heads.set(stream, head);
  }
}

/** Throws AuditWriteError when any string of the event (key or value, at any depth) looks like a credential. */
export function assertNoSecrets(input: AuditEventInput): void {
  const found = findSecret(input, new Set());
  if (found) {
    // The message names the path and kind only: repeating the value would leak it into logs.
    const path = found.keys.reverse().join('.');
    throw new AuditWriteError(`refused to record an audit event: ${path || 'the event'} holds ${found.name}`);
  }
}

/** The first credential-looking string, with the keys leading to it (innermost first: built only when found). */
function findSecret(value: unknown, seen: Set<object>): { keys: string[]; name: string } | undefined {
  if (typeof value === 'string') {
    const match = SECRET_PATTERNS.find(({ pattern }) => pattern.test(value));
    return match ? { keys: [], name: match.name } : undefined;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return undefined;
  seen.add(value);
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const inKey = findSecret(key, seen);
    if (inKey) return { keys: [], name: `${inKey.name} in a key` };
    const inValue = findSecret((value as Record<string, unknown>)[key], seen);
    if (inValue) {
      inValue.keys.push(key);
      return inValue;
    }
  }
  return undefined;
}
