/**
 * Verification of EKS tokens, following aws-iam-authenticator's `Verify` (pkg/token/token.go) up to the point where it
 * would call STS, then, where a secret key is given, recomputing the SigV4 signature that STS would check. Gatehouse's
 * local relay uses it for tokens the local signer mints; tests use it to prove real tokens are well formed and signed.
 * Pure: no I/O, the instant is a parameter. Messages never repeat the token or any part of a signature.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  CLUSTER_ID_HEADER,
  EKS_TOKEN_PREFIX,
  PRESIGNED_URL_VALIDITY_SECONDS,
  STS_API_VERSION,
  awsUriEncode,
  parseAmzDate,
} from './eks-token.ts';

/** Why a token was refused; stable codes a caller can map or assert on. */
export type EksTokenRejection =
  | 'too-large'
  | 'bad-prefix'
  | 'bad-encoding'
  | 'bad-url'
  | 'bad-scheme'
  | 'bad-host'
  | 'bad-path'
  | 'bad-query'
  | 'duplicate-parameter'
  | 'unexpected-parameter'
  | 'bad-action'
  | 'bad-version'
  | 'bad-algorithm'
  | 'cluster-id-not-signed'
  | 'unexpected-signed-header'
  | 'bad-expires'
  | 'missing-date'
  | 'bad-date'
  | 'expired'
  | 'not-yet-valid'
  | 'bad-credential'
  | 'missing-signature'
  | 'wrong-access-key'
  | 'signature-mismatch';

/** What a well-formed token says about itself. */
export interface EksTokenClaims {
  accessKeyId: string;
  /** The STS host the URL points at. */
  stsHost: string;
  /** The region of the signature's credential scope. */
  signingRegion: string;
  signedAt: Date;
  /** When STS stops accepting the URL: X-Amz-Date + 15 minutes. */
  validUntil: Date;
  signedHeaders: string[];
  hasSessionToken: boolean;
}

export type EksTokenCheck =
  { ok: true; claims: EksTokenClaims } | { ok: false; reason: EksTokenRejection; message: string };

export interface EksTokenFormatOptions {
  /** The instant to judge expiry against. */
  now: Date;
  /**
   * The region whose STS endpoints are accepted. Without it, any syntactically valid regional STS endpoint (and the
   * global one) is accepted, as aws-iam-authenticator does for the host's own region.
   */
  region?: string;
  /** How far in the future X-Amz-Date may be (clock skew), in seconds. Default 300. */
  maxClockSkewSeconds?: number;
}

export interface EksTokenVerifyOptions extends EksTokenFormatOptions {
  /** The cluster id the token must be signed for (the `x-k8s-aws-id` header value). */
  clusterId: string;
  /** The secret access key that must have produced the signature. */
  secretAccessKey: string;
  /** When given, the access key id the token must name. */
  accessKeyId?: string;
}

/** aws-iam-authenticator refuses tokens over 4 KiB. */
export const MAX_TOKEN_LENGTH = 4 * 1024;
/** aws-iam-authenticator's parameter allow-list, lower case. */
const ALLOWED_PARAMETERS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);
/** The only headers a verifier can supply when replaying the URL, so the only ones a signature may cover. */
const REPLAYABLE_SIGNED_HEADERS = new Set(['host', CLUSTER_ID_HEADER]);
const REGION_PATTERN = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const EMPTY_PAYLOAD_SHA256 = createHash('sha256').update('').digest('hex');

function reject(reason: EksTokenRejection, message: string): EksTokenCheck {
  return { ok: false, reason, message };
}

/** The STS hosts a token for `region` may point at: regular, dual-stack, FIPS, and the global endpoint for `aws`. */
export function allowedStsHosts(region: string): string[] {
  if (region.startsWith('cn-')) {
    return [`sts.${region}.amazonaws.com.cn`, `sts.${region}.api.amazonwebservices.com.cn`];
  }
  const hosts = [
    `sts.${region}.amazonaws.com`,
    `sts.${region}.api.aws`,
    `sts-fips.${region}.amazonaws.com`,
    `sts-fips.${region}.api.aws`,
  ];
  if (!region.startsWith('us-gov-') && !region.startsWith('us-iso')) hosts.push('sts.amazonaws.com');
  return hosts;
}

/** The region a host names (`global` for sts.amazonaws.com), or undefined when it is not an STS host. */
function regionOfStsHost(host: string): string | undefined {
  if (host === 'sts.amazonaws.com') return 'global';
  const parts = host.split('.');
  if (parts.length < 4 || (parts[0] !== 'sts' && parts[0] !== 'sts-fips')) return undefined;
  const region = parts[1] ?? '';
  return REGION_PATTERN.test(region) ? region : undefined;
}

