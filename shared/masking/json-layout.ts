/**
 * Where the members of a JSON object text lie, and the elements of a list's `items` (or a Table's `rows`), found in one
 * pass that jumps over strings with `indexOf`: the masker then parses, masks and writes a list item by item instead of
 * as one tree, so its memory is the input, the output and one item. It does not validate: every span it returns is
 * given to JSON.parse, which does; a text it cannot lay out is parsed whole.
 */

/** One top-level member: its key and the `[start, end)` of its value; `elements` for an array under a split key. */
export interface MemberSpan {
  key: string;
  start: number;
  end: number;
  /** `[start, end)` of each element, flat: `[start0, end0, start1, end1, …]`. */
  elements?: number[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipSpace(text: string, index: number): number {
  while (index < text.length && isSpace(text.charCodeAt(index))) index += 1;
  return index;
}

/** The index after the string opening at `quote`, or -1: a `"` ends it unless an odd run of backslashes precedes it. */
function stringEnd(text: string, quote: number): number {
  let from = quote + 1;
  for (;;) {
    const close = text.indexOf('"', from);
    if (close < 0) return -1;
    let backslash = close - 1;
    while (text.charCodeAt(backslash) === BACKSLASH) backslash -= 1;
    if ((close - 1 - backslash) % 2 === 0) return close + 1;
    from = close + 1;
  }
}

/** The index after the value starting at `start`, or -1. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  let index = start;
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    while (index < text.length) {
      const code = text.charCodeAt(index);
      if (code === QUOTE) {
        index = stringEnd(text, index);
        if (index < 0) return -1;
        continue;
      }
      if (code === OPEN_BRACE || code === OPEN_BRACKET) depth += 1;
      else if ((code === CLOSE_BRACE || code === CLOSE_BRACKET) && --depth === 0) return index + 1;
      index += 1;
    }
    return -1;
  }
  // A number, true, false or null runs to the next delimiter.
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isSpace(code)) break;
    index += 1;
  }
  return index > start ? index : -1;
}

/** The elements of the array opening at `open`, and the index after it; undefined when it is not laid out as JSON. */
function arrayElements(text: string, open: number): { elements: number[]; end: number } | undefined {
  const elements: number[] = [];
  let index = skipSpace(text, open + 1);
  if (text.charCodeAt(index) === CLOSE_BRACKET) return { elements, end: index + 1 };
  for (;;) {
    const end = valueEnd(text, index);
    if (end < 0) return undefined;
    elements.push(index, end);
    index = skipSpace(text, end);
    const code = text.charCodeAt(index);
    if (code === CLOSE_BRACKET) return { elements, end: index + 1 };
    if (code !== COMMA) return undefined;
    index = skipSpace(text, index + 1);
  }
}

function parseKey(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}

/**
 * The members of the object `text` holds, in order, with the elements of the arrays under `splitKeys`; undefined when
 * `text` is not an object (or not one this scan can lay out: JSON.parse then says why).
 */
export function objectLayout(text: string, splitKeys: ReadonlySet<string>): MemberSpan[] | undefined {
  let index = skipSpace(text, 0);
  if (text.charCodeAt(index) !== OPEN_BRACE) return undefined;
  const members: MemberSpan[] = [];
  index = skipSpace(text, index + 1);
  if (text.charCodeAt(index) === CLOSE_BRACE) return undefined;
  for (;;) {
    if (text.charCodeAt(index) !== QUOTE) return undefined;
    const keyEnd = stringEnd(text, index);
    if (keyEnd < 0) return undefined;
    const key = parseKey(text.slice(index, keyEnd));
    if (key === undefined) return undefined;
    index = skipSpace(text, keyEnd);
    if (text.charCodeAt(index) !== COLON) return undefined;
    const start = skipSpace(text, index + 1);
    let member: MemberSpan;
    if (splitKeys.has(key) && text.charCodeAt(start) === OPEN_BRACKET) {
      const array = arrayElements(text, start);
      if (!array) return undefined;
      member = { key, start, end: array.end, elements: array.elements };
    } else {
      const end = valueEnd(text, start);
      if (end < 0) return undefined;
      member = { key, start, end };
    }
    members.push(member);
    index = skipSpace(text, member.end);
    const code = text.charCodeAt(index);
    if (code === CLOSE_BRACE) return skipSpace(text, index + 1) === text.length ? members : undefined;
    if (code !== COMMA) return undefined;
    index = skipSpace(text, index + 1);
  }
}
