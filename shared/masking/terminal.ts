/**
 * Masks the output of an interactive terminal (`kubectl exec -it`, `kubectl attach`): one channel's bytes, frame by
 * frame, with as little delay as keeps identifiers from slipping through between two frames (DESIGN.md sections 2.4, 7).
 *
 * How it holds and emits:
 * - Everything up to the last line end is masked and emitted at once. `\r` counts as a line end here (progress bars
 *   redraw a line with it), so a redrawn line is never held.
 * - Of the unfinished line, the part that could still grow into an identifier is held: its last word (the characters
 *   after the last space or tab), and, when one of the line's last `holdWords` words holds a digit or is a month name,
 *   everything from that word on, because identifiers with spaces (`123 45 6789`, `(555) 234-5678`,
 *   `4111 1111 1111 1111`, `1234 Main Street`, `March 5, 1980`) start with such a word. A prompt such as `$ ` or
 *   `root@pod:/# ` ends in a space after words without digits, so it is emitted at once; a prompt with a digit
 *   (`bash-5.1# `) waits for the idle flush. The words with digits just before the held ones are held with them, and
 *   the cut is then moved off any identifier the scanner sees across it (`maskTextWindow`, with the emitted context).
 * - The hold is bounded: beyond `maxHoldChars`, the unfinished line is emitted up to that many characters from its
 *   end (moved past an identifier that crosses the cut, as `maskTextWindow` finds it).
 * - `flush()`, which the relay calls when the channel has been idle for a short time (30 ms) and at the end, masks and
 *   emits all that is held, but an unfinished escape sequence, which `end()` emits too.
 *
 * Context: what was emitted is kept (the last `contextChars` characters) and masked again with what follows, so a
 * context word (`ssn`, `dob`, `npi`) already on the screen still counts, and an identifier whose head went out with a
 * flush has the rest of it masked: only the difference from the masked context is emitted.
 *
 * Escape sequences (ECMA-48 CSI, OSC, DCS, SOS, PM, APC and two-character escapes) are never split and never masked:
 * each is replaced by one ESC character while the text is scanned, so `grep --color`'s `ESC[01;31m ESC[K` around an
 * identifier does not hide it, and put back afterwards. An OSC's text (a window title) is masked by itself.
 *
 * What is guaranteed (see test/unit/masking-terminal.test.ts):
 * - With no flush before the end, the output is the masked text of the whole stream (masker.maskText), however the
 *   frames split it, for identifiers the hold rule covers (one word, or starting with a word with a digit or a month
 *   name, within `holdWords` words and `maxHoldChars` characters).
 * - An identifier is held until it ends (a space after its last word, a line end) or the idle flush fires. A flush
 *   inside an identifier emits its head unmasked (`123-45-` of `123-45-6789`); the rest is masked when it comes (the
 *   terminal shows `123-45-[MASKED:SSN]`), so the whole value never appears.
 *
 * Limits: an identifier interrupted by an escape sequence (`123-45-ESC[1m6789`) is not seen as one; bytes that are not
 * UTF-8 become U+FFFD; when masking swallows an escape sequence into a masked value (no default detector does), the
 * piece's escape sequences are dropped rather than put back in the wrong place.
 */
import type { Masker, MaskContext } from './masker.ts';
import type { MaskingRecord } from './model.ts';
import { MaskingRecorder } from './record.ts';

export interface TerminalMaskerOptions {
  /** The kind and namespace the session runs in (`{ kind: 'Pod', namespace }`), for namespace rules. */
  context?: MaskContext;
  /** The most characters of an unfinished line held back. @default 256 */
  maxHoldChars?: number;
  /** How many of the unfinished line's last words may be held when one of them holds a digit. @default 6 */
  holdWords?: number;
  /** How many characters of emitted text are kept as context for what follows. @default 256 */
  contextChars?: number;
  /** An escape sequence longer than this is not one: its ESC is passed as a character. @default 4,096 */
  maxEscapeChars?: number;
}

export interface TerminalOutput {
  /** Masked UTF-8 to send on, in order; empty when everything is held. */
  emit: Uint8Array[];
}