interface ParsedToken {
  url: URL;
  host: string;
  /** Lower-cased keys, decoded values. */
  params: Map<string, string>;
  /** Original keys and decoded values, for the canonical query. */
  rawPairs: [string, string][];
}

function parseToken(token: string): ParsedToken | EksTokenCheck {
  if (token.length > MAX_TOKEN_LENGTH) return reject('too-large', 'token is too large');
  if (!token.startsWith(EKS_TOKEN_PREFIX))
    return reject('bad-prefix', `token is missing the ${EKS_TOKEN_PREFIX} prefix`);
  const encoded = token.slice(EKS_TOKEN_PREFIX.length);
  // Go's base64.RawURLEncoding: URL alphabet, no padding. Buffer's decoder is lenient, so insist on the canonical form.
  if (!/^[A-Za-z0-9_-]+$/.test(encoded) || encoded.length % 4 === 1) {
    return reject('bad-encoding', 'token is not unpadded base64url');
  }
  const decoded = Buffer.from(encoded, 'base64url');
  if (decoded.toString('base64url') !== encoded) return reject('bad-encoding', 'token is not canonical base64url');
  const text = decoded.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(decoded)) return reject('bad-url', 'token does not decode to UTF-8 text');

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return reject('bad-url', 'token does not decode to a URL');
  }
  if (url.protocol !== 'https:') return reject('bad-scheme', `unexpected scheme ${JSON.stringify(url.protocol)}`);
  // WHATWG URL parsing forgives much (default ports, case, userinfo, backslashes); Go's does not, and the signed
  // host must be exactly what the client will send, so the raw text must spell the authority plainly.
  if (url.username || url.password || url.port || url.hash || !text.startsWith(`https://${url.host}/`)) {
    return reject('bad-host', 'pre-signed URL has a non-plain authority');
  }
  const rawPath = text.slice(`https://${url.host}`.length).split('?')[0];
  if (rawPath !== '/' || url.pathname !== '/') return reject('bad-path', 'unexpected path in pre-signed URL');

  const queryStart = text.indexOf('?');
  const rawQuery = queryStart === -1 ? '' : text.slice(queryStart + 1);
  if (rawQuery.includes(';') || rawQuery.includes('#')) return reject('bad-query', 'malformed query');
  const params = new Map<string, string>();
  const rawPairs: [string, string][] = [];
  for (const segment of rawQuery.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    const rawKey = eq === -1 ? segment : segment.slice(0, eq);
    const rawValue = eq === -1 ? '' : segment.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
      value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    } catch {
      return reject('bad-query', 'malformed query parameter');
    }
    const lower = key.toLowerCase();
    if (params.has(lower)) return reject('duplicate-parameter', `duplicate query parameter ${JSON.stringify(key)}`);
    if (!ALLOWED_PARAMETERS.has(lower)) {
      return reject('unexpected-parameter', `query parameter ${JSON.stringify(key.slice(0, 64))} is not allowed`);
    }
    params.set(lower, value);
    rawPairs.push([key, value]);
  }
  return { url, host: url.host, params, rawPairs };
}

/**
 * Checks everything about a token that can be checked without a key: aws-iam-authenticator's format rules, the STS host,
 * the credential scope, and the signing time against `now` (valid for 15 minutes after X-Amz-Date).
 */
export function checkEksTokenFormat(token: string, options: EksTokenFormatOptions): EksTokenCheck {
  return checkFormat(token, options).check;
}

function checkFormat(token: string, options: EksTokenFormatOptions): { check: EksTokenCheck; parsed?: ParsedToken } {
  const parsed = parseToken(token);
  if (!('params' in parsed)) return { check: parsed };
  return { check: checkParsed(parsed, options), parsed };
}

