/**
 * Strings that hold structured text — JSON, YAML, `key=value` lines, base64 of UTF-8 — decoded so the masker can walk
 * them with the same rules, and encoded back in the same form. Each decoder is cheap to reject: a first-character or
 * `includes` check comes before any parse.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, stringify, type Document } from 'yaml';

/** A JSON object or array inside a string, with the indentation to write it back with. */
export function decodeJsonText(text: string): { value: object; indent: string } | undefined {
  const first = firstNonSpace(text);
  if (first !== '{' && first !== '[') return undefined;
  const last = text.trimEnd().at(-1);
  if ((first === '{' && last !== '}') || (first === '[' && last !== ']')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object'
      ? { value, indent: /^\s*[{[]\r?\n([ \t]+)/.exec(text)?.[1] ?? '' }
      : undefined;
  } catch {
    return undefined;
  }
}

export function encodeJsonText(value: unknown, indent: string, original: string): string {
  const text = JSON.stringify(value, null, indent || undefined);
  return /\n$/.test(original) ? `${text}\n` : text;
}

/** A line that starts a YAML mapping entry (`key: value`, `key:`) or a sequence item (`- `). */
const YAML_LINE = /^[ \t]*(?:-[ \t]|[^\s#:'"[{][^\n]*?:(?:[ \t]|$))/m;

/** A multi-line YAML mapping or sequence inside a string (a ConfigMap's `application.yaml`). */
export function decodeYamlText(text: string): { document: Document; value: object } | undefined {
  if (!text.includes('\n') || !YAML_LINE.test(text)) return undefined;
  try {
    const document = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
    if (document.errors.length > 0 || !(isMap(document.contents) || isSeq(document.contents))) return undefined;
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    return value !== null && typeof value === 'object' ? { document, value } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes masked leaves back into the parsed YAML document, so comments and the layout of unmasked lines survive; a
 * leaf it cannot place exactly (behind an alias, a non-scalar key) makes it serialise the masked value afresh instead.
 */
export function encodeYamlText(document: Document, before: unknown, after: unknown): string {
  const edits: Array<{ path: Array<string | number>; value: unknown }> = [];
  collectEdits(before, after, [], edits);
  for (const edit of edits) {
    if (!setYamlScalar(document.contents, edit.path, edit.value)) return stringify(after);
  }
  return document.toString();
}

/** The leaves that differ between a value and its copy-on-write masked version (unchanged subtrees are the same object). */
function collectEdits(
  before: unknown,
  after: unknown,
  path: Array<string | number>,
  edits: Array<{ path: Array<string | number>; value: unknown }>,
): void {
  if (before === after) return;
  if (before !== null && after !== null && typeof before === 'object' && typeof after === 'object') {
    for (const key of Object.keys(after)) {
      const childPath = [...path, Array.isArray(after) ? Number(key) : key];
      collectEdits((before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key], childPath, edits);
    }
    return;
  }
  edits.push({ path, value: after });
}

function setYamlScalar(node: unknown, path: ReadonlyArray<string | number>, value: unknown): boolean {
  let current = node;
  for (const [depth, key] of path.entries()) {
    if (isAlias(current)) return false;
    let next: unknown;
    if (isSeq(current) && typeof key === 'number') next = current.items[key];
    else if (isMap(current)) {
      const item = current.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === String(key));
      next = item?.value;
    } else return false;
    if (depth === path.length - 1) {
      if (!isScalar(next)) return false;
      next.value = value;
      // The original style may not hold a token (`[` starts a flow sequence in plain style): let yaml choose.
      next.type = undefined;
      return true;
    }
    current = next;
  }
  return false;
}

/** One line of a `key=value` text: the key, and where its value sits in the line. */
export interface KeyValueLine {
  text: string;
  key?: string;
  valueStart?: number;
  valueEnd?: number;
}

const KEY_VALUE = /^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_.-]*)([ \t]*=[ \t]*)(.*?)([ \t]*\r?)$/;
const COMMENT_OR_BLANK = /^[ \t]*(?:[#!;].*)?\r?$/;

/**
 * `.env` and `.properties` style text: every line a `key=value`, a comment or blank, at least one `key=value`. A value
 * in matching quotes is given without them.
 */
export function decodeKeyValueText(text: string): KeyValueLine[] | undefined {
  const equals = text.indexOf('=');
  if (equals <= 0) return undefined;
  const lines: KeyValueLine[] = [];
  let pairs = 0;
  for (const line of text.split('\n')) {
    const match = KEY_VALUE.exec(line);
    if (!match) {
      if (!COMMENT_OR_BLANK.test(line)) return undefined;
      lines.push({ text: line });
      continue;
    }
    const [, lead, key, separator, raw] = match as unknown as [string, string, string, string, string];
    let valueStart = lead.length + key.length + separator.length;
    let valueEnd = valueStart + raw.length;
    if (raw.length >= 2 && (raw[0] === '"' || raw[0] === "'") && raw.at(-1) === raw[0]) {
      valueStart += 1;
      valueEnd -= 1;
    }
    lines.push({ text: line, key, valueStart, valueEnd });
    pairs += 1;
  }
  return pairs > 0 ? lines : undefined;
}

/** The lines again, with each pair's value replaced by `values[i]` (in the order of the pairs). */
export function encodeKeyValueText(lines: readonly KeyValueLine[], values: readonly string[]): string {
  let pair = 0;
  return lines
    .map((line) => {
      if (line.key === undefined) return line.text;
      const value = values[pair++]!;
      return line.text.slice(0, line.valueStart) + value + line.text.slice(line.valueEnd);
    })
    .join('\n');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The text a base64 value encodes, when it is valid base64 of UTF-8 text (not binary); otherwise undefined. */
export function decodeBase64Text(value: string): string | undefined {
  if (value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value)) return undefined;
  try {
    const text = UTF8.decode(Buffer.from(value, 'base64'));
    // NUL never occurs in text; a binary blob that happens to be valid UTF-8 usually has one.
    return text.includes('\u0000') ? undefined : text;
  } catch {
    return undefined;
  }
}

export function encodeBase64Text(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function firstNonSpace(text: string): string | undefined {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) return text[index];
  }
  return undefined;
}
