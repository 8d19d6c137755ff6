/**
 * Where the members of a JSON object lie in its UTF-8 bytes, and the elements of a list's `items` (or a Table's `rows`),
 * found in one pass that jumps over strings with `indexOf`: the masker then decodes, parses, masks and writes a list
 * item by item instead of as one tree, so its memory is the input's bytes, the output and one item (never a decoded copy
 * of the whole input). Byte offsets are safe to scan: every structural character is ASCII, and no byte of a multi-byte
 * UTF-8 character is. It does not validate: every span it returns is given to JSON.parse, which does; input it cannot
 * lay out is parsed whole.
 */

/** One top-level member: its key and the `[start, end)` of its value; `elements` for an array under a split key. */
export interface MemberSpan {
  key: string;
  start: number;
  end: number;
  /** `[start, end)` of each element in bytes, flat: `[start0, end0, start1, end1, …]`. */
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

function skipSpace(bytes: Buffer, index: number): number {
  while (index < bytes.length && isSpace(bytes[index]!)) index += 1;
  return index;
}

/** The index after the string opening at `quote`, or -1: a `"` ends it unless an odd run of backslashes precedes it. */
function stringEnd(bytes: Buffer, quote: number): number {
  let from = quote + 1;
  for (;;) {
    const close = bytes.indexOf(QUOTE, from);
    if (close < 0) return -1;
    let backslash = close - 1;
    while (bytes[backslash] === BACKSLASH) backslash -= 1;
    if ((close - 1 - backslash) % 2 === 0) return close + 1;
    from = close + 1;
  }
}

/** The index after the value starting at `start`, or -1. */
function valueEnd(bytes: Buffer, start: number): number {
  const first = bytes[start];
  if (first === QUOTE) return stringEnd(bytes, start);
  let index = start;
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    while (index < bytes.length) {
      const code = bytes[index];
      if (code === QUOTE) {
        index = stringEnd(bytes, index);
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
  while (index < bytes.length) {
    const code = bytes[index]!;
    if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isSpace(code)) break;
    index += 1;
  }
  return index > start ? index : -1;
}

/** The elements of the array opening at `open`, and the index after it; undefined when it is not laid out as JSON. */
function arrayElements(bytes: Buffer, open: number): { elements: number[]; end: number } | undefined {
  const elements: number[] = [];
  let index = skipSpace(bytes, open + 1);
  if (bytes[index] === CLOSE_BRACKET) return { elements, end: index + 1 };
  for (;;) {
    const end = valueEnd(bytes, index);
    if (end < 0) return undefined;
    elements.push(index, end);
    index = skipSpace(bytes, end);
    const code = bytes[index];
    if (code === CLOSE_BRACKET) return { elements, end: index + 1 };
    if (code !== COMMA) return undefined;
    index = skipSpace(bytes, index + 1);
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
 * The members of the object `bytes` holds, in order, with the elements of the arrays under `splitKeys`; undefined when
 * `bytes` is not an object (or not one this scan can lay out: JSON.parse then says why).
 */
export function objectLayout(bytes: Buffer, splitKeys: ReadonlySet<string>): MemberSpan[] | undefined {
  let index = skipSpace(bytes, 0);
  if (bytes[index] !== OPEN_BRACE) return undefined;
  const members: MemberSpan[] = [];
  index = skipSpace(bytes, index + 1);
  if (bytes[index] === CLOSE_BRACE) return undefined;
  for (;;) {
    if (bytes[index] !== QUOTE) return undefined;
    const keyEnd = stringEnd(bytes, index);
    if (keyEnd < 0) return undefined;
    const key = parseKey(bytes.toString('utf8', index, keyEnd));
    if (key === undefined) return undefined;
    index = skipSpace(bytes, keyEnd);
    if (bytes[index] !== COLON) return undefined;
    const start = skipSpace(bytes, index + 1);
    let member: MemberSpan;
    if (splitKeys.has(key) && bytes[start] === OPEN_BRACKET) {
      const array = arrayElements(bytes, start);
      if (!array) return undefined;
      member = { key, start, end: array.end, elements: array.elements };
    } else {
      const end = valueEnd(bytes, start);
      if (end < 0) return undefined;
      member = { key, start, end };
    }
    members.push(member);
    index = skipSpace(bytes, member.end);
    const code = bytes[index];
    if (code === CLOSE_BRACE) return skipSpace(bytes, index + 1) === bytes.length ? members : undefined;
    if (code !== COMMA) return undefined;
    index = skipSpace(bytes, index + 1);
  }
}
