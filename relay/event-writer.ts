/**
 * The relay's audit writer (issue 6, point 5): a request's event is queued, not awaited, so recording does not hold up
 * the response; but it is never dropped. The queue is bounded (a full queue makes `record` wait: backpressure on new
 * requests), a failed write is retried until it succeeds, and while the sink is failing the relay refuses new requests
 * (`accepting` is false): no audit record, no access. `flush` waits for everything queued, for shutdown.
 */
import type { AuditEventInput } from '#shared/audit/event.ts';
import type { AuditSink } from '#shared/ports.ts';

/**
 * Stream heads the relay's AuditLog remembers (`rememberHeads`): a relay process alone writes its streams
 * (`relay/<grant>/<instance>/<shard>`, 8 shards a grant), so after a stream's first append each is a single put.
 */
export const RELAY_REMEMBERED_HEADS = 4096;

export interface RelayEventWriterOptions {
  /** Events queued or in flight before `record` waits for room. @default 1024 */
  maxPending?: number;
  /** Appends in flight at once (each stream is still written in order by the sink). @default 16 */
  concurrency?: number;
  /** First retry delay after a failed write, doubled per failure up to `maxRetryMs`. @default 100 */
  retryMs?: number;
  /** @default 5000 */
  maxRetryMs?: number;
  /** Called once per failed write (for logs and metrics): the error, never the event. */
  onWriteError?: (error: unknown) => void;
  sleep?: (ms: number) => Promise<void>;
}

export class RelayEventWriter {
  readonly #sink: AuditSink;
  readonly #maxPending: number;
  readonly #concurrency: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #onWriteError: (error: unknown) => void;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #queue: AuditEventInput[] = [];
  #inFlight = 0;
  #failing = false;
  #written = 0;
  /** Resolvers of `record` calls waiting for room, and of `flush` calls waiting for an empty queue. */
  #roomWaiters: Array<() => void> = [];
  #drainWaiters: Array<() => void> = [];

  constructor(sink: AuditSink, options: RelayEventWriterOptions = {}) {
    this.#sink = sink;
    this.#maxPending = options.maxPending ?? 1024;
    this.#concurrency = options.concurrency ?? 16;
    this.#retryMs = options.retryMs ?? 100;
    this.#maxRetryMs = options.maxRetryMs ?? 5000;
    this.#onWriteError = options.onWriteError ?? (() => {});
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** False while writes fail: the relay then refuses new requests (fail closed). */
  get accepting(): boolean {
    return !this.#failing;
  }

  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  get written(): number {
    return this.#written;
  }

  /** Queues the event; waits only while the queue is full. */
  async record(event: AuditEventInput): Promise<void> {
    while (this.pending >= this.#maxPending) await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    this.#queue.push(event);
    this.#pump();
  }

  /** Resolves once every event queued so far is written (however long a failing sink takes). */
  flush(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      const event = this.#queue.shift()!;
      this.#inFlight += 1;
      void this.#write(event).finally(() => {
        this.#inFlight -= 1;
        this.#written += 1;
        this.#roomWaiters.shift()?.();
        if (this.pending === 0) for (const resolve of this.#drainWaiters.splice(0)) resolve();
        this.#pump();
      });
    }
  }

  async #write(event: AuditEventInput): Promise<void> {
    let delay = this.#retryMs;
    for (;;) {
      try {
        await this.#sink.append(event);
        this.#failing = false;
        return;
      } catch (error) {
        this.#failing = true;
        this.#onWriteError(error);
        await this.#sleep(delay);
        delay = Math.min(this.#maxRetryMs, delay * 2);
      }
    }
  }
}
