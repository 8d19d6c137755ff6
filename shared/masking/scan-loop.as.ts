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
 * - `@ ? & + ( : [` are visited wherever the loop reaches them.
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

/**
 * Scans the `length` code units at `text`; returns 1 when it met a digit. `gluedSsn`: visit a dashed SSN's first run
 * after a word and a joiner.
 */
export function scan(text: usize, length: i32, gluedSsn: bool): i32 {
  let sawDigit = 0;
  let index = 0;
  while (index < length) {
    const characterClass = classAt(text, index);
    if (characterClass == MARK) {
      index = visitMark(index, unitAt(text, index));
      continue;
    }
    if (characterClass != DIGIT) {
      index++;
      continue;
    }
    sawDigit = 1;
    let runEnd = index + 1;
    while (runEnd < length && classAt(text, runEnd) == DIGIT) runEnd++;
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
