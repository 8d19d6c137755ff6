/**
 * What the relay sends upstream in place of the client's headers (DESIGN.md section 7: client `Authorization` and
 * `Impersonate-*` never reach the cluster). Hop-by-hop headers (RFC 9110 section 7.6.1) and anything the client's
 * `Connection` names are dropped; the response format is negotiated to JSON, which the relay can mask, and the
 * encoding to identity, which it need not decode.
 */

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers the relay sets itself, or that only describe the client's connection to the relay. */
const REPLACED = new Set([
  'authorization',
  'host',
  'accept',
  'accept-encoding',
  'content-length',
  'cookie',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);

/**
 * Prefixes of headers that carry identity or credentials: client impersonation, front-proxy identity
 * (`X-Remote-User`, `-Group`, `-Extra-*`) and WebSocket subprotocols, which can carry a bearer token
 * (`base64url.bearer.authorization.k8s.io.<token>`).
 */
const IDENTITY_PREFIXES = ['impersonate-', 'x-remote-', 'sec-websocket-'];

export interface Impersonation {
  user: string;
  groups: readonly string[];
  /** `Impersonate-Extra-<key>` values, so the cluster's audit log names the grant too. */
  extra: Readonly<Record<string, string>>;
}

export type ForwardedHeaders = Record<string, string | string[]>;

/**
 * The request headers for upstream: the client's end-to-end headers without credentials or impersonation, then the
 * relay's impersonation and the negotiated `accept`. The relay's own `authorization` is added by the upstream client.
 */
export function upstreamRequestHeaders(
  client: Readonly<Record<string, string | string[] | undefined>>,
  impersonation: Impersonation,
  accept: string,
): ForwardedHeaders {
  const named = new Set(
    String(client.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  // The relay's own headers first: a server that keeps only its first N headers still sees them.
  const headers: ForwardedHeaders = { 'impersonate-user': impersonation.user };
  if (impersonation.groups.length > 0) headers['impersonate-group'] = [...impersonation.groups];
  for (const [key, value] of Object.entries(impersonation.extra)) {
    headers[`impersonate-extra-${encodeURIComponent(key.toLowerCase())}`] = encodeURIComponent(value);
  }
  headers.accept = accept;
  headers['accept-encoding'] = 'identity';
  for (const [name, value] of Object.entries(client)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || named.has(lower) || REPLACED.has(lower)) continue;
    if (IDENTITY_PREFIXES.some((prefix) => lower.startsWith(prefix))) continue;
    headers[lower] = value;
  }
  return headers;
}

/** True when the client sent impersonation headers: the relay strips them, and records that it did. */
export function hasClientImpersonation(client: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(client).some((name) => name.toLowerCase().startsWith('impersonate-'));
}

/**
 * The `Accept` the relay sends upstream: the client's JSON media types (with their parameters, e.g. kubectl's
 * `application/json;as=Table;v=v1;g=meta.k8s.io`) in its order, never protobuf or YAML. Undefined when the client
 * accepts nothing the relay can mask (406). No header, or any wildcard, is plain JSON.
 */
export function negotiateAccept(accept: string | undefined): string | undefined {
  if (accept === undefined || accept.trim() === '') return 'application/json';
  const json: string[] = [];
  let wildcard = false;
  for (const range of accept.split(',')) {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim());
    const mediaType = type.toLowerCase();
    const weight = parameters.find((parameter) => /^q\s*=/i.test(parameter));
    if (weight && Number(weight.split('=')[1]) === 0) continue;
    if (mediaType === 'application/json') {
      const kept = parameters.filter((parameter) => !/^q\s*=/i.test(parameter));
      json.push([mediaType, ...kept].join(';'));
    } else if (mediaType === '*/*' || mediaType === 'application/*') {
      wildcard = true;
    }
  }
  if (json.length > 0) return json.join(', ');
  return wildcard ? 'application/json' : undefined;
}
