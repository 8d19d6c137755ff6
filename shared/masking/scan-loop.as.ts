/**
 * The text scanner's loop over characters (detectors.ts), in AssemblyScript: compiled to WebAssembly by
 * `npm run build:wasm` into scan-loop.wasm.ts, which the scanner loads. It visits every UTF-16 code unit of the text in
 * linear memory and passes the few places an identifier can start to the detectors in JavaScript, which return where
 * the loop goes on. Compiled code does this pass about twice as fast as V8's, and a log line is mostly characters that
 * start nothing (bench/masking.ts; decision 0014).
 *
 * The contract with detectors.ts, which the detector tests check through the scanner:
 * - a digit run is visited when it starts a token (not after a letter, a digit or `_`, nor after a joiner `.` `-` `_`
 *   that follows a letter or a digit), or, with `gluedSsn`, when it is three digits and a dash after a word and a
 *   joiner (`intake-123-45-6789`). Any other digit run is passed with the rest of its word.
 * - `@ ? & + ( :` are visited wherever the loop reaches them, and `[` before `M` or `H`, where a token may start
 *   (TOKEN_PREFIXES in model.ts: `[MASKED:`, `[HASH:`); a log line has a few other `[`.
 * - with `skipFieldTimestamps` (the date detector on, in `contextual` mode), a digit run that starts a year-first
 *   timestamp at the start of a field is passed whole, unvisited: detectors/dates.ts would read it and leave it, as a
 *   timestamp with no word before it in its field cannot be a person's date, and a log line starts with one.
 * Code units of 128 and above are never part of a token.
 */

/** Imported from detectors.ts: each returns the index the loop goes on from, always past `start`. */
declare function visitDigitRun(start: i32, runEnd: i32, glued: bool): i32;
declare function visitMark(index: i32, code: i32): i32;

const DIGIT: u8 = 1;
const LETTER: u8 = 2;
const JOINER: u8 = 4;
const MARK: u8 = 8;

/** The class of each ASCII code unit; anything else is 0 (starts nothing, joins nothing). */
const CLASSES = memory.data(128);

function setClass(characters: string, characterClass: u8): void {
  for (let index = 0; index < characters.length; index++) {
    store<u8>(CLASSES + <usize>characters.charCodeAt(index), characterClass);
  }
}
setClass('0123456789', DIGIT);
setClass('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', LETTER);
setClass('.-_', JOINER);
setClass('@?&+(:[', MARK);

const UNDERSCORE = 95;
const DASH = 45;
const SLASH = 47;
const COLON = 58;
const SPACE = 32;
const COMMA = 44;

function unitAt(text: usize, index: i32): u32 {
  return load<u16>(text + ((<usize>index) << 1));
}

function classAt(text: usize, index: i32): u8 {
  const unit = unitAt(text, index);
  return unit < 128 ? load<u8>(CLASSES + <usize>unit) : 0;
}

function isAlphanumeric(characterClass: u8): bool {
  return characterClass == DIGIT || characterClass == LETTER;
}

/** The code unit at `index`, or 0 past the text's end (0 is no digit, letter or separator). */
function unitOrZero(text: usize, length: i32, index: i32): u32 {
  return index < length ? unitAt(text, index) : 0;
}

function isDigitAt(text: usize, length: i32, index: i32): bool {
  return unitOrZero(text, length, index) - 48 <= 9;
}

function digitAt(text: usize, index: i32): i32 {
  return <i32>unitAt(text, index) - 48;
}

/** The end of the digits from `at`, at most `most` of them. */
function digitsEnd(text: usize, length: i32, at: i32, most: i32): i32 {
  let end = at;
  while (end < at + most && isDigitAt(text, length, end)) end++;
  return end;
}

/** The number the digits `[start, end)` spell. */
function numberAt(text: usize, start: i32, end: i32): i32 {
  let value = 0;
  for (let index = start; index < end; index++) value = value * 10 + digitAt(text, index);
  return value;
}

/** endsToken of detectors/characters.ts: no letter, digit or `_` next, nor a joiner before one. */
function endsToken(text: usize, length: i32, end: i32): bool {
  if (end >= length) return true;
  const next = classAt(text, end);
  if (isAlphanumeric(next) || unitAt(text, end) == UNDERSCORE) return false;
  return !(next == JOINER && end + 1 < length && isAlphanumeric(classAt(text, end + 1)));
}

/**
 * Where the time part from `at` ends, or -1 without one: TIME_PART of detectors/dates.ts,
 * `(?:T| |, )\d\d?:\d\d(?::\d\d(?:[.,]\d{1,9})?)?(?:Z| ?[+-]\d\d(?::?\d\d)?)?`, read as the regular expression's
 * first match (greedy, and nothing after an optional part can fail it).
 */
function timePartEnd(text: usize, length: i32, at: i32): i32 {
  let index = at;
  const lead = unitOrZero(text, length, index);
  if (lead == 84 /* T */ || lead == SPACE) index += 1;
  else if (lead == COMMA && unitOrZero(text, length, index + 1) == SPACE) index += 2;
  else return -1;
  if (!isDigitAt(text, length, index)) return -1;
  index += isDigitAt(text, length, index + 1) ? 2 : 1;
  if (unitOrZero(text, length, index) != COLON) return -1;
  if (!isDigitAt(text, length, index + 1) || !isDigitAt(text, length, index + 2)) return -1;
  index += 3;
  if (
    unitOrZero(text, length, index) == COLON &&
    isDigitAt(text, length, index + 1) &&
    isDigitAt(text, length, index + 2)
  ) {
    index += 3;
    const mark = unitOrZero(text, length, index);
    if ((mark == 46 /* . */ || mark == COMMA) && isDigitAt(text, length, index + 1)) {
      index = digitsEnd(text, length, index + 1, 9);
    }
  }
  if (unitOrZero(text, length, index) == 90 /* Z */) return index + 1;
  let zone = unitOrZero(text, length, index) == SPACE ? index + 1 : index;
  const sign = unitOrZero(text, length, zone);
  if (
    (sign != 43 /* + */ && sign != DASH) ||
    !isDigitAt(text, length, zone + 1) ||
    !isDigitAt(text, length, zone + 2)
  ) {
    return index;
  }
  zone += 3;
  if (
    unitOrZero(text, length, zone) == COLON &&
    isDigitAt(text, length, zone + 1) &&
    isDigitAt(text, length, zone + 2)
  ) {
    return zone + 3;
  }
  return isDigitAt(text, length, zone) && isDigitAt(text, length, zone + 1) ? zone + 2 : zone;
}

