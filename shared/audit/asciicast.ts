/**
 * Session recordings of `kubectl exec` / `attach` as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
 * a header line (JSON object), then one event per line, `[elapsed seconds, code, data]`, with `o` for output, `i` for
 * input and `r` for a resize (`"WxH"`). The relay writes one per session (DESIGN.md section 2.4) and `gatehouse` replays
 * them with `parseAsciicast`.
 *
 * What a recording holds: the output as the agent saw it, that is masked (the relay records after its terminal masker),
 * and the agent's input as typed. Input is recorded unmasked because it is the evidence of what the agent did; it may
 * hold secrets the agent typed (a password at a prompt), which is why recordings are stored only in the Object Lock audit
 * bucket, encrypted with SSE-KMS, and named in events by key and SHA-256, never copied into an event.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Time for elapsed seconds: milliseconds from any origin that never goes back (`performance.now()`). */
export interface MonotonicClock {
  nowMs(): number;
}

export interface AsciicastHeaderInput {
  width: number;
  height: number;
  /** Unix seconds of the session's start. */
  timestamp: number;
  title?: string;
  /** `TERM`, `SHELL` as the client reported them. */
  env?: Record<string, string>;
}

export interface AsciicastWriter {
  /** The header line, the first time any method is called (each method's lines start with it then). */
  start(): Uint8Array[];
  /** An output event for bytes the agent was shown (masked). */
  output(bytes: Uint8Array): Uint8Array[];
  /** An input event for bytes the agent typed. */
  input(bytes: Uint8Array): Uint8Array[];
  /** A resize event, `"WxH"`. */
  resize(width: number, height: number): Uint8Array[];
  /** The session ended: events for characters left unfinished at the end of each stream (as U+FFFD). */
  end(): Uint8Array[];
  /** SHA-256 (hex) of every line returned so far: after `end()`, of the whole recording. */
  sha256Hex(): string;
  /** Bytes of every line returned so far. */
  readonly byteCount: number;
}

const Dimension = z.number().int().min(1).max(65_535);
const HeaderInputSchema = z.object({
  width: Dimension,
  height: Dimension,
  timestamp: z.number().int().nonnegative(),
  title: z.string().max(1024).optional(),
  env: z.record(z.string(), z.string().max(1024)).optional(),
});

/** Elapsed times are written to the microsecond. */
const MICROSECONDS = 1e6;

/**
 * A writer for one session; the clock's current reading is time 0. Every method returns the lines it wrote (each ending
 * in `\n`), to be appended to the recording in order. Throws a ZodError for a header that does not validate.
 */
export function createAsciicastWriter(header: AsciicastHeaderInput, clock: MonotonicClock): AsciicastWriter {
  const parsed = HeaderInputSchema.parse(header);
  const origin = clock.nowMs();
  const hash = createHash('sha256');
  const encoder = new TextEncoder();
  // One streaming decoder per direction: a character split between two frames is decoded whole, not as U+FFFD twice.
  const decoders = { o: new TextDecoder('utf-8'), i: new TextDecoder('utf-8') };
  let byteCount = 0;
  let started = false;
  let lastElapsed = 0;
  let ended = false;

  const line = (value: unknown): Uint8Array => {
    const bytes = encoder.encode(`${JSON.stringify(value)}\n`);
    hash.update(bytes);
    byteCount += bytes.length;
    return bytes;
  };

  const begin = (): Uint8Array[] => {
    if (started) return [];
    started = true;
    const { width, height, timestamp, title, env } = parsed;
    return [line({ version: 2, width, height, timestamp, ...(title ? { title } : {}), ...(env ? { env } : {}) })];
  };

  const elapsed = (): number => {
    // Rounded to the microsecond and never going back, so players see events in order.
    const seconds = Math.round(((clock.nowMs() - origin) / 1000) * MICROSECONDS) / MICROSECONDS;
    lastElapsed = Math.max(lastElapsed, seconds);
    return lastElapsed;
  };

  const data = (code: 'o' | 'i', bytes: Uint8Array, stream: boolean): Uint8Array[] => {
    if (ended) throw new Error('asciicast writer: the recording has ended');
    const lines = begin();
    const text = decoders[code].decode(bytes, { stream });
    if (text !== '') lines.push(line([elapsed(), code, text]));
    return lines;
  };

  return {
    start: begin,
    output: (bytes) => data('o', bytes, true),
    input: (bytes) => data('i', bytes, true),
    resize(width, height) {
      if (ended) throw new Error('asciicast writer: the recording has ended');
      const size = z.object({ width: Dimension, height: Dimension }).parse({ width, height });
      return [...begin(), line([elapsed(), 'r', `${size.width}x${size.height}`])];
    },
    end() {
      if (ended) return [];
      const lines = [...data('o', new Uint8Array(0), false), ...data('i', new Uint8Array(0), false)];
      ended = true;
      return lines;
    },
    sha256Hex: () => hash.copy().digest('hex'),
    get byteCount() {
      return byteCount;
    },
  };
}

/** A recording that is not asciicast v2; the message names the line, never its content. */
export class AsciicastParseError extends Error {
  override name = 'AsciicastParseError';
}

const HeaderSchema = z.looseObject({
  version: z.literal(2),
  width: Dimension,
  height: Dimension,
  timestamp: z.number().int().nonnegative().optional(),
  duration: z.number().nonnegative().optional(),
  idle_time_limit: z.number().nonnegative().optional(),
  command: z.string().optional(),
  title: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
});
export type AsciicastHeader = z.infer<typeof HeaderSchema>;

const EventSchema = z.union([
  z.tuple([z.number().nonnegative(), z.enum(['o', 'i', 'm']), z.string()]),
  z.tuple([z.number().nonnegative(), z.literal('r'), z.string().regex(/^\d{1,5}x\d{1,5}$/)]),
]);
export type AsciicastEvent = z.infer<typeof EventSchema>;

export interface Asciicast {
  header: AsciicastHeader;
  events: AsciicastEvent[];
}

/**
 * Reads a recording: the header, then the events in order (`o`, `i`, `r` and `m` markers; blank lines skipped). Throws
 * AsciicastParseError naming the first line that is not JSON, not a v2 header or event, or earlier than the one before.
 */
export function parseAsciicast(text: string): Asciicast {
  const lines = text.split('\n');
  const parseLine = <T>(index: number, schema: z.ZodType<T>, what: string): T => {
    let value: unknown;
    try {
      value = JSON.parse(lines[index]!);
    } catch {
      throw new AsciicastParseError(`line ${index + 1}: not JSON`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new AsciicastParseError(`line ${index + 1}: not an asciicast v2 ${what}`);
    return parsed.data;
  };
  if (lines[0] === undefined || lines[0].trim() === '') throw new AsciicastParseError('line 1: no header');
  const header = parseLine(0, HeaderSchema, 'header');
  const events: AsciicastEvent[] = [];
  for (let index = 1; index < lines.length; index += 1) {
    if (lines[index]!.trim() === '') continue;
    const event = parseLine(index, EventSchema, 'event');
    const previous = events[events.length - 1];
    if (previous && event[0] < previous[0]) {
      throw new AsciicastParseError(`line ${index + 1}: event at ${event[0]} s after one at ${previous[0]} s`);
    }
    events.push(event);
  }
  return { header, events };
}
