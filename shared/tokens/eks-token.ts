/**
 * EKS bearer tokens, built the way aws-iam-authenticator and `aws eks get-token` build them: a presigned STS
 * `GetCallerIdentity` GET whose signature covers the `x-k8s-aws-id` header (the cluster id), encoded as
 * `k8s-aws-v1.<base64url(url) without padding>`. Pure: no AWS SDK client, no network, time given by the caller.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ExecCredential } from '../model.ts';

/** The prefix of every EKS token. */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header whose signed value binds a token to one cluster. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/**
 * STS accepts a presigned `GetCallerIdentity` URL for 15 minutes after its X-Amz-Date, whatever X-Amz-Expires says;
 * X-Amz-Expires stays 60 because aws-iam-authenticator 0.3.0 and older refuse anything outside 0–60.
 */
export const PRESIGNED_URL_VALIDITY_SECONDS = 15 * 60;
export const PRESIGN_EXPIRES_PARAM_SECONDS = 60;
/** Clients refresh a minute before the URL stops working (aws-iam-authenticator's cushion). */
export const REFRESH_MARGIN_SECONDS = 60;
/** The ExecCredential's expirationTimestamp is never later than this after signing. */
export const MAX_TOKEN_LIFETIME_SECONDS = PRESIGNED_URL_VALIDITY_SECONDS - REFRESH_MARGIN_SECONDS;

export const STS_API_VERSION = '2011-06-15';

/** Where a Gatehouse cluster lives in EKS. */
export interface EksClusterLocation {
  region: string;
  /** The EKS cluster's name, which tokens carry as `x-k8s-aws-id`. */
  eksClusterName: string;
}

/** Finds a Gatehouse cluster (by its configured name) in EKS; undefined when it is not configured. */
export type EksClusterLookup = (cluster: string) => EksClusterLocation | undefined;

/** AWS credentials used to sign; `expiration` is when temporary (STS session) credentials stop working. */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface PresignEksTokenInput {
  credentials: SigningCredentials;
  /** The STS region to sign for; the URL points at `sts.<region>.amazonaws.com`. */
  region: string;
  /** The EKS cluster name (the `x-k8s-aws-id` value aws-iam-authenticator checks). */
  clusterName: string;
  /** The signing instant. */
  now: Date;
}

export interface EksToken {
  token: string;
  /** When a client should stop using the token: at most 14 minutes after signing, earlier if the credentials expire. */
  expiresAt: Date;
}

/** The token cannot be built from these inputs. Its message never contains a secret. */
export class EksTokenError extends Error {
  override name = 'EksTokenError';
}

/** A TokenMinter could not mint a token (every adapter throws this). The message names the grant and the AWS error code, never a credential. */
export class TokenMintError extends Error {
  override name = 'TokenMintError';
  /** The AWS error code (e.g. `AccessDenied`, `Throttling`), when AWS answered with one. */
  readonly code: string | undefined;
  /** True when trying again later may succeed (throttling, AWS-side faults). */
  readonly retryable: boolean;

  constructor(message: string, options: { code?: string; retryable?: boolean } = {}) {
    super(message);
    this.code = options.code;
    this.retryable = options.retryable ?? false;
  }
}

const REGION_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** The regional STS host that tokens for `region` point at. */
export function stsHostForRegion(region: string): string {
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `sts.${region}.${domain}`;
}

/** RFC 3986 percent-encoding as SigV4 specifies it: everything but unreserved characters, upper-case hex. */
export function awsUriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Presigns STS `GetCallerIdentity` for the cluster and returns the EKS token with its client-side expiry.
 * Only `host` and `x-k8s-aws-id` are signed, so any HTTP client can replay the URL to STS with that one header.
 */
export async function presignEksToken(input: PresignEksTokenInput): Promise<EksToken> {
  const { credentials, region, clusterName, now } = input;
  if (!REGION_PATTERN.test(region)) {
    throw new EksTokenError('region must be an AWS region identifier such as us-west-2');
  }
  if (clusterName.length === 0) {
    throw new EksTokenError('cluster name must not be empty');
  }
  if (Number.isNaN(now.getTime())) {
    throw new EksTokenError('signing time is not a valid date');
  }
  if (credentials.accessKeyId.length === 0 || credentials.secretAccessKey.length === 0) {
    throw new EksTokenError('credentials are incomplete');
  }
  const expiresAt = tokenExpiry(now, credentials.expiration);

  const host = stsHostForRegion(region);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
    region,
    service: 'sts',
    sha256: Sha256,
    uriEscapePath: true,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: host,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: STS_API_VERSION },
    headers: { host, [CLUSTER_ID_HEADER]: clusterName },
  });
  const presigned = await signer.presign(request, {
    signingDate: now,
    expiresIn: PRESIGN_EXPIRES_PARAM_SECONDS,
    signableHeaders: new Set(['host', CLUSTER_ID_HEADER]),
  });

  const url = `https://${host}/?${encodeQuery(presigned.query)}`;
  return { token: EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'), expiresAt };
}

