/**
 * The text scanner (issue 5, point 1): finds the Safe Harbor identifiers of DETECTOR_NAMES in free text — log lines and
 * every string value of a Kubernetes object. One pass over the characters dispatches on the few that can start an
 * identifier (a digit, `@`, `?`, `+`, `(`, `:`) and runs each detector's exact checks (ranges, check digits, context
 * words) only there; configured patterns (MRN, health plan, account) run afterwards on strings that hold a digit.
 * Each detector's file in `detectors/` says what it accepts and what it leaves alone on purpose.
 */
import { DETECTOR_NAMES, TOKEN_PREFIXES, type Detection, type DetectorName, type TextScanner } from './model.ts';
import { detectStreetAddress, detectZip } from './detectors/addresses.ts';
import { isAlphanumeric, isDigit, isLetter, isUpper, joinedToWordBefore, startsToken } from './detectors/characters.ts';
import { detectDate } from './detectors/dates.ts';
import { detectEmail } from './detectors/email.ts';
import { detectIpv4, detectIpv6, NonPhiRanges } from './detectors/network.ts';
import { detectCreditCard, detectMbi, detectNpi, detectPhone, detectSsn } from './detectors/numbers.ts';
import { ScannerOptionsSchema, type ScannerOptions } from './detectors/options.ts';
import { compilePatterns, detectPatterns, type IdentifierPatterns } from './detectors/patterns.ts';
import { detectQueryValue, queryEnd } from './detectors/url.ts';
import { SCAN_LOOP_WASM } from './scan-loop.wasm.ts';
import { tokenEndAt } from './tokens.ts';

export { ScannerOptionsSchema, type ResolvedScannerOptions, type ScannerOptions } from './detectors/options.ts';

const PRIORITY = new Map<DetectorName, number>(DETECTOR_NAMES.map((name, index) => [name, index]));

/**
 * Appends `detection` to `found` (sorted, non-overlapping) so that the longest of overlapping detections wins; on the same
 * span the detector listed first in DETECTOR_NAMES wins (a date in a query value is a date).
 */
function addResolved(found: Detection[], detection: Detection): void {
  const length = detection.end - detection.start;
  let keep = found.length;
  while (keep > 0 && found[keep - 1]!.end > detection.start) {
    const previous = found[keep - 1]!;
    const previousLength = previous.end - previous.start;
    const sameSpan = previous.start === detection.start && previous.end === detection.end;
    if (previousLength > length || (previousLength === length && !sameSpan)) return;
    if (sameSpan && PRIORITY.get(previous.detector)! <= PRIORITY.get(detection.detector)!) return;
    keep -= 1;
  }
  // Setting an array's length is a slow builtin call: the common case (nothing overlapped) skips it.
  if (keep < found.length) found.length = keep;
  found.push(detection);
}

/** The detectors a digit run may start, as bits of a shape table (`digitRunShapes`). */
const SSN = 1;
const PHONE = 2;
const NPI = 4;
const MBI = 8;
const CARD = 16;
const STREET = 32;
const ZIP = 64;
const IPV4 = 128;
const DATE = 256;
/** Runs of this many digits or more start nothing (the longest identifier run is a 19-digit card). */
const MAX_SHAPE_DIGITS = 20;
/** The character after a run: ASCII, or 128 for any other (0 stands for the end of the text). */
const SHAPE_NEXT = 129;

/** A cell of a scanner's shape table not filled yet (a shape has 9 bits). */
const UNKNOWN_SHAPE = 0xffff;

/**
 * Which detectors can match at a digit run, by its length and the character after it: most runs in logs and objects
 * (years, times, ports, counts) fit one detector's shape or none, so the scanner calls only those. Each is a superset
 * of what its detector accepts (the detector checks the rest); the detector tests run through the scanner, so a shape
 * left out here fails them. A scanner fills its table as runs arrive: a text meets few of the 2,709 cells.
 */