export interface TerminalMasker {
  /** Masks and emits what the bytes complete; holds the unfinished line's last words. */
  push(bytes: Uint8Array): TerminalOutput;
  /** Masks and emits everything held but an unfinished escape sequence: after a short idle time, and at the end. */
  flush(): TerminalOutput;
  /** The stream has ended: masks and emits everything, an unfinished character or escape sequence included. */
  end(): TerminalOutput;
  /** True while something is held: the relay arms its idle timer then. */
  readonly holding: boolean;
  /** Everything masked so far. */
  readonly record: MaskingRecord;
}

const ESC = '\u001b';
const ENCODER = new TextEncoder();
const EMPTY_RECORD: MaskingRecord = { entries: [], total: 0 };
/** A word that may begin a month-first date (`March 5, 1980`, `Mar. 5th 1980`). */
const MONTH_WORD =
  /^(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?$/i;

/** Creates a masker for one channel of one session. Throws RangeError for options out of range. */
export function createTerminalMasker(masker: Masker, options: TerminalMaskerOptions = {}): TerminalMasker {
  const maxHoldChars = options.maxHoldChars ?? 256;
  const holdWords = options.holdWords ?? 6;
  const contextChars = options.contextChars ?? 256;
  const maxEscapeChars = options.maxEscapeChars ?? 4096;
  if (!(maxHoldChars >= 16 && holdWords >= 1 && contextChars >= 64 && maxEscapeChars >= 16)) {
    throw new RangeError('maxHoldChars >= 16, holdWords >= 1, contextChars >= 64 and maxEscapeChars >= 16 required');
  }
  const context = options.context;
  const recorder = new MaskingRecorder();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** Decoded text not emitted yet. */
  let pending = '';
  /** The tail of what was emitted, raw, and its masked form: the next piece is masked after it. */
  let emittedRaw = '';
  let emittedMasked: MaskedText = { value: '', record: EMPTY_RECORD };

  const maskPiece = (text: string): MaskedText => maskWithEscapes(masker, text, context, maxEscapeChars);

  /** Emits `pending` up to `cut`, masked after the emitted context. */
  const emitUpTo = (cut: number): TerminalOutput => {
    if (cut <= 0) return { emit: [] };
    const whole = emittedRaw + pending.slice(0, cut);
    pending = pending.slice(cut);
    const masked = maskPiece(whole);
    const before = emittedMasked.value;
    // The masked context is already on the screen: only what follows it is new. When a value crosses into the context
    // (its head went out with a flush), the masked forms part where it starts, and everything after that is emitted.
    const out = masked.value.slice(
      masked.value.startsWith(before) ? before.length : commonPrefixLength(masked.value, before),
    );
    recorder.addRecord(subtractRecord(masked.record, emittedMasked.record));
    const kept = trimContext(whole, contextChars);
    emittedRaw = kept;
    emittedMasked = kept === whole ? masked : maskPiece(kept);
    return { emit: out === '' ? [] : [ENCODER.encode(out)] };
  };

  /** Where the held part of `pending` starts. */
  const holdStart = (): number => {
    const text = pending;
    const escapes = findEscapes(text, maxEscapeChars, false);
    const unfinished = escapes.unfinishedAt;
    const visibleEnd = unfinished >= 0 ? unfinished : text.length;
    const words: Array<{ start: number; end: number; digit: boolean }> = [];
    let inWord = false;
    let next = 0;
    for (let index = 0; index < visibleEnd;) {
      const escape = escapes.spans[next];
      if (escape && escape.start === index) {
        index = escape.end;
        next += 1;
        continue;
      }
      const code = text.charCodeAt(index);
      if (code === 10 || code === 13) {
        words.length = 0;
        inWord = false;
      } else if (code === 32 || code === 9) {
        inWord = false;
      } else {
        if (!inWord) words.push({ start: index, end: index, digit: false });
        const word = words[words.length - 1]!;
        word.end = index + 1;
        if (code >= 48 && code <= 57) word.digit = true;
        inWord = true;
      }
      index += 1;
    }
    const startsIdentifier = (word: (typeof words)[number]) =>
      word.digit || MONTH_WORD.test(text.slice(word.start, word.end));
    let hold = inWord ? words[words.length - 1]!.start : visibleEnd;
    let first = words.findIndex((word, index) => index >= words.length - holdWords && startsIdentifier(word));
    if (first >= 0) {
      // The words with digits before it may be the identifier's start (`234 56 7890`): they are held with it.
      while (first > 0 && startsIdentifier(words[first - 1]!)) first -= 1;
      hold = Math.min(hold, words[first]!.start);
    }
    if (hold < visibleEnd) hold = clearOfIdentifiers(text, hold, visibleEnd);
    if (visibleEnd - hold > maxHoldChars) hold = boundedHold(text, visibleEnd);
    // Never inside an escape sequence: one that starts before the cut goes out whole.
    const inside = escapes.spans.find((span) => span.start < hold && hold < span.end);
    return inside ? inside.end : hold;
  };

  /**
   * `hold` moved off an identifier the words missed (`10 W 42nd Street` holds from `42nd`), as the scanner sees it with
   * the emitted context before: past one that ends before the text does, back before one that runs into its end.
   */
  const clearOfIdentifiers = (text: string, hold: number, visibleEnd: number): number => {
    const full = emittedRaw + text.slice(0, visibleEnd);
    const offset = emittedRaw.length;
    const windowStart = Math.max(0, offset + hold - contextChars);
    const { consumed } = masker.maskTextWindow(full.slice(windowStart), offset + hold - windowStart, context);
    return Math.min(visibleEnd, Math.max(0, windowStart + consumed - offset));
  };

  /** The hold start when the unfinished line's held part is too long: `maxHoldChars` from the end, past an identifier. */
  const boundedHold = (text: string, visibleEnd: number): number => {
    const target = visibleEnd - maxHoldChars;
    const windowStart = Math.max(0, target - 1024);
    const window = text.slice(windowStart, visibleEnd);
    const { consumed } = masker.maskTextWindow(window, target - windowStart, context);
    // Past an identifier that crosses the cut and ends in the window; one running into the end is longer than the hold.
    return Math.min(visibleEnd, Math.max(target, windowStart + consumed));
  };

  return {
    push(bytes) {
      pending += decoder.decode(bytes, { stream: true });
      return emitUpTo(holdStart());
    },
    flush() {
      const unfinished = findEscapes(pending, maxEscapeChars, false).unfinishedAt;
      return emitUpTo(unfinished >= 0 ? unfinished : pending.length);
    },
    end() {
      pending += decoder.decode();
      return emitUpTo(pending.length);
    },
    get holding() {
      return pending.length > 0;
    },
    get record() {
      return recorder.toRecord();
    },
  };
}

interface MaskedText {
  value: string;
  record: MaskingRecord;
}

interface EscapeSpans {
  /** Escape sequences (and lone ESC characters) in order, `[start, end)`. */
  spans: Array<{ start: number; end: number; osc: boolean }>;
  /** Where an escape sequence the text does not finish starts, or -1. */
  unfinishedAt: number;
}

/**
 * The escape sequences of `text`. An ESC that starts no valid sequence, or one longer than `max`, is a span of its own
 * (one character). An unfinished sequence at the end is reported in `unfinishedAt`, or, when `final`, taken as a lone
 * ESC followed by text.
 */
function findEscapes(text: string, max: number, final: boolean): EscapeSpans {
  const spans: EscapeSpans['spans'] = [];
  let unfinishedAt = -1;
  for (let at = text.indexOf(ESC); at >= 0; at = text.indexOf(ESC, at)) {
    const end = escapeEnd(text, at, max);
    if (end < 0 && !final) {
      unfinishedAt = at;
      break;
    }
    const length = end < 0 ? 1 : end - at;
    spans.push({ start: at, end: at + length, osc: length > 2 && text.charCodeAt(at + 1) === 0x5d });
    at += length;
  }
  return { spans, unfinishedAt };
}

/** The end of the escape sequence at `at` (ECMA-48), `at + 1` when it is none, or -1 when `text` ends inside it. */
function escapeEnd(text: string, at: number, max: number): number {
  const limit = Math.min(text.length, at + max);
  const unfinished = () => (limit === text.length && text.length < at + max ? -1 : at + 1);
  if (at + 1 >= limit) return unfinished();
  const kind = text.charCodeAt(at + 1);
  if (kind === 0x5b) {
    // CSI: parameter and intermediate bytes 0x20-0x3F, then a final byte 0x40-0x7E.
    for (let index = at + 2; index < limit; index += 1) {
      const code = text.charCodeAt(index);
      if (code >= 0x40 && code <= 0x7e) return index + 1;
      if (code < 0x20 || code > 0x3f) return at + 1;
    }
    return unfinished();
  }
  if (kind === 0x5d || kind === 0x50 || kind === 0x58 || kind === 0x5e || kind === 0x5f) {
    // OSC, DCS, SOS, PM, APC: a string ended by ST (ESC \); xterm also ends an OSC with BEL.
    for (let index = at + 2; index < limit; index += 1) {
      const code = text.charCodeAt(index);
      if (code === 0x07 && kind === 0x5d) return index + 1;
      if (code === 0x1b) {
        if (index + 1 >= limit) return unfinished();
        return text.charCodeAt(index + 1) === 0x5c ? index + 2 : at + 1;
      }
    }
    return unfinished();
  }
  // Other escapes: intermediate bytes 0x20-0x2F, then a final byte 0x30-0x7E (ESC 7, ESC ( B, ESC =).
  for (let index = at + 1; index < limit; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 0x30 && code <= 0x7e) return index + 1;
    if (code < 0x20 || code > 0x2f) return at + 1;
  }
  return unfinished();
}

