/**
 * Character tests and token boundaries shared by the detectors. They read char codes, never slice, so a scan allocates
 * nothing until it finds something.
 */

const DIGIT = 1;
const UPPER = 2;
const LOWER = 4;
const HEX = 8;
/** `.`, `-`, `_`: they glue words into one token (`v1.2.3`, `JIRA-1234`, `release_2024`). */
const JOINER = 16;

const CLASSES = new Uint8Array(128);
for (let code = 48; code <= 57; code += 1) CLASSES[code] = DIGIT | HEX;
for (let code = 65; code <= 90; code += 1) CLASSES[code] = UPPER | (code <= 70 ? HEX : 0);
for (let code = 97; code <= 122; code += 1) CLASSES[code] = LOWER | (code <= 102 ? HEX : 0);
for (const joiner of '.-_') CLASSES[joiner.charCodeAt(0)] = JOINER;

export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
export function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}
export function isLetter(code: number): boolean {
  return code < 128 && (CLASSES[code]! & (UPPER | LOWER)) !== 0;
}
export function isAlphanumeric(code: number): boolean {
  return code < 128 && (CLASSES[code]! & (DIGIT | UPPER | LOWER)) !== 0;
}
export function isHex(code: number): boolean {
  return code < 128 && (CLASSES[code]! & HEX) !== 0;
}
function isJoiner(code: number): boolean {
  return code < 128 && (CLASSES[code]! & JOINER) !== 0;
}

/**
 * True when an identifier may start at `start`: not inside a word (`INC0012345`, `sha256:…` hex) nor glued to one by a
 * joiner (`v1.2.3`, `JIRA-1234`, the second group of a UUID).
 */
export function startsToken(text: string, start: number): boolean {
  if (start === 0) return true;
  const previous = text.charCodeAt(start - 1);
  if (isAlphanumeric(previous) || previous === 95) return false;
  return !(isJoiner(previous) && start >= 2 && isAlphanumeric(text.charCodeAt(start - 2)));
}

/** True when an identifier may end at `end`: the mirror of `startsToken` (`1.2.3.4-alpha`, `123-45-6789x` do not end). */
export function endsToken(text: string, end: number): boolean {
  if (end >= text.length) return true;
  const next = text.charCodeAt(end);
  if (isAlphanumeric(next) || next === 95) return false;
  return !(isJoiner(next) && end + 1 < text.length && isAlphanumeric(text.charCodeAt(end + 1)));
}

/** True when exactly the `count` characters from `at` are digits (the boundary check rejects a longer run). */
export function digitsAt(text: string, at: number, count: number): boolean {
  if (at + count > text.length) return false;
  for (let index = at; index < at + count; index += 1) {
    if (!isDigit(text.charCodeAt(index))) return false;
  }
  return true;
}

/** The decimal value of the digits in `[start, end)`. */
export function numberAt(text: string, start: number, end: number): number {
  let value = 0;
  for (let index = start; index < end; index += 1) value = value * 10 + text.charCodeAt(index) - 48;
  return value;
}

const CONTEXT_WINDOW = 32;

/**
 * True when `context` matches the text shortly before `start`, by default within the same field: the look-back stops at
 * `,` `;` `{` `}` and line ends, so `"dob":"…","created":"<timestamp>"` does not lend the timestamp the dob's context.
 * `acrossFields` is for identifiers named by a sibling field, as FHIR's `{"system":"…/us-npi","value":"…"}`.
 */
export function hasContextBefore(text: string, start: number, context: RegExp, acrossFields = false): boolean {
  const limit = Math.max(0, start - CONTEXT_WINDOW);
  let from = start;
  while (from > limit) {
    const code = text.charCodeAt(from - 1);
    if (!acrossFields && (code === 44 || code === 59 || code === 123 || code === 125 || code === 10)) break;
    from -= 1;
  }
  return from < start && context.test(text.slice(from, start));
}

/**
 * True when a word and a joiner come right before `start` (`intake-`, `patient_`), as in file and object names
 * (`intake-123-45-6789.pdf`). Only identifiers with a shape specific enough to stand out there may start so (the dashed
 * SSN); dates, ZIPs and card groups may not (`backup-2024-03-05`, `JIRA-1234`).
 */
export function joinedToWordBefore(text: string, start: number): boolean {
  return start >= 2 && isJoiner(text.charCodeAt(start - 1)) && isLetter(text.charCodeAt(start - 2));
}

/** The mirror of `joinedToWordBefore`: a joiner and a word right after `end` (`.pdf`, `_front`). */
export function joinedToWordAfter(text: string, end: number): boolean {
  return end + 1 < text.length && isJoiner(text.charCodeAt(end)) && isLetter(text.charCodeAt(end + 1));
}