function digitRunShape(digits: number, next: number, on: Readonly<Record<DetectorName, boolean>>): number {
  // A time (`10:11`) or an IPv6 group: the `:` handles those. Digits glued to letters (`264ms`, `sha256`) start
  // nothing but an MBI (`1EG4…`) or an ordinal date (`5th March 1980`).
  if (next === 58 || (next < 128 && isLetter(next) && digits > 2)) return 0;
  const separator = next === 45 || next === 32 || next === 46;
  const candidates: Array<[DetectorName, number, boolean]> = [
    ['ssn', SSN, digits === 9 || (digits === 3 && (next === 45 || next === 32))],
    ['phone', PHONE, digits === 10 || ((digits === 3 || digits === 1) && separator)],
    ['npi', NPI, digits === 10],
    ['mbi', MBI, digits === 1 && next < 128 && isUpper(next)],
    ['credit-card', CARD, (digits >= 13 && digits <= 19) || (digits === 4 && (next === 32 || next === 45))],
    ['street-address', STREET, digits <= 6 && next === 32],
    ['zip', ZIP, digits === 5],
    ['ip', IPV4, digits <= 3 && next === 46],
    ['date', DATE, digits <= 2 || (digits === 4 && (next === 45 || next === 47))],
  ];
  let shape = 0;
  for (const [detector, bit, fits] of candidates) if (fits && on[detector]) shape |= bit;
  return shape;
}

/**
 * The characters the loop visits: digits, and `@ ? & + ( : [` (see visitMark). One entry per UTF-16 code unit, so the
 * loop's test is a single load with no range check before it.
 */
const STARTS_SOMETHING = new Uint8Array(0x10000);
for (const character of '0123456789@?&+(:[') STARTS_SOMETHING[character.charCodeAt(0)] = 1;

/**
 * Which loop scans a text: WebAssembly's from this length (shorter texts, most string values of an object, do not
 * repay the call; bench/masking.ts measures both loops), up to a length that bounds its memory at about 2 MiB a
 * scanner, since linear memory never shrinks.
 */
const WEBASSEMBLY_FROM = 256;
const WEBASSEMBLY_UP_TO = 1 << 20;

/** For tests and benchmarks: `javascript` or `webassembly` runs that loop on every text. @default auto, by length */
export interface ScannerTuning {
  loop?: 'auto' | 'javascript' | 'webassembly';
}

/** The letters right after the `[` of the token prefixes: a `[` before anything else is passed at once. */
const TOKEN_SECOND_CHARACTERS = new Set(TOKEN_PREFIXES.map((prefix) => prefix.charCodeAt(1)));

function tokenEnd(text: string, start: number): number {
  return TOKEN_SECOND_CHARACTERS.has(text.charCodeAt(start + 1)) ? tokenEndAt(text, start) : -1;
}