/**
 * Orders the query as the Go SDK does (keys sorted byte-wise, the signature last), so tokens match
 * aws-iam-authenticator's byte for byte.
 */
function encodeQuery(query: HttpRequest['query'] | undefined = {}): string {
  const signature = query['X-Amz-Signature'];
  if (typeof signature !== 'string') {
    throw new EksTokenError('the signer returned no signature');
  }
  const pairs = Object.keys(query)
    .filter((key) => key !== 'X-Amz-Signature')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => {
      const value = query[key];
      if (typeof value !== 'string') {
        throw new EksTokenError('the signer returned a multi-valued query parameter');
      }
      return `${awsUriEncode(key)}=${awsUriEncode(value)}`;
    });
  pairs.push(`X-Amz-Signature=${awsUriEncode(signature)}`);
  return pairs.join('&');
}

function tokenExpiry(signedAt: Date, credentialsExpiration: Date | undefined): Date {
  let validUntil = signedAt.getTime() + PRESIGNED_URL_VALIDITY_SECONDS * 1000;
  if (credentialsExpiration !== undefined) {
    if (Number.isNaN(credentialsExpiration.getTime())) {
      throw new EksTokenError('credentials expiration is not a valid date');
    }
    validUntil = Math.min(validUntil, credentialsExpiration.getTime());
  }
  // Whole seconds, rounded down: the ExecCredential timestamp carries no fraction and must never be late.
  const expiresAt = new Date(Math.floor((validUntil - REFRESH_MARGIN_SECONDS * 1000) / 1000) * 1000);
  if (expiresAt.getTime() <= signedAt.getTime()) {
    throw new EksTokenError('the credentials expire too soon to sign a usable token');
  }
  return expiresAt;
}

/** The signing instant of a token (its X-Amz-Date), or undefined when the token is not a well-formed EKS token. */
export function tokenSignedAt(token: string): Date | undefined {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) return undefined;
  const encoded = token.slice(EKS_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  let url: URL;
  try {
    url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return parseAmzDate(url.searchParams.get('X-Amz-Date') ?? '');
}

/** Parses SigV4's `YYYYMMDDTHHMMSSZ`; undefined when malformed or not a real instant. */
export function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const roundTrips =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return roundTrips ? date : undefined;
}

export const EXEC_CREDENTIAL_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
] as const;
export type ExecCredentialApiVersion = (typeof EXEC_CREDENTIAL_API_VERSIONS)[number];

/** An ExecCredential of either API version kubectl still reads; v1 is the model's {@link ExecCredential}. */
export type VersionedExecCredential<V extends ExecCredentialApiVersion = ExecCredentialApiVersion> = Omit<
  ExecCredential,
  'apiVersion'
> & { apiVersion: V };

/** Narrows a string (for example KUBERNETES_EXEC_INFO's apiVersion) to a supported ExecCredential API version. */
export function isExecCredentialApiVersion(value: unknown): value is ExecCredentialApiVersion {
  return typeof value === 'string' && (EXEC_CREDENTIAL_API_VERSIONS as readonly string[]).includes(value);
}

/**
 * Wraps a token in an ExecCredential for kubectl. The expirationTimestamp is `expiresAt`, but never later than
 * 14 minutes after the token's own X-Amz-Date, so a caller cannot stretch a token past what STS honours.
 */
export function toExecCredential<V extends ExecCredentialApiVersion = 'client.authentication.k8s.io/v1'>(
  token: string,
  expiresAt: Date,
  apiVersion?: V,
): VersionedExecCredential<V> {
  const signedAt = tokenSignedAt(token);
  if (signedAt === undefined) {
    throw new EksTokenError('not a well-formed EKS token');
  }
  if (Number.isNaN(expiresAt.getTime())) {
    throw new EksTokenError('token expiry is not a valid date');
  }
  const latest = signedAt.getTime() + MAX_TOKEN_LIFETIME_SECONDS * 1000;
  const expiry = new Date(Math.floor(Math.min(expiresAt.getTime(), latest) / 1000) * 1000);
  const version = apiVersion ?? 'client.authentication.k8s.io/v1';
  if (!isExecCredentialApiVersion(version)) {
    throw new EksTokenError('unsupported ExecCredential apiVersion');
  }
  return {
    apiVersion: version as V,
    kind: 'ExecCredential',
    spec: {},
    // RFC 3339 with whole seconds, as metav1.Time and the AWS CLI write it.
    status: { token, expirationTimestamp: expiry.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  };
}
