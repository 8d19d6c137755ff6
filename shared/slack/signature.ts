/**
 * Slack's request signing (v0), as documented in "Verifying requests from Slack"
 * (https://docs.slack.dev/authentication/verifying-requests-from-slack): the HMAC-SHA256, keyed with the app's signing
 * secret, of `v0:<X-Slack-Request-Timestamp>:<raw body>`, hex-encoded and sent as `X-Slack-Signature: v0=<hex>`.
 *
 * Verification never says why beyond a fixed reason code, and never puts the secret, the expected signature or the body
 * into a result or an error.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The only signature version Slack uses today. */
export const SLACK_SIGNATURE_VERSION = 'v0';

/** Slack's recommended replay window: a request more than five minutes from our clock, either way, is refused. */
export const SLACK_TIMESTAMP_TOLERANCE_SECONDS = 300;

/** Header names, lower-case as Lambda's and Node's header maps give them (HTTP header names are case-insensitive). */
export const SLACK_SIGNATURE_HEADER = 'x-slack-signature';
export const SLACK_TIMESTAMP_HEADER = 'x-slack-request-timestamp';

/** The fixed set of reasons a signature is refused; events and metrics key on these codes. */
export type SlackSignatureFailureReason = 'missing' | 'malformed' | 'stale' | 'mismatch';

export type SlackSignatureResult = { ok: true } | { ok: false; reason: SlackSignatureFailureReason };

export interface VerifySlackSignatureInput {
  signingSecret: string;
  /** `X-Slack-Request-Timestamp`, Unix seconds as Slack sent it. */
  timestampHeader: string | undefined | null;
  /** `X-Slack-Signature`, `v0=` and 64 hex digits. */
  signatureHeader: string | undefined | null;
  /** The body exactly as received: before any URL- or JSON-decoding, and after undoing API Gateway's base64. */
  rawBody: string | Uint8Array;
  now: Date;
}

export interface SignSlackRequestInput {
  signingSecret: string;
  rawBody: string | Uint8Array;
  /** When the request is signed; Slack sends whole Unix seconds. */
  at: Date;
}

export interface SignedSlackRequest {
  timestamp: string;
  signature: string;
  /** Both headers, ready to send. */
  headers: { [SLACK_TIMESTAMP_HEADER]: string; [SLACK_SIGNATURE_HEADER]: string };
}

/** Slack's timestamp is whole Unix seconds; more than 12 digits is past the year 33658 and not Slack. */
const TIMESTAMP_PATTERN = /^\d{1,12}$/;
const SIGNATURE_PATTERN = /^v0=([0-9a-fA-F]{64})$/;

/** Checks a request's Slack signature and timestamp. The checks run in order: missing, malformed, stale, mismatch. */
export function verifySlackSignature(input: VerifySlackSignatureInput): SlackSignatureResult {
  assertUsableSecret(input.signingSecret);
  const { timestampHeader, signatureHeader } = input;
  if (!timestampHeader || !signatureHeader) return { ok: false, reason: 'missing' };

  const timestamp = timestampHeader.trim();
  const signatureMatch = SIGNATURE_PATTERN.exec(signatureHeader.trim());
  if (!TIMESTAMP_PATTERN.test(timestamp) || signatureMatch === null) return { ok: false, reason: 'malformed' };

  const nowSeconds = Math.floor(input.now.getTime() / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_TIMESTAMP_TOLERANCE_SECONDS) {
    return { ok: false, reason: 'stale' };
  }

  const expected = hmac(input.signingSecret, timestamp, input.rawBody);
  // The pattern fixed the presented digest at 64 hex digits, so both buffers are 32 bytes and timingSafeEqual (which
  // throws on unequal lengths) compares them in constant time.
  const presented = Buffer.from(signatureMatch[1] as string, 'hex');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { ok: false, reason: 'mismatch' };
  }
  return { ok: true };
}

/**
 * Signs a request body as Slack does. For tests and the local runtime, which play Slack's part; production requests are
 * signed by Slack itself.
 */
export function signSlackRequest(input: SignSlackRequestInput): SignedSlackRequest {
  assertUsableSecret(input.signingSecret);
  const timestamp = String(Math.floor(input.at.getTime() / 1000));
  const signature = `${SLACK_SIGNATURE_VERSION}=${hmac(input.signingSecret, timestamp, input.rawBody).toString('hex')}`;
  return {
    timestamp,
    signature,
    headers: { [SLACK_TIMESTAMP_HEADER]: timestamp, [SLACK_SIGNATURE_HEADER]: signature },
  };
}

/**
 * The two signature headers from a header map whatever their letter case (API Gateway passes them as the client sent
 * them). A header given more than once is treated as malformed by returning both values joined, which no pattern accepts.
 */
export function slackSignatureHeaders(headers: Record<string, string | string[] | undefined>): {
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
} {
  const lookup = (name: string): string | undefined => {
    const values = Object.entries(headers)
      .filter(([key, value]) => key.toLowerCase() === name && value !== undefined)
      .flatMap(([, value]) => (Array.isArray(value) ? value : [value as string]));
    return values.length === 0 ? undefined : values.join(',');
  };
  return { timestampHeader: lookup(SLACK_TIMESTAMP_HEADER), signatureHeader: lookup(SLACK_SIGNATURE_HEADER) };
}

function hmac(signingSecret: string, timestamp: string, rawBody: string | Uint8Array): Buffer {
  return createHmac('sha256', signingSecret)
    .update(`${SLACK_SIGNATURE_VERSION}:${timestamp}:`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest();
}

/** An empty key would make every signature forgeable by anyone; refuse it loudly (a deployment error, not a request's). */
function assertUsableSecret(signingSecret: string): void {
  if (typeof signingSecret !== 'string' || signingSecret.length === 0) {
    throw new TypeError('the Slack signing secret is not configured');
  }
}
