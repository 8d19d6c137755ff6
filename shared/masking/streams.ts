/**
 * Streaming maskers (issue 5, point 3) for watch streams and text (container logs, exec output). Push-style and pure:
 * bytes in, masked bytes out, in whatever chunks the transport delivers, with memory bounded by one event or one line
 * window. The relay and the CLI wrap them in their own stream types.
 */
import type { Masker, MaskContext } from './masker.ts';
import type { MaskingRecord } from './model.ts';
import { MaskingRecorder } from './record.ts';

/** Bytes in, masked bytes out; the record counts everything masked so far. */
export interface ChunkMasker {
  /** Masks what the chunk completes; the rest waits for the next chunk. Throws StreamMaskingError (and then always). */
  push(chunk: Uint8Array): Uint8Array[];
  /** Masks what is left: a last event or line without its newline. */
  end(): Uint8Array[];
  readonly record: MaskingRecord;
}

/** A stream that cannot be masked: the caller must stop forwarding it (fail closed). Names positions, never content. */
export class StreamMaskingError extends Error {
  override name = 'StreamMaskingError';
}

export interface WatchMaskerOptions {
  /** The kind and namespace of the watched objects, for objects that do not say. */
  context?: MaskContext;
  /** An event longer than this fails the stream. @default 16 MiB */
  maxEventBytes?: number;
}

const NEWLINE = 0x0a;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const ENCODER = new TextEncoder();

/**
 * Masks a watch stream: newline-delimited `{"type": ..., "object": ...}` events, each object masked as `maskObject` would.
 * Events are split on the newline byte, which never occurs inside a multi-byte UTF-8 character, so a chunk may end
 * anywhere. An event that is too long, not UTF-8, not JSON or not an event fails the stream: nothing of it is passed on.
 */
export function createWatchMasker(masker: Masker, options: WatchMaskerOptions = {}): ChunkMasker {
  const maxEventBytes = options.maxEventBytes ?? 16 * 1024 * 1024;
  const recorder = new MaskingRecorder();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let events = 0;
  let failure: StreamMaskingError | undefined;

  const fail = (message: string): never => {
    failure = new StreamMaskingError(`watch event ${events + 1}: ${message}`);
    throw failure;
  };

  const take = (piece: Uint8Array): Uint8Array => {
    if (pendingBytes + piece.length > maxEventBytes) fail(`longer than ${maxEventBytes} bytes`);
    if (pending.length === 0) return piece;
    const line = new Uint8Array(pendingBytes + piece.length);
    let offset = 0;
    for (const part of [...pending, piece]) {
      line.set(part, offset);
      offset += part.length;
    }
    pending = [];
    pendingBytes = 0;
    return line;
  };

  const maskEvent = (line: Uint8Array, newline: boolean): Uint8Array => {
    let text: string;
    try {
      text = UTF8.decode(line);
    } catch {
      return fail('not valid UTF-8');
    }
    if (text.trim() === '') return ENCODER.encode(newline ? `${text}\n` : text);
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      return fail('not JSON');
    }
    if (
      event === null ||
      typeof event !== 'object' ||
      Array.isArray(event) ||
      typeof (event as { type?: unknown }).type !== 'string'
    ) {
      return fail('not a watch event ({"type", "object"})');
    }
    events += 1;
    const { value, record } = masker.maskObject((event as { object?: unknown }).object, options.context);
    recorder.addRecord(record, (path) => `$.object${path.slice(1)}`);
    if (record.total === 0) return newline ? ENCODER.encode(`${text}\n`) : line;
    return ENCODER.encode(`${JSON.stringify({ ...event, object: value })}${newline ? '\n' : ''}`);
  };

  return {
    push(chunk) {
      if (failure) throw failure;
      const out: Uint8Array[] = [];
      let start = 0;
      for (let newline = chunk.indexOf(NEWLINE); newline >= 0; newline = chunk.indexOf(NEWLINE, start)) {
        out.push(maskEvent(take(chunk.subarray(start, newline)), true));
        start = newline + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        if (pendingBytes + rest.length > maxEventBytes) fail(`longer than ${maxEventBytes} bytes`);
        // A copy: the transport may reuse its buffer once push returns.
        pending.push(rest.slice());
        pendingBytes += rest.length;
      }
      return out;
    },
    end() {
      if (failure) throw failure;
      if (pendingBytes === 0) return [];
      return [maskEvent(take(new Uint8Array(0)), false)];
    },
    get record() {
      return recorder.toRecord();
    },
  };
}

export interface TextMaskerOptions {
  /** The kind and namespace the text comes from (a pod's logs: `{ kind: 'Pod', namespace }`), for namespace rules. */
  context?: MaskContext;
  /** A line longer than this is masked in windows of this many characters. @default 65,536 */
  maxLineChars?: number;
  /**
   * How far back from a window's end the window is cut (the rest is carried into the next window). An identifier of up to
   * this many characters is never split between windows. @default 1,024
   */
  overlapChars?: number;
}