/**
 * `text` masked with its escape sequences out of the scanner's way: each becomes one ESC (which starts and ends a word
 * the way a space does), the text is masked, and the sequences are put back, an OSC's text masked by itself.
 */
function maskWithEscapes(
  masker: Masker,
  text: string,
  context: MaskContext | undefined,
  maxEscapeChars: number,
): MaskedText {
  // What is masked never ends inside a sequence but at the end of the stream: an unfinished one is then a lone ESC.
  const { spans } = findEscapes(text, maxEscapeChars, true);
  if (spans.length === 0) return masker.maskText(text, context);
  let collapsed = '';
  let last = 0;
  for (const span of spans) {
    collapsed += text.slice(last, span.start) + ESC;
    last = span.end;
  }
  collapsed += text.slice(last);
  const masked = masker.maskText(collapsed, context);
  const recorder = new MaskingRecorder();
  recorder.addRecord(masked.record);
  const pieces = masked.value.split(ESC);
  if (pieces.length !== spans.length + 1) {
    // A masked value swallowed a sequence: which one is not known, so none is put back in a wrong place.
    return { value: pieces.join(''), record: recorder.toRecord() };
  }
  let value = pieces[0]!;
  spans.forEach((span, index) => {
    value += span.osc
      ? maskOsc(masker, text.slice(span.start, span.end), context, recorder)
      : text.slice(span.start, span.end);
    value += pieces[index + 1]!;
  });
  return { value, record: recorder.toRecord() };
}

