/**
 * The relay's gate on a request target, run before `parseRequestInfo` (DESIGN.md sections 2.4 and 7).
 *
 * The relay authorizes what `parseRequestInfo` says a request is, and then forwards the target to the apiserver, which
 * parses it again. Both must read the same bytes the same way, so the gate refuses every target where a decoder, a
 * normalizer or a lenient parser between the two could change the answer. What it accepts is forwarded byte for byte.
 *
 * How this closes each class of guardrail bypass (issue 6):
 * - **Percent and double encoding** (`%2F`, `%252F`, `%2e%2e`): refused anywhere in the path. The apiserver decodes the
 *   path once before splitting it, so `namespaces/a%2Fb/pods` is namespace `a`, resource `b`; anything that decodes
 *   a second time (a proxy, a load balancer, a logger) sees yet another path. The Kubernetes API never needs
 *   percent-encoding in a resource path: API groups, versions, resources and namespaces are DNS labels or subdomains,
 *   and object names may not contain `/` or `%` (`content.IsPathSegmentName`); kubectl sends them unescaped.
 * - **`..` and `.` segments**: refused. The apiserver's RequestInfo does not resolve them (`pods/../secrets` is pod `..`,
 *   subresource `secrets`) but URL libraries, proxies and Go's ServeMux redirect do; either way a dot segment means two
 *   readings of one path.
 * - **Empty segments and a trailing slash**: refused (`/api/v1//pods`, `/api/v1/pods/`). The apiserver trims outer slashes
 *   and keeps inner empty segments, so these shift every part after them or alias another path.
 * - **Case tricks** (`/API/v1/...`, `/Api/...`): accepted here, because the apiserver's prefixes are case-sensitive and
 *   `parseRequestInfo` resolves such a path to a non-resource request (its resource is not `secrets`, so a guardrail keyed
 *   on resource cannot be fooled), and the relay denies every non-resource path it does not allow-list.
 * - **The legacy `/api/v1/proxy/...` and `/api/v1/watch/...` prefixes**: accepted here and resolved by `parseRequestInfo`
 *   to the verbs `proxy` and `watch`, as the apiserver does, so a guardrail that permits `get pods` does not permit them.
 * - **`?watch=1` against a list guardrail**: `parseRequestInfo` resolves a collection GET with a true `watch` value (any
 *   value but `0` or `false`, the empty one included) to `watch`, not `list`. The gate refuses the queries Go's
 *   `url.ParseQuery` and WHATWG `URLSearchParams` read differently (a `;` in a pair, a malformed or non-UTF-8
 *   escape), so `watch=0;watch=1` or `watch=%zz&watch=1` cannot mean one thing to the relay and another to the cluster.
 *
 * Also refused: anything but origin-form (absolute URLs, `*`, authority form), control characters, spaces and non-ASCII
 * characters (in the target, or percent-encoded control characters in the query), backslashes (some URL parsers read
 * them as `/`), `#` (Go keeps it as data in a request target, browsers and WHATWG parsers cut a fragment), and paths
 * longer than {@link MAX_REQUEST_PATH_LENGTH}. Reasons are fixed phrases: no part of the target, and so no query value
 * (which may be a token or PHI in a selector), ever reaches a log or an error through them.
 */
/** Longer paths are refused; real Kubernetes API paths are far shorter (names are at most 253 characters). */
export const MAX_REQUEST_PATH_LENGTH = 4096;

export type RequestTargetCheck = { ok: true; path: string; query: URLSearchParams } | { ok: false; reason: string };

/**
 * Accepts a request target the relay can authorize unambiguously, returning its path (which contains no
 * percent-encoding, so it is the decoded path too) and its query; or refuses it with a short reason.
 */
export function checkRequestTarget(rawUrl: string): RequestTargetCheck {
  if (!rawUrl.startsWith('/')) return refuse('the request target is not in origin form (absolute URL, authority or *)');

  for (const c of rawUrl) {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return refuse('control character in the request target');
    if (code === 0x20) return refuse('space in the request target');
    if (code > 0x7e) return refuse('non-ASCII character in the request target');
    if (c === '\\') return refuse('backslash in the request target');
    if (c === '#') return refuse('fragment (#) in the request target');
  }

  const mark = rawUrl.indexOf('?');
  const path = mark < 0 ? rawUrl : rawUrl.slice(0, mark);
  const rawQuery = mark < 0 ? '' : rawUrl.slice(mark + 1);

  if (path.length > MAX_REQUEST_PATH_LENGTH) return refuse(`path longer than ${MAX_REQUEST_PATH_LENGTH} characters`);
  if (path.includes('%')) return refuse('percent-encoding in the path');
  if (path !== '/') {
    if (path.endsWith('/')) return refuse('trailing slash in the path');
    const segments = path.slice(1).split('/');
    if (segments.includes('')) return refuse('empty path segment (//)');
    if (segments.some((segment) => segment === '.' || segment === '..'))
      return refuse('dot segment (. or ..) in the path');
  }

  const queryProblem = findQueryProblem(rawQuery);
  if (queryProblem !== undefined) return refuse(queryProblem);

  return { ok: true, path, query: new URLSearchParams(rawQuery) };
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why Go's `url.ParseQuery` and `URLSearchParams` could read this query differently, or why it carries control bytes. */
function findQueryProblem(rawQuery: string): string | undefined {
  // Go drops a pair containing `;` (Go 1.17+); URLSearchParams keeps it.
  if (rawQuery.includes(';')) return 'semicolon in the query';
  for (const component of rawQuery.split(/[&=]/)) {
    if (!component.includes('%')) continue;
    // Go drops a pair with a malformed escape; URLSearchParams keeps the `%` literally.
    if (/%(?![0-9A-Fa-f]{2})/.test(component)) return 'malformed percent-encoding in the query';
    const bytes = component.match(/%[0-9A-Fa-f]{2}/g)?.map((escape) => parseInt(escape.slice(1), 16)) ?? [];
    if (bytes.some((byte) => byte < 0x20 || byte === 0x7f)) return 'percent-encoded control character in the query';
    // Go keeps bytes that are not UTF-8; URLSearchParams replaces them with U+FFFD.
    if (!decodesAsUtf8(component)) return 'percent-encoding in the query is not UTF-8';
  }
  return undefined;
}

/** Whether each run of escapes in a (printable ASCII) query component decodes to UTF-8. */
function decodesAsUtf8(component: string): boolean {
  for (const run of component.match(/(?:%[0-9A-Fa-f]{2})+/g) ?? []) {
    const bytes = run.match(/%[0-9A-Fa-f]{2}/g)?.map((escape) => parseInt(escape.slice(1), 16)) ?? [];
    try {
      utf8.decode(new Uint8Array(bytes));
    } catch {
      return false;
    }
  }
  return true;
}