/** Builds a scanner once (patterns compiled, CIDRs parsed); its `scan` is then cheap enough to call per string value. */
export function createTextScanner(options: ScannerOptions = {}, tuning: ScannerTuning = {}): TextScanner {
  const resolved = ScannerOptionsSchema.parse(options);
  const enabled = new Set<DetectorName>(resolved.enabled);
  const nonPhi = new NonPhiRanges(resolved.nonPhiCidrs);
  const urlParameters = new Set(resolved.identifyingUrlParameters.map((name) => name.toLowerCase()));
  const dateMode = resolved.dates;
  const patterns = compilePatterns(
    (
      [
        ['mrn', resolved.mrnPatterns],
        ['health-plan', resolved.healthPlanPatterns],
        ['account', resolved.accountPatterns],
      ] satisfies [DetectorName, string[]][]
    )
      .filter(([detector]) => enabled.has(detector))
      .flatMap(([detector, sources]) => sources.map((source) => ({ detector, source }))),
  );
  const on = Object.fromEntries(DETECTOR_NAMES.map((name) => [name, enabled.has(name)])) as Record<
    DetectorName,
    boolean
  >;

  const shapes = new Uint16Array((MAX_SHAPE_DIGITS + 1) * SHAPE_NEXT).fill(UNKNOWN_SHAPE);

  /** The longest detection starting at the digit run, added to `found`; returns where scanning goes on. */
  function detectAtDigitRun(text: string, start: number, runEnd: number, found: Detection[]): number {
    const digits = runEnd - start;
    const next = runEnd < text.length ? text.charCodeAt(runEnd) : 0;
    const shapeDigits = digits < MAX_SHAPE_DIGITS ? digits : MAX_SHAPE_DIGITS;
    const shapeNext = next < 128 ? next : 128;
    const cell = shapeDigits * SHAPE_NEXT + shapeNext;
    let shape = shapes[cell]!;
    if (shape === UNKNOWN_SHAPE) shape = shapes[cell] = digitRunShape(shapeDigits, shapeNext, on);
    if (shape === 0) return runEnd;
    // One call site per detector (not a loop over a table) keeps each call monomorphic, so V8 inlines them.
    let bestEnd = -1;
    let bestDetector: DetectorName = 'ssn';
    let end: number;
    if (shape & SSN && (end = detectSsn(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'ssn';
    }
    if (shape & PHONE && (end = detectPhone(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'phone';
    }
    if (shape & NPI && (end = detectNpi(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'npi';
    }
    if (shape & MBI && (end = detectMbi(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'mbi';
    }
    if (shape & CARD && (end = detectCreditCard(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'credit-card';
    }
    if (shape & STREET && (end = detectStreetAddress(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'street-address';
    }
    if (shape & ZIP && (end = detectZip(text, start, runEnd)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'zip';
    }
    if (shape & IPV4 && (end = detectIpv4(text, start, runEnd, nonPhi)) > bestEnd) {
      bestEnd = end;
      bestDetector = 'ip';
    }
    let best: Detection | undefined = bestEnd > 0 ? { detector: bestDetector, start, end: bestEnd } : undefined;
    if (shape & DATE) {
      const date = detectDate(text, start, runEnd, dateMode);
      if (date && !date.personal && !best) return date.end;
      if (date?.personal && (!best || date.end - date.start > best.end - best.start)) {
        best = { detector: 'date', start: date.start, end: date.end };
      }
    }
    if (!best) return runEnd;
    addResolved(found, best);
    return best.end;
  }

  /** A digit run the loop visits: one that starts a token, or a dashed SSN's first run glued to a word. */
  function visitDigitRun(start: number, runEnd: number, glued: number): number {
    const text = scanned;
    if (!glued) return detectAtDigitRun(text, start, runEnd, found);
    const end = detectSsn(text, start, runEnd);
    if (end < 0) return runEnd;
    addResolved(found, { detector: 'ssn', start, end });
    return end;
  }

  /** One of `@ ? & + ( : [`. */
  function visitMark(index: number, code: number): number {
    const text = scanned;
    switch (code) {
      case 64: // @
        if (on.email) {
          const email = detectEmail(text, index);
          if (email) {
            addResolved(found, { detector: 'email', start: email.start, end: email.end });
            return email.end;
          }
        }
        break;
      case 63: // ? (a `?` inside a query is part of it)
      case 38: // &
        if (on.url) {
          if (code === 63 && index >= queryEndsAt) queryEndsAt = queryEnd(text, index);
          if (index < queryEndsAt) {
            const value = detectQueryValue(text, index, queryEndsAt, urlParameters);
            if (value) addResolved(found, { detector: 'url', start: value.start, end: value.end });
          }
        }
        break;
      case 43: // +
      case 40: // (
        if (on.phone && startsToken(text, index)) {
          const end = detectPhone(text, index, index);
          if (end > 0) {
            addResolved(found, { detector: 'phone', start: index, end });
            return end;
          }
        }
        break;
      case 58: // :
        if (on.ip) {
          const ip = detectIpv6(text, index, nonPhi);
          if (ip) {
            addResolved(found, { detector: 'ip', start: ip.start, end: ip.end });
            return ip.end;
          }
        }
        break;
      case 91: {
        // [ — an existing token is never scanned again, so masking is idempotent.
        const end = tokenEnd(text, index);
        if (end > 0) {
          (tokens ??= []).push(index, end);
          return end;
        }
        break;
      }
    }
    return index + 1;
  }

  // What the loop's visits read and add to while one text is scanned (scan is never re-entered: visits do not scan).
  let scanned = '';
  let found: Detection[] = [];
  /** `[start, end)` pairs of the tokens already in the text. */
  let tokens: number[] | undefined;
  /** The end of the URL query the last `?` began. */
  let queryEndsAt = -1;
  const loop = new ScanLoop(visitDigitRun, visitMark);
  /** The WebAssembly loop passes over what detectDate reads as a timestamp that is no person's date (scan-loop.as.ts). */
  const skipFieldTimestamps = on.date && dateMode === 'contextual';
  const useWebAssembly = (length: number): boolean =>
    tuning.loop === undefined || tuning.loop === 'auto'
      ? length >= WEBASSEMBLY_FROM && length <= WEBASSEMBLY_UP_TO
      : tuning.loop === 'webassembly';

  /**
   * scan-loop.as.ts's loop, for texts too short to repay a call into WebAssembly (most string values of an object);
   * test/unit/masking-scan-loop.test.ts checks that both visit the same places.
   */
  function loopInJavaScript(text: string): boolean {
    const length = text.length;
    let sawDigit = false;
    let index = 0;
    while (index < length) {
      const code = text.charCodeAt(index);
      // Most characters start nothing: one table lookup passes them.
      if (STARTS_SOMETHING[code] === 0) {
        index += 1;
        continue;
      }
      if (!isDigit(code)) {
        index = visitMark(index, code);
        continue;
      }
      sawDigit = true;
      let runEnd = index + 1;
      while (runEnd < length && isDigit(text.charCodeAt(runEnd))) runEnd += 1;
      if (startsToken(text, index)) {
        index = visitDigitRun(index, runEnd, 0);
      } else if (on.ssn && runEnd - index === 3 && text.charCodeAt(runEnd) === 45 && joinedToWordBefore(text, index)) {
        index = visitDigitRun(index, runEnd, 1);
      } else {
        index = runEnd;
        while (index < length && isAlphanumeric(text.charCodeAt(index))) index += 1;
      }
    }
    return sawDigit;
  }

  function scan(text: string): Detection[] {
    scanned = text;
    found = [];
    tokens = undefined;
    queryEndsAt = -1;
    const sawDigit = useWebAssembly(text.length) ? loop.run(text, on.ssn, skipFieldTimestamps) : loopInJavaScript(text);
    let result = found;
    if (patterns && sawDigit) addPatternDetections(text, patterns, result, tokens);
    // A URL query value may hold a token the loop meets after it: a token is never masked again.
    if (tokens) result = withoutTokens(result, tokens);
    scanned = '';
    found = [];
    return result;
  }

  function addPatternDetections(
    text: string,
    identifierPatterns: IdentifierPatterns,
    found: Detection[],
    tokens: number[] | undefined,
  ): void {
    const extra: Detection[] = [];
    detectPatterns(text, identifierPatterns, extra);
    if (extra.length === 0) return;
    // Before resolving: a match over a token must not displace a shorter detection beside it.
    const all = [...found, ...(tokens ? withoutTokens(extra, tokens) : extra)].sort(
      (a, b) => a.start - b.start || b.end - a.end,
    );
    found.length = 0;
    for (const detection of all) addResolved(found, detection);
  }

  return { scan };
}

/** The detections that overlap none of the `[start, end)` token spans. */
function withoutTokens(detections: Detection[], tokens: number[]): Detection[] {
  return detections.filter(({ start, end }) => {
    for (let index = 0; index < tokens.length; index += 2) {
      if (start < tokens[index + 1]! && tokens[index]! < end) return false;
    }
    return true;
  });
}

const SCAN_LOOP_MODULE = new WebAssembly.Module(Buffer.from(SCAN_LOOP_WASM, 'base64'));
const WASM_PAGE_BYTES = 65_536;

interface ScanLoopExports {
  memory: WebAssembly.Memory;
  scan(text: number, length: number, gluedSsn: number, skipFieldTimestamps: number): number;
  textOffset(): number;
}

/**
 * The scan loop (scan-loop.as.ts) with its own linear memory. The text is copied in as UTF-16 code units, so the loop's
 * indexes are the string's. Memory grows to the longest text scanned and stays (a masker's texts are bounded: lines
 * and windows by the text masker, string values by the object's size).
 */
class ScanLoop {
  readonly #exports: ScanLoopExports;
  readonly #offset: number;
  #bytes: Buffer;

  constructor(
    visitDigitRun: (start: number, runEnd: number, glued: number) => number,
    visitMark: (index: number, code: number) => number,
  ) {
    const instance = new WebAssembly.Instance(SCAN_LOOP_MODULE, { 'scan-loop': { visitDigitRun, visitMark } });
    this.#exports = instance.exports as unknown as ScanLoopExports;
    this.#offset = this.#exports.textOffset();
    this.#bytes = Buffer.from(this.#exports.memory.buffer);
  }

  /** Runs the loop over `text`; true when it met a digit. */
  run(text: string, gluedSsn: boolean, skipFieldTimestamps: boolean): boolean {
    const needed = this.#offset + text.length * 2;
    if (needed > this.#bytes.length) {
      this.#exports.memory.grow(Math.ceil((needed - this.#bytes.length) / WASM_PAGE_BYTES));
      this.#bytes = Buffer.from(this.#exports.memory.buffer);
    }
    this.#bytes.write(text, this.#offset, 'utf16le');
    return this.#exports.scan(this.#offset, text.length, gluedSsn ? 1 : 0, skipFieldTimestamps ? 1 : 0) === 1;
  }
}