/** An OSC with its text masked (`ESC ] 0 ; title BEL`): a window title may name what is on the screen. */
function maskOsc(
  masker: Masker,
  sequence: string,
  context: MaskContext | undefined,
  recorder: MaskingRecorder,
): string {
  const terminator = sequence.endsWith('\u0007') ? 1 : 2;
  const body = sequence.slice(2, sequence.length - terminator);
  const masked = masker.maskText(body, context);
  if (masked.record.total === 0) return sequence;
  recorder.addRecord(masked.record);
  return sequence.slice(0, 2) + masked.value + sequence.slice(sequence.length - terminator);
}

/** The last `max` characters of `text`, cut after a line end or a space when there is one near the cut. */
function trimContext(text: string, max: number): string {
  if (text.length <= max) return text;
  const from = text.length - max;
  const near = from + Math.floor(max / 2);
  const newline = text.indexOf('\n', from);
  if (newline >= 0 && newline < near) return text.slice(newline + 1);
  const space = text.indexOf(' ', from);
  if (space >= 0 && space < near) return text.slice(space + 1);
  return text.slice(from);
}

function commonPrefixLength(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let index = 0;
  while (index < length && a.charCodeAt(index) === b.charCodeAt(index)) index += 1;
  return index;
}

/** What `after` masked beyond `before`, per path and detector (never below zero). */
function subtractRecord(after: MaskingRecord, before: MaskingRecord): MaskingRecord {
  if (before.total === 0) return after;
  const seen = new Map(before.entries.map((entry) => [`${entry.path}\u0000${entry.by}`, entry.count]));
  const entries = after.entries
    .map((entry) => ({ ...entry, count: entry.count - (seen.get(`${entry.path}\u0000${entry.by}`) ?? 0) }))
    .filter((entry) => entry.count > 0);
  return { entries, total: entries.reduce((sum, entry) => sum + entry.count, 0) };
}