/**
 * The end of a year-first timestamp (`2024-03-05T10:11:12Z`, `2024/3/5 10:11`) whose four-digit year is the run at
 * `start`, when nothing comes before it in its field; else -1. As detectors/dates.ts reads one: years 1800–2199, a real
 * day and month, a time part, a token's end after it. Nothing before it in its field: the text's start or one of the
 * characters hasContextBefore (detectors/characters.ts) stops at, so no context word can make it a person's date.
 */
function fieldTimestampEnd(text: usize, length: i32, start: i32): i32 {
  if (start > 0) {
    const before = unitAt(text, start - 1);
    if (before != COMMA && before != 59 /* ; */ && before != 123 /* { */ && before != 125 /* } */ && before != 10) {
      return -1;
    }
  }
  const separator = unitOrZero(text, length, start + 4);
  if (separator != DASH && separator != SLASH) return -1;
  const century = numberAt(text, start, start + 2);
  if (century < 18 || century > 21) return -1;
  const monthStart = start + 5;
  const monthEnd = digitsEnd(text, length, monthStart, 2);
  if (monthEnd == monthStart || unitOrZero(text, length, monthEnd) != separator) return -1;
  const dayStart = monthEnd + 1;
  const dayEnd = digitsEnd(text, length, dayStart, 2);
  if (dayEnd == dayStart) return -1;
  const month = numberAt(text, monthStart, monthEnd);
  const day = numberAt(text, dayStart, dayEnd);
  if (month < 1 || month > 12 || day < 1 || day > 31) return -1;
  // A time part starts right after the day, so a date followed by `/` (a path's directory) is never one.
  const end = timePartEnd(text, length, dayEnd);
  return end >= 0 && endsToken(text, length, end) ? end : -1;
}

/**
 * The first digit or mark at or after `index`, or `length`: eight code units at a time, since most of a log line is
 * neither.
 */
function nextCandidate(text: usize, length: i32, index: i32): i32 {
  while (index + 8 <= length) {
    const units = v128.load(text + ((<usize>index) << 1));
    let candidates = i16x8.lt_u(i16x8.sub(units, i16x8.splat(48)), i16x8.splat(10));
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(64))); // @
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(63))); // ?
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(38))); // &
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(43))); // +
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(40))); // (
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(<i16>COLON)));
    candidates = v128.or(candidates, i16x8.eq(units, i16x8.splat(91))); // [
    const found = i16x8.bitmask(candidates);
    if (found != 0) return index + ctz(found);
    index += 8;
  }
  while (index < length && (classAt(text, index) & (DIGIT | MARK)) == 0) index++;
  return index;
}

/**
 * Scans the `length` code units at `text`; returns 1 when it met a digit. `gluedSsn`: visit a dashed SSN's first run
 * after a word and a joiner. `skipFieldTimestamps`: pass a timestamp at a field's start unvisited.
 */
export function scan(text: usize, length: i32, gluedSsn: bool, skipFieldTimestamps: bool): i32 {
  let sawDigit = 0;
  let index = 0;
  while (index < length) {
    index = nextCandidate(text, length, index);
    if (index == length) break;
    if (classAt(text, index) == MARK) {
      const mark = unitAt(text, index);
      const next = unitOrZero(text, length, index + 1);
      index = mark != 91 /* [ */ || next == 77 /* M */ || next == 72 /* H */ ? visitMark(index, mark) : index + 1;
      continue;
    }
    sawDigit = 1;
    const runEnd = digitsEnd(text, length, index + 1, length);
    let startsToken = true;
    let glued = false;
    if (index > 0) {
      const before = classAt(text, index - 1);
      const beforeJoiner: u8 = index >= 2 ? classAt(text, index - 2) : 0;
      startsToken = !(
        isAlphanumeric(before) ||
        unitAt(text, index - 1) == UNDERSCORE ||
        (before == JOINER && isAlphanumeric(beforeJoiner))
      );
      glued =
        gluedSsn &&
        before == JOINER &&
        beforeJoiner == LETTER &&
        runEnd - index == 3 &&
        runEnd < length &&
        unitAt(text, runEnd) == DASH;
    }
    if (startsToken && skipFieldTimestamps && runEnd - index == 4) {
      const end = fieldTimestampEnd(text, length, index);
      if (end >= 0) {
        index = end;
        continue;
      }
    }
    if (startsToken || glued) {
      index = visitDigitRun(index, runEnd, glued);
      continue;
    }
    // Inside a word (hex, base64, `INC0012345`): nothing starts before the word ends.
    index = runEnd;
    while (index < length && isAlphanumeric(classAt(text, index))) index++;
  }
  return sawDigit;
}

/** Where the text may go: the first 16-byte boundary after the loop's own data. */
export function textOffset(): usize {
  return (__heap_base + 15) & ~15;
}