/**
 * Masks text line by line as it streams. Complete lines are scanned in one pass per chunk. A line longer than
 * `maxLineChars` is masked in overlapping windows: each window is emitted up to `overlapChars` before its end, moved
 * past any identifier that crosses that cut (or back before one that runs into the window's end), and the rest is
 * scanned again with the next window, so an identifier no longer than the overlap is always seen whole. Bytes that are
 * not UTF-8 come out as U+FFFD.
 */
export function createTextMasker(masker: Masker, options: TextMaskerOptions = {}): ChunkMasker {
  const maxLineChars = options.maxLineChars ?? 65_536;
  const overlapChars = options.overlapChars ?? 1024;
  if (!(overlapChars >= 1 && overlapChars * 2 <= maxLineChars)) {
    throw new RangeError('overlapChars must be at least 1 and at most half of maxLineChars');
  }
  const recorder = new MaskingRecorder();
  const decoder = new Utf8ChunkDecoder();
  let pending = '';
  /**
   * The bytes `pending` comes from (an unfinished character's included), kept from the first newline on while no window
   * is taken from the line. The next lines are then decoded from bytes in one piece, a flat string: scanning the join of
   * `pending` and a chunk, or a slice of it, costs V8 about 15% more per character.
   */
  let pendingBytes: Uint8Array[] | undefined;

  const mask = (text: string): string => {
    if (text === '') return text;
    const { value, record } = masker.maskText(text, options.context);
    recorder.addRecord(record);
    return value;
  };

  /** Emits windows of the pending line while it is over the bound. */
  const drainLongLine = (): string => {
    let out = '';
    while (pending.length > maxLineChars) {
      const window = pending.slice(0, maxLineChars);
      const masked = masker.maskTextWindow(window, maxLineChars - overlapChars, options.context);
      recorder.addRecord(masked.record);
      out += masked.text;
      pending = pending.slice(Math.max(1, masked.consumed));
      pendingBytes = undefined;
    }
    return out;
  };

  return {
    push(chunk) {
      const newline = chunk.lastIndexOf(NEWLINE);
      let lines = '';
      if (newline >= 0 && pendingBytes) {
        lines = mask(decoder.decodeLines([...pendingBytes, chunk.subarray(0, newline + 1)]));
        pending = decoder.decode(chunk.subarray(newline + 1));
      } else {
        const text = pending + decoder.decode(chunk);
        const lastNewline = text.lastIndexOf('\n');
        if (lastNewline >= 0) lines = mask(text.slice(0, lastNewline + 1));
        pending = lastNewline >= 0 ? text.slice(lastNewline + 1) : text;
      }
      // Copies: the transport may reuse its buffer once push returns.
      if (newline >= 0) pendingBytes = [chunk.slice(newline + 1)];
      else pendingBytes?.push(chunk.slice());
      const out = lines + drainLongLine();
      return out === '' ? [] : [ENCODER.encode(out)];
    },
    end() {
      pending += decoder.end();
      const out = drainLongLine() + mask(pending);
      pending = '';
      return out === '' ? [] : [ENCODER.encode(out)];
    },
    get record() {
      return recorder.toRecord();
    },
  };
}

/**
 * Decodes a UTF-8 stream chunk by chunk as `new TextDecoder('utf-8')` with `stream: true` does (a leading BOM dropped,
 * bytes that are not UTF-8 as U+FFFD), but through Buffer's decoder, which is several times faster on the ASCII of logs:
 * the bytes of a character the chunk does not complete wait for the next chunk.
 */
class Utf8ChunkDecoder {
  #carried: Uint8Array = new Uint8Array(0);
  #atStart = true;

  decode(chunk: Uint8Array): string {
    let bytes = chunk;
    if (this.#carried.length > 0) {
      bytes = new Uint8Array(this.#carried.length + chunk.length);
      bytes.set(this.#carried);
      bytes.set(chunk, this.#carried.length);
    }
    const complete = bytes.length - incompleteTail(bytes);
    // A copy: the transport may reuse its buffer once push returns.
    this.#carried = bytes.slice(complete);
    return this.#text(Buffer.from(bytes.buffer, bytes.byteOffset, complete).toString('utf8'));
  }

  /**
   * Lines whose bytes the caller kept, what this decoder carried included (so it is dropped); they end with a newline,
   * so nothing is carried after them.
   */
  decodeLines(pieces: readonly Uint8Array[]): string {
    this.#carried = new Uint8Array(0);
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    return this.#text(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  }

  /** What is left: an incomplete character becomes U+FFFD. */
  end(): string {
    const carried = this.#carried;
    this.#carried = new Uint8Array(0);
    return this.#text(Buffer.from(carried.buffer, carried.byteOffset, carried.length).toString('utf8'));
  }

  #text(text: string): string {
    if (!this.#atStart || text === '') return text;
    this.#atStart = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

/** How many bytes at the end of `bytes` begin a character they do not finish (a lead byte short of its continuations). */
function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back]!;
    if (byte < 0x80) return 0;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? back : 0;
    }
  }
  return 0;
}