function checkParsed(parsed: ParsedToken, options: EksTokenFormatOptions): EksTokenCheck {
  const { host, params } = parsed;

  const hostRegion = regionOfStsHost(host);
  if (hostRegion === undefined) return reject('bad-host', `unexpected host ${JSON.stringify(host)}`);
  if (options.region !== undefined) {
    if (!allowedStsHosts(options.region).includes(host)) {
      return reject('bad-host', `host ${JSON.stringify(host)} is not an STS endpoint of ${options.region}`);
    }
  } else if (hostRegion !== 'global' && !allowedStsHosts(hostRegion).includes(host)) {
    return reject('bad-host', `unexpected host ${JSON.stringify(host)}`);
  }

  if (params.get('action') !== 'GetCallerIdentity') return reject('bad-action', 'unexpected Action parameter');
  if (params.get('version') !== STS_API_VERSION) return reject('bad-version', 'unexpected Version parameter');
  if (params.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') {
    return reject('bad-algorithm', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  }

  const signedHeaders = (params.get('x-amz-signedheaders') ?? '').split(';');
  if (!signedHeaders.some((h) => h.toLowerCase() === CLUSTER_ID_HEADER)) {
    return reject('cluster-id-not-signed', `the ${CLUSTER_ID_HEADER} header is not signed`);
  }
  for (const header of signedHeaders) {
    if (!REPLAYABLE_SIGNED_HEADERS.has(header)) {
      return reject('unexpected-signed-header', `signed header ${JSON.stringify(header.slice(0, 64))} is not allowed`);
    }
  }
  if (!signedHeaders.includes('host')) return reject('unexpected-signed-header', 'the host header is not signed');

  const expires = params.get('x-amz-expires');
  if (expires === undefined || !/^\d{1,3}$/.test(expires) || Number(expires) > 900) {
    return reject('bad-expires', 'X-Amz-Expires must be present and between 0 and 900');
  }

  const date = params.get('x-amz-date');
  if (date === undefined || date === '') return reject('missing-date', 'X-Amz-Date must be present');
  const signedAt = parseAmzDate(date);
  if (signedAt === undefined) return reject('bad-date', 'X-Amz-Date is not YYYYMMDDTHHMMSSZ');
  const validUntil = new Date(signedAt.getTime() + PRESIGNED_URL_VALIDITY_SECONDS * 1000);
  if (options.now.getTime() > validUntil.getTime()) {
    return reject('expired', `X-Amz-Date is more than ${PRESIGNED_URL_VALIDITY_SECONDS / 60} minutes old`);
  }
  const skew = (options.maxClockSkewSeconds ?? 300) * 1000;
  if (signedAt.getTime() > options.now.getTime() + skew) return reject('not-yet-valid', 'X-Amz-Date is in the future');

  // <access key id>/<yyyymmdd>/<region>/sts/aws4_request
  const credential = (params.get('x-amz-credential') ?? '').split('/');
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = credential;
  const expectedScopeRegion = hostRegion === 'global' ? 'us-east-1' : hostRegion;
  if (
    credential.length !== 5 ||
    !accessKeyId ||
    !/^[\w]+$/.test(accessKeyId) ||
    scopeDate !== date.slice(0, 8) ||
    scopeRegion !== expectedScopeRegion ||
    scopeService !== 'sts' ||
    terminator !== 'aws4_request'
  ) {
    return reject('bad-credential', 'X-Amz-Credential scope does not match the date, region and service');
  }
  if (!/^[0-9a-f]{64}$/.test(params.get('x-amz-signature') ?? '')) {
    return reject('missing-signature', 'X-Amz-Signature must be 64 lower-case hex digits');
  }

  return {
    ok: true,
    claims: {
      accessKeyId,
      stsHost: host,
      signingRegion: scopeRegion,
      signedAt,
      validUntil,
      signedHeaders,
      hasSessionToken: params.has('x-amz-security-token'),
    },
  };
}

/**
 * Verifies a token completely: the format rules of {@link checkEksTokenFormat}, then the SigV4 signature recomputed
 * with `secretAccessKey` over `host` and `x-k8s-aws-id: <clusterId>`, exactly as STS checks it when the token is replayed.
 * A token for another cluster therefore fails with `signature-mismatch`.
 */
export function verifyEksToken(token: string, options: EksTokenVerifyOptions): EksTokenCheck {
  const { check: format, parsed } = checkFormat(token, options);
  if (!format.ok || parsed === undefined) return format;
  const { claims } = format;
  if (options.accessKeyId !== undefined && claims.accessKeyId !== options.accessKeyId) {
    return reject('wrong-access-key', 'token was signed with another access key');
  }

  const canonicalQuery = parsed.rawPairs
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => [awsUriEncode(key), awsUriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const headerValues: Record<string, string> = {
    host: parsed.host,
    // SigV4 canonical header values: trimmed, inner whitespace runs collapsed to one space.
    [CLUSTER_ID_HEADER]: options.clusterId.trim().replace(/\s+/g, ' '),
  };
  const signedHeaders = [...claims.signedHeaders].sort();
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${headerValues[h] ?? ''}\n`).join('');
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(';'),
    EMPTY_PAYLOAD_SHA256,
  ].join('\n');

  const amzDate = parsed.params.get('x-amz-date') ?? '';
  const shortDate = amzDate.slice(0, 8);
  const scope = `${shortDate}/${claims.signingRegion}/sts/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${options.secretAccessKey}`).update(shortDate).digest();
  for (const part of [claims.signingRegion, 'sts', 'aws4_request'])
    key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(parsed.params.get('x-amz-signature') ?? '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return reject('signature-mismatch', 'signature does not match this cluster id and key');
  }
  return format;
}
