/**
 * Kubernetes request parsing (DESIGN.md sections 2.4 and 4): the apiserver's RequestInfo for a method and request target,
 * resolved as `k8s.io/apiserver/pkg/endpoints/request/requestinfo.go` does (`RequestInfoFactory.NewRequestInfo` with
 * APIPrefixes {api, apis} and GrouplessAPIPrefixes {api}), so the relay's guardrails, its audit events and the cluster's
 * own authorizer all see the same verb, resource, namespace and name.
 *
 * "The same" includes the parts around the path walk that decide what an authorizer sees:
 * - the path is percent-decoded first, as Go's `url.URL.Path` is (`%2F` becomes a `/` and splits a segment);
 * - the query is read as Go's `url.ParseQuery` reads it (a pair containing `;` or a bad escape is dropped; first value
 *   wins), not as WHATWG `URLSearchParams` does;
 * - on a collection GET the apiserver decodes the query as `metav1.ListOptions`; if that succeeds, `watch` is true unless
 *   its first value is `0` or equal-fold `false`, and an exact `metadata.name` field selector becomes the name; if any
 *   option fails to decode (a bad `limit`, `timeoutSeconds`, label or field selector), the name is not derived and only
 *   `watch` is read. Hence the label-selector and field-selector grammars below: they only decide valid or not.
 *
 * Pure: no I/O. Request targets Go's HTTP server would refuse before the apiserver sees them throw
 * {@link InvalidRequestTargetError}; the apiserver's own parse failure (a `watch`/`proxy` prefix with nothing after it,
 * which it answers with 500) throws {@link RequestInfoError}. The relay runs `checkRequestTarget` first, which refuses
 * everything that could make this parser and the apiserver disagree (see request-target.ts).
 */

export { checkRequestTarget, MAX_REQUEST_PATH_LENGTH } from './request-target.ts';
export type { RequestTargetCheck } from './request-target.ts';

/** The apiserver's RequestInfo (field for field), plus the raw selectors it keeps for selector-aware authorization. */
export interface RequestInfo {
  /** True for `/api/{version}/...` with at least one part after the version, or `/apis/{group}/{version}/...`. */
  isResourceRequest: boolean;
  /** The percent-decoded URL path, as Go's `url.URL.Path`. */
  path: string;
  /**
   * For resource requests: get, list, watch, create, update, patch, delete, deletecollection, proxy, or `''` for a method
   * the apiserver does not map (OPTIONS, CONNECT, a lower-case `get`). For non-resource requests: the lower-cased method.
   */
  verb: string;
  /** `api` or `apis` for resource requests, and (as in Go) for `/apis/{group}/{version}` discovery; else `''`. */
  apiPrefix: string;
  /** `''` for the core group (`/api`). */
  apiGroup: string;
  apiVersion: string;
  /** `''` for cluster-scoped requests. For `/namespaces/{name}` this is the namespace's own name. */
  namespace: string;
  resource: string;
  subresource: string;
  /** From the path, or from an exact `metadata.name` field selector on a list or watch. */
  name: string;
  /** The path parts from the resource on: `[resource, name, subresource, ...rest]`; `[]` for non-resource requests. */
  parts: string[];
  /** The raw first `fieldSelector` value on list, watch and deletecollection (not via a `/watch/` prefix); else `''`. */
  fieldSelector: string;
  /** The raw first `labelSelector` value, under the same conditions as `fieldSelector`. */
  labelSelector: string;
}

/** Go's HTTP server would refuse this request target (400) before the apiserver parsed it. The message holds no part of it. */
export class InvalidRequestTargetError extends Error {
  override name = 'InvalidRequestTargetError';
}

/** The apiserver cannot build a RequestInfo for this path (it answers 500). The message holds no part of the target. */
export class RequestInfoError extends Error {
  override name = 'RequestInfoError';
}

