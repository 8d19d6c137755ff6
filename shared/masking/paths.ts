/**
 * The small languages of masking rules, parsed once: name patterns (`Secret`, `patient-*`, `/^PATIENT/i`) and field
 * paths (`spec.containers[*].env[*].value`, `metadata.annotations['phi.acme.org/*']`, `**.patientName`).
 */

/** Tests a key, kind, namespace, column name or sibling value. Built once per pattern, never per value. */
export type NameMatcher = (text: string) => boolean;

/** One step of a field path. */
export type PathSegment =
  /** An object key matching a pattern. */
  | { type: 'key'; match: NameMatcher }
  /** `[*]`: any array element. */
  | { type: 'element' }
  /** `*`: any one key or array element. */
  | { type: 'any' }
  /** `**`: any number of keys and elements, none included. */
  | { type: 'deep' };

type Parsed<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

const MAX_SEGMENTS = 64;

/**
 * `/source/flags` is a regular expression; a text with `*` is a glob (`*` matches any characters, the rest literally);
 * anything else must equal the text exactly.
 */
export function parsePattern(text: string): Parsed<NameMatcher> {
  if (text.length > 1 && text.startsWith('/')) {
    const close = text.lastIndexOf('/');
    const flags = text.slice(close + 1);
    if (close === 0 || !/^[imsu]*$/.test(flags))
      return { problem: 'a regular expression is written /source/flags (flags i, m, s, u)' };
    return compileRegExp(text.slice(1, close), flags);
  }
  return { value: compileGlob(text) };
}

/** `*` matches any characters; everything else matches itself. */
function compileGlob(text: string): NameMatcher {
  if (!text.includes('*')) return (candidate) => candidate === text;
  const parts = text.split('*');
  if (parts.length === 2 && parts[1] === '') {
    const prefix = parts[0]!;
    return (candidate) => candidate.startsWith(prefix);
  }
  const glob = new RegExp(`^${parts.map(escapeRegExp).join('.*')}$`, 's');
  return (candidate) => glob.test(candidate);
}

function compileRegExp(source: string, flags: string): Parsed<NameMatcher> {
  try {
    const regExp = new RegExp(source, flags);
    return { value: (candidate) => regExp.test(candidate) };
  } catch {
    return { problem: 'not a valid regular expression' };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Parses a field path: segments joined by `.`; a segment is a key (letters, digits, `_`, `-`, `$`, `@`, with `*` as a
 * glob), `*`, `**`, or a `/regular expression/flags`; `[*]` is any array element and `['key']` a key with dots or
 * slashes (a glob too).
 */
export function parsePath(text: string): Parsed<PathSegment[]> {
  const segments: PathSegment[] = [];
  let index = 0;
  let expectSegment = true;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '[') {
      if (text.startsWith('[*]', index)) {
        segments.push({ type: 'element' });
        index += 3;
      } else if (text[index + 1] === "'" || text[index + 1] === '"') {
        const quote = text[index + 1]!;
        const close = text.indexOf(`${quote}]`, index + 2);
        if (close < 0) return { problem: `unclosed [${quote} at character ${index + 1}` };
        // A quoted key is a glob, never a regular expression: `['/var/run/*']` means what it says.
        segments.push({ type: 'key', match: compileGlob(text.slice(index + 2, close)) });
        index = close + 2;
      } else {
        return { problem: `at character ${index + 1}: use [*] for array elements or ['key'] for a quoted key` };
      }
      expectSegment = false;
      continue;
    }
    if (char === '.') {
      if (expectSegment) return { problem: `empty segment at character ${index + 1}` };
      expectSegment = true;
      index += 1;
      continue;
    }
    if (!expectSegment) return { problem: `expected . or [ at character ${index + 1}` };
    const end = char === '/' ? regExpEnd(text, index) : bareEnd(text, index);
    if (end === index) return { problem: `unexpected ${JSON.stringify(char)} at character ${index + 1}` };
    const word = text.slice(index, end);
    if (word === '**') segments.push({ type: 'deep' });
    else if (word === '*') segments.push({ type: 'any' });
    else {
      const key = parsePattern(word);
      if (key.problem !== undefined) return key;
      segments.push({ type: 'key', match: key.value });
    }
    index = end;
    expectSegment = false;
  }
  if (expectSegment) return { problem: 'a path cannot be empty or end with .' };
  if (segments.length > MAX_SEGMENTS) return { problem: `at most ${MAX_SEGMENTS} segments` };
  return { value: segments };
}

function bareEnd(text: string, start: number): number {
  let end = start;
  while (end < text.length && /[A-Za-z0-9_$@*-]/.test(text[end]!)) end += 1;
  return end;
}

/** The end of `/source/flags` starting at `start`: the next unescaped `/`, then its flags. */
function regExpEnd(text: string, start: number): number {
  let index = start + 1;
  let inClass = false;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '\\') index += 1;
    else if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    else if (char === '/' && !inClass) break;
    index += 1;
  }
  if (index >= text.length) return start;
  index += 1;
  while (index < text.length && /[a-z]/.test(text[index]!)) index += 1;
  return index;
}