const API_PREFIXES: ReadonlySet<string> = new Set(['api', 'apis']);
const GROUPLESS_API_PREFIXES: ReadonlySet<string> = new Set(['api']);
/** Deprecated verb-in-path prefixes: `/api/v1/watch/...`, `/api/v1/proxy/...`. */
const SPECIAL_VERBS: ReadonlySet<string> = new Set(['proxy', 'watch']);
/** After `proxy`, everything past the name is the proxied path, not a subresource. */
const SPECIAL_VERBS_NO_SUBRESOURCES: ReadonlySet<string> = new Set(['proxy']);
/** `/namespaces/{ns}/status` is the namespace's subresource; `/namespaces/{ns}/pods` is a namespaced resource. */
const NAMESPACE_SUBRESOURCES: ReadonlySet<string> = new Set(['status', 'finalize']);
const VERBS_WITH_SELECTORS: ReadonlySet<string> = new Set(['list', 'watch', 'deletecollection']);
/** Method names are case-sensitive in Go's switch: `get` is not `GET`. */
const VERB_BY_METHOD: ReadonlyMap<string, string> = new Map([
  ['POST', 'create'],
  ['GET', 'get'],
  ['HEAD', 'get'],
  ['PUT', 'update'],
  ['PATCH', 'patch'],
  ['DELETE', 'delete'],
]);

/**
 * Resolves a Kubernetes API request as the apiserver does.
 *
 * @param method the HTTP method as sent (case-sensitive, as in Go).
 * @param url the origin-form request target: path and optional query.
 * @throws InvalidRequestTargetError when Go's HTTP server would refuse the target: not origin-form, a control character,
 *   a malformed percent-escape in the path, or percent-escapes that do not decode to UTF-8 (Go would keep the raw bytes;
 *   a JavaScript string cannot, so this parser refuses rather than guess).
 * @throws RequestInfoError for `/api/{version}/watch` or `/api/{version}/proxy` with nothing after it.
 */
export function parseRequestInfo(method: string, url: string): RequestInfo {
  const target = splitRequestTarget(url);
  const info: RequestInfo = {
    isResourceRequest: false,
    path: target.path,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
    fieldSelector: '',
    labelSelector: '',
  };

  let parts = splitPath(target.path);
  const [prefix] = parts;
  if (parts.length < 3 || prefix === undefined || !API_PREFIXES.has(prefix)) return info;
  info.apiPrefix = prefix;
  parts = parts.slice(1);

  if (!GROUPLESS_API_PREFIXES.has(prefix)) {
    // /apis/{group}/{version}/{resource} needs four parts in all; /apis/{group}/{version} is discovery.
    if (parts.length < 3) return info;
    info.apiGroup = parts[0] ?? '';
    parts = parts.slice(1);
  }

  info.isResourceRequest = true;
  info.apiVersion = parts[0] ?? '';
  parts = parts.slice(1);

  let verbViaPathPrefix = false;
  const [afterVersion = ''] = parts;
  if (SPECIAL_VERBS.has(afterVersion)) {
    if (parts.length < 2) throw new RequestInfoError('a watch or proxy path prefix must be followed by a resource');
    info.verb = afterVersion;
    parts = parts.slice(1);
    verbViaPathPrefix = true;
  } else {
    info.verb = VERB_BY_METHOD.get(method) ?? '';
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1] ?? '';
      const [, , third] = parts;
      // /namespaces/{ns}/{resource}/... is a namespaced resource; /namespaces/{ns}[/status|/finalize] is the namespace.
      if (third !== undefined && !NAMESPACE_SUBRESOURCES.has(third)) parts = parts.slice(2);
    }
  }
  info.parts = parts;

  const [resource, name, subresource] = parts;
  if (resource !== undefined) info.resource = resource;
  if (name !== undefined) info.name = name;
  if (subresource !== undefined && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = subresource;

  // A GET without a name is a list or a watch; the apiserver decides which (and may find a name) from ListOptions.
  if (info.name === '' && info.verb === 'get') {
    const options = decodeListOptions(target.query);
    if (options === undefined) {
      // Decoding failed: the apiserver resets the options and reads only `watch`, with strings.ToLower, not EqualFold.
      const watch = target.query.get('watch')?.[0];
      info.verb = watch !== undefined && !['false', '0'].includes(asciiLower(watch)) ? 'watch' : 'list';
    } else {
      info.verb = options.watch ? 'watch' : 'list';
      if (options.exactName !== undefined && isPathSegmentName(options.exactName)) info.name = options.exactName;
    }
  }

  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';

  // The deprecated /watch/ prefix does not honour selectors consistently, so the apiserver does not report them.
  if (!verbViaPathPrefix && VERBS_WITH_SELECTORS.has(info.verb)) {
    info.fieldSelector = target.query.get('fieldSelector')?.[0] ?? '';
    info.labelSelector = target.query.get('labelSelector')?.[0] ?? '';
  }

  return info;
}

/** Go's `splitPath`: leading and trailing slashes trimmed, inner empty segments kept. */
function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

/**
 * Go's `url.ParseRequestURI` for an origin-form target: refuses control characters, splits at the first `?` (a `#` is
 * data, not a fragment, in a request target) and percent-decodes the path (`+` stays `+`). The query is read eagerly, so
 * a target this parser cannot represent is refused whatever the path.
 */
function splitRequestTarget(url: string): { path: string; query: GoQuery } {
  // Go: net/url refuses any byte < 0x20 or 0x7f anywhere in the URL.
  for (let i = 0; i < url.length; i += 1) {
    const code = url.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) throw new InvalidRequestTargetError('control character in the request target');
  }
  if (!url.startsWith('/')) throw new InvalidRequestTargetError('the request target is not in origin form');
  const mark = url.indexOf('?');
  const rawPath = mark < 0 ? url : url.slice(0, mark);
  const rawQuery = mark < 0 ? '' : url.slice(mark + 1);
  const path = percentDecode(rawPath, false);
  if (path === undefined) throw new InvalidRequestTargetError('malformed percent-encoding in the path');
  if (path === NOT_UTF8) throw new InvalidRequestTargetError('percent-encoding in the path is not UTF-8');
  return { path, query: parseGoQuery(rawQuery) };
}

const NOT_UTF8 = Symbol('not UTF-8');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Go's `url.PathUnescape` (`plusIsSpace` false) or `url.QueryUnescape` (true): `undefined` for a `%` not followed by two
 * hex digits, {@link NOT_UTF8} when the escapes decode to bytes that are not UTF-8.
 */
function percentDecode(text: string, plusIsSpace: boolean): string | undefined | typeof NOT_UTF8 {
  if (!text.includes('%') && !(plusIsSpace && text.includes('+'))) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '%') {
      // A run of escapes decodes on its own: the characters around it are whole, so it cannot complete one of them.
      const bytes: number[] = [];
      while (text[i] === '%') {
        const hex = text.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
        bytes.push(parseInt(hex, 16));
        i += 3;
      }
      try {
        out += utf8.decode(new Uint8Array(bytes));
      } catch {
        return NOT_UTF8;
      }
    } else {
      out += plusIsSpace && c === '+' ? ' ' : c;
      i += 1;
    }
  }
  return out;
}

/** A query as Go's `url.Values`: every value of a key, in order. */
type GoQuery = ReadonlyMap<string, readonly string[]>;

/**
 * Go's `url.ParseQuery` as `URL.Query()` uses it (errors dropped): pairs split on `&` only; a pair containing `;`, or with
 * a malformed escape in its key or value, is skipped; `+` is a space.
 */
function parseGoQuery(rawQuery: string): GoQuery {
  const values = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = percentDecode(eq < 0 ? pair : pair.slice(0, eq), true);
    const value = percentDecode(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (key === undefined || value === undefined) continue;
    if (key === NOT_UTF8 || value === NOT_UTF8) {
      throw new InvalidRequestTargetError('percent-encoding in the query is not UTF-8');
    }
    const list = values.get(key);
    if (list === undefined) values.set(key, [value]);
    else list.push(value);
  }
  return values;
}

/**
 * What the apiserver takes from decoding the query as `metav1.ListOptions` and converting it to the internal version, or
 * `undefined` if that fails. Only the options whose decoding can fail are checked: `timeoutSeconds` and `limit`
 * (`strconv.ParseInt`), `labelSelector` (`labels.Parse`) and `fieldSelector` (`fields.ParseSelector`).
 */
function decodeListOptions(query: GoQuery): { watch: boolean; exactName: string | undefined } | undefined {
  const first = (key: string): string | undefined => query.get(key)?.[0];
  for (const key of ['timeoutSeconds', 'limit']) {
    const value = first(key);
    if (value !== undefined && !isGoInt64(value)) return undefined;
  }
  if (!isValidLabelSelector(first('labelSelector') ?? '')) return undefined;
  const fieldSelector = parseFieldSelector(first('fieldSelector') ?? '');
  if (fieldSelector === undefined) return undefined;
  const watch = first('watch');
  return {
    // runtime.Convert_Slice_string_To_bool: only "0" and EqualFold "false" are false; an empty value is true.
    watch: watch !== undefined && watch !== '0' && !equalFoldFalse(watch),
    exactName: requiresExactMatch(fieldSelector, 'metadata.name'),
  };
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * Go's `strings.EqualFold(s, "false")`: simple case folding, under which U+017F LATIN SMALL LETTER LONG S folds to `s`
 * (the only non-ASCII letter that folds to one of f, a, l, s, e).
 */
function equalFoldFalse(text: string): boolean {
  const folds = ['fF', 'aA', 'lL', 'sS\u017f', 'eE'];
  return text.length === 5 && folds.every((set, i) => set.includes(text[i] ?? '#'));
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** `strconv.ParseInt(s, 10, 64)` succeeds: an optional sign, ASCII digits, in range. */
function isGoInt64(text: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(text)) return false;
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** `content.IsPathSegmentName`: not `.` or `..`, and no `/` or `%` (the empty name passes, as in Go). */
function isPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

// ---- field selectors: k8s.io/apimachinery/pkg/fields/selector.go ----

interface FieldTerm {
  field: string;
  equal: boolean;
  value: string;
}

/** `fields.ParseSelector`: the terms in the order the apiserver keeps them (sorted), or `undefined` if it fails. */
function parseFieldSelector(selector: string): FieldTerm[] | undefined {
  const terms: FieldTerm[] = [];
  for (const term of splitFieldTerms(selector).sort(compareUtf8)) {
    if (term === '') continue;
    const split = splitFieldTerm(term);
    if (split === undefined) return undefined;
    const value = unescapeFieldValue(split.rhs);
    if (value === undefined) return undefined;
    terms.push({ field: split.lhs, equal: split.op !== '!=', value });
  }
  return terms;
}

/** `RequiresExactMatch` on the parsed selector: the first `=`/`==` term on the field, in sorted order. */
function requiresExactMatch(terms: FieldTerm[], field: string): string | undefined {
  return terms.find((term) => term.equal && term.field === field)?.value;
}

/** Splits on commas not escaped by a backslash; the backslashes stay in the terms. */
function splitFieldTerms(selector: string): string[] {
  if (selector === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i += 1) {
    const c = selector[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** At the first position where an operator starts, trying `!=`, then `==`, then `=`. */
function splitFieldTerm(term: string): { lhs: string; op: string; rhs: string } | undefined {
  for (let i = 0; i < term.length; i += 1) {
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** `fields.UnescapeValue`: `\\`, `\,` and `\=` only; an unescaped `,` or `=` or a trailing `\` fails. */
function unescapeFieldValue(text: string): string | undefined {
  let out = '';
  let escaped = false;
  for (const c of text) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') return undefined;
      out += c;
      escaped = false;
    } else if (c === '\\') escaped = true;
    else if (c === ',' || c === '=') return undefined;
    else out += c;
  }
  return escaped ? undefined : out;
}

/** Go compares strings by their UTF-8 bytes, which is code-point order (UTF-16 code units differ above U+D7FF). */
function compareUtf8(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const diff = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}

// ---- label selectors: k8s.io/apimachinery/pkg/labels/selector.go (Lexer, Parser, NewRequirement) ----

type Token = 'error' | 'end' | ')' | ',' | '!' | '==' | '=' | '>' | 'identifier' | 'in' | '<' | '!=' | 'notin' | '(';

const LITERAL_TOKENS: ReadonlyMap<string, Token> = new Map<string, Token>([
  [')', ')'],
  [',', ','],
  ['!', '!'],
  ['==', '=='],
  ['=', '='],
  ['>', '>'],
  ['in', 'in'],
  ['<', '<'],
  ['!=', '!='],
  ['notin', 'notin'],
  ['(', '('],
]);

interface Scanned {
  token: Token;
  literal: string;
}

const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecialSymbol = (c: string): boolean => '=!(),><'.includes(c) && c !== '';

/**
 * The label-selector lexer. Like Go's, `read` yields NUL both at the end and for a NUL character (consuming it), so a
 * NUL ends the identifier or operator being scanned, and ends the selector when a token would start with it.
 */
function scanLabelSelector(selector: string): Scanned[] {
  let pos = 0;
  const NUL = '\0';
  const read = (): string => (pos < selector.length ? (selector[pos++] ?? NUL) : NUL);
  const unread = (): void => {
    pos -= 1;
  };

  const scanIdentifierOrKeyword = (): Scanned => {
    let buffer = '';
    for (;;) {
      const c = read();
      if (c === NUL) break;
      if (isSpecialSymbol(c) || isWhitespace(c)) {
        unread();
        break;
      }
      buffer += c;
    }
    return { token: LITERAL_TOKENS.get(buffer) ?? 'identifier', literal: buffer };
  };

  const scanSpecialSymbol = (): Scanned => {
    let last: Scanned | undefined;
    let buffer = '';
    for (;;) {
      const c = read();
      if (c === NUL) break;
      if (!isSpecialSymbol(c)) {
        unread();
        break;
      }
      buffer += c;
      const token = LITERAL_TOKENS.get(buffer);
      if (token !== undefined) last = { token, literal: buffer };
      else if (last !== undefined) {
        unread();
        break;
      }
    }
    return last ?? { token: 'error', literal: buffer };
  };

  const items: Scanned[] = [];
  for (;;) {
    let c = read();
    while (isWhitespace(c)) c = read();
    let item: Scanned;
    if (c === NUL) item = { token: 'end', literal: '' };
    else if (isSpecialSymbol(c)) {
      unread();
      item = scanSpecialSymbol();
    } else {
      unread();
      item = scanIdentifierOrKeyword();
    }
    items.push(item);
    if (item.token === 'end') return items;
  }
}

/** `labels.Parse` succeeds: the grammar, then each requirement's key, operator and values validated. */
function isValidLabelSelector(selector: string): boolean {
  const items = scanLabelSelector(selector);
  let position = 0;
  // In a values context `in` and `notin` are plain identifiers ("x in (in)").
  const asValue = (token: Token): Token => (token === 'in' || token === 'notin' ? 'identifier' : token);
  const at = (): Scanned => items[position] ?? { token: 'end', literal: '' };
  const lookahead = (): Token => asValue(at().token);
  const consumeRaw = (): Scanned => {
    const item = at();
    position += 1;
    return item;
  };
  const consume = (): Scanned => {
    const item = consumeRaw();
    return { token: asValue(item.token), literal: item.literal };
  };

  const parseValues = (): string[] | undefined => {
    if (consume().token !== '(') return undefined;
    const next = lookahead();
    if (next === ')') {
      consume();
      return [''];
    }
    if (next !== 'identifier' && next !== ',') return undefined;
    const values: string[] = [];
    for (;;) {
      const item = consume();
      if (item.token === 'identifier') {
        values.push(item.literal);
        const after = lookahead();
        if (after === ')') break;
        if (after !== ',') return undefined;
      } else if (item.token === ',') {
        // "(," ",," and ",)" each stand for an empty value.
        values.push('');
        if (lookahead() === ')') break;
      } else return undefined;
    }
    return consume().token === ')' ? values : undefined;
  };

  const parseExactValue = (): string[] | undefined => {
    const next = lookahead();
    if (next === 'end' || next === ',') return [''];
    const item = consume();
    return item.token === 'identifier' ? [item.literal] : undefined;
  };

  const parseRequirement = (): boolean => {
    let item = consume();
    let doesNotExist = false;
    if (item.token === '!') {
      doesNotExist = true;
      item = consume();
    }
    if (item.token !== 'identifier' || !isLabelKey(item.literal)) return false;
    const next = lookahead();
    if (doesNotExist || next === 'end' || next === ',') return true; // exists / does-not-exist: a valid key suffices
    const operator = consumeRaw().token; // here `in` and `notin` are operators
    let values: string[] | undefined;
    if (operator === 'in' || operator === 'notin') values = parseValues();
    else if (['=', '==', '!=', '>', '<'].includes(operator)) values = parseExactValue();
    else return false;
    if (values === undefined) return false;
    if ((operator === '>' || operator === '<') && !values.every(isGoInt64)) return false;
    return values.every(isLabelValue);
  };

  for (;;) {
    const next = lookahead();
    if (next === 'end') return true;
    if (next !== 'identifier' && next !== '!') return false;
    if (!parseRequirement()) return false;
    const after = consume().token;
    if (after === 'end') return true;
    if (after !== ',') return false;
    const following = lookahead();
    if (following !== 'identifier' && following !== '!') return false;
  }
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `content.IsLabelKey`: `[dns-subdomain/]name`, name at most 63 characters, prefix at most 253. */
function isLabelKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) return false;
  }
  return name.length > 0 && name.length <= 63 && LABEL_NAME.test(name);
}

/** `content.IsLabelValue`: empty, or a label name of at most 63 characters. */
function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && LABEL_NAME.test(value));
}
