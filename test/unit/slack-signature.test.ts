/**
 * Slack request signatures: Slack's own documented example, an independent HMAC computed here with node:crypto, and
 * every way a request can be refused (forged, replayed, tampered, missing, malformed).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SLACK_SIGNATURE_HEADER,
  SLACK_TIMESTAMP_HEADER,
  signSlackRequest,
  slackSignatureHeaders,
  verifySlackSignature,
} from '../../shared/slack/signature.ts';

// The worked example in "Verifying requests from Slack" (docs.slack.dev/authentication/verifying-requests-from-slack).
const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const DOC_TIMESTAMP = '1531420618';
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
  '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com' +
  '%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
  '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const DOC_NOW = new Date(Number(DOC_TIMESTAMP) * 1000);

const SECRET = 'test-signing-secret-0123456789abcdef';
const NOW = new Date('2026-03-02T09:30:00Z');
const NOW_SECONDS = String(NOW.getTime() / 1000);
const BODY = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', actions: [{ value: 'req_1' }] }))}`;

/** Computed here, apart from the module under test, so the scheme is checked rather than echoed. */
function independentSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

function verify(overrides: Partial<Parameters<typeof verifySlackSignature>[0]> = {}) {
  return verifySlackSignature({
    signingSecret: SECRET,
    timestampHeader: NOW_SECONDS,
    signatureHeader: independentSignature(SECRET, NOW_SECONDS, BODY),
    rawBody: BODY,
    now: NOW,
    ...overrides,
  });
}

describe('verifySlackSignature', () => {
  it("accepts Slack's documented example at its own timestamp", () => {
    const result = verifySlackSignature({
      signingSecret: DOC_SECRET,
      timestampHeader: DOC_TIMESTAMP,
      signatureHeader: DOC_SIGNATURE,
      rawBody: DOC_BODY,
      now: DOC_NOW,
    });
    expect(result).toEqual({ ok: true });
  });

  it('accepts a signature computed independently with node:crypto, given as a string or as bytes', () => {
    expect(verify()).toEqual({ ok: true });
    expect(verify({ rawBody: Buffer.from(BODY, 'utf8') })).toEqual({ ok: true });
    expect(verify({ rawBody: new Uint8Array(Buffer.from(BODY, 'utf8')) })).toEqual({ ok: true });
  });

  it('signs the raw UTF-8 bytes of a body with non-ASCII text', () => {
    const body = 'payload=%7B%7D&note=caf\u00e9 \u{1F680}';
    expect(verify({ rawBody: body, signatureHeader: independentSignature(SECRET, NOW_SECONDS, body) })).toEqual({
      ok: true,
    });
  });

  it('accepts upper-case hex digits in the presented signature', () => {
    const signature = independentSignature(SECRET, NOW_SECONDS, BODY);
    expect(verify({ signatureHeader: `v0=${signature.slice(3).toUpperCase()}` })).toEqual({ ok: true });
  });

  it('refuses a signature made with another secret (forged)', () => {
    expect(verify({ signatureHeader: independentSignature('not-the-secret', NOW_SECONDS, BODY) })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('refuses a body changed after signing (tampered)', () => {
    const tampered = BODY.replace('req_1', 'req_2');
    expect(tampered).not.toBe(BODY);
    expect(verify({ rawBody: tampered })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verify({ rawBody: `${BODY}&extra=1` })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a signature moved to another timestamp inside the window', () => {
    const other = String(Number(NOW_SECONDS) - 10);
    expect(verify({ timestampHeader: other })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a validly signed request replayed more than five minutes later (stale)', () => {
    const old = String(Number(NOW_SECONDS) - 301);
    expect(verify({ timestampHeader: old, signatureHeader: independentSignature(SECRET, old, BODY) })).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('refuses a timestamp more than five minutes in the future, and accepts exactly five minutes either way', () => {
    const future = String(Number(NOW_SECONDS) + 301);
    expect(verify({ timestampHeader: future, signatureHeader: independentSignature(SECRET, future, BODY) })).toEqual({
      ok: false,
      reason: 'stale',
    });
    for (const edge of [Number(NOW_SECONDS) - 300, Number(NOW_SECONDS) + 300].map(String)) {
      expect(verify({ timestampHeader: edge, signatureHeader: independentSignature(SECRET, edge, BODY) })).toEqual({
        ok: true,
      });
    }
  });

  it("refuses Slack's documented example today: it is years old", () => {
    const result = verifySlackSignature({
      signingSecret: DOC_SECRET,
      timestampHeader: DOC_TIMESTAMP,
      signatureHeader: DOC_SIGNATURE,
      rawBody: DOC_BODY,
      now: NOW,
    });
    expect(result).toEqual({ ok: false, reason: 'stale' });
  });

  it.each([
    ['no timestamp header', { timestampHeader: undefined }],
    ['no signature header', { signatureHeader: undefined }],
    ['an empty timestamp header', { timestampHeader: '' }],
    ['an empty signature header', { signatureHeader: '' }],
    ['a null signature header', { signatureHeader: null }],
  ])('reports %s as missing', (_name, overrides) => {
    expect(verify(overrides)).toEqual({ ok: false, reason: 'missing' });
  });

  it.each([
    ['a signature one hex digit short', () => independentSignature(SECRET, NOW_SECONDS, BODY).slice(0, -1)],
    ['a signature one hex digit long', () => `${independentSignature(SECRET, NOW_SECONDS, BODY)}0`],
    ['a signature without the v0= prefix', () => independentSignature(SECRET, NOW_SECONDS, BODY).slice(3)],
    ['a signature of another version', () => `v1=${independentSignature(SECRET, NOW_SECONDS, BODY).slice(3)}`],
    ['a signature with non-hex characters', () => `v0=${'z'.repeat(64)}`],
    ['a base64 signature', () => `v0=${Buffer.alloc(32, 7).toString('base64')}`],
    ['two signatures joined', () => `${DOC_SIGNATURE},${DOC_SIGNATURE}`],
  ])('reports %s as malformed (wrong length or format never reaches the comparison)', (_name, signature) => {
    expect(verify({ signatureHeader: signature() })).toEqual({ ok: false, reason: 'malformed' });
  });

  it.each([
    ['a non-numeric timestamp', 'yesterday'],
    ['a fractional timestamp', `${NOW_SECONDS}.5`],
    ['a negative timestamp', `-${NOW_SECONDS}`],
    ['a timestamp in milliseconds', String(NOW.getTime())],
  ])('reports %s as malformed', (_name, timestamp) => {
    expect(verify({ timestampHeader: timestamp })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses to run with an empty signing secret, which would make every signature forgeable', () => {
    const forged = independentSignature('', NOW_SECONDS, BODY);
    expect(() => verify({ signingSecret: '', signatureHeader: forged })).toThrow(/not configured/);
  });

  it('never puts the secret or the expected signature into its result', () => {
    const expected = independentSignature(SECRET, NOW_SECONDS, BODY);
    const result = JSON.stringify(verify({ signatureHeader: `v0=${'0'.repeat(64)}` }));
    expect(result).toBe('{"ok":false,"reason":"mismatch"}');
    expect(result).not.toContain(SECRET);
    expect(result).not.toContain(expected.slice(3));
  });
});

describe('signSlackRequest', () => {
  it("reproduces Slack's documented example", () => {
    const signed = signSlackRequest({ signingSecret: DOC_SECRET, rawBody: DOC_BODY, at: DOC_NOW });
    expect(signed.timestamp).toBe(DOC_TIMESTAMP);
    expect(signed.signature).toBe(DOC_SIGNATURE);
  });

  it('signs whole seconds, gives both headers, and round-trips through verification', () => {
    const at = new Date(NOW.getTime() + 999);
    const signed = signSlackRequest({ signingSecret: SECRET, rawBody: BODY, at });
    expect(signed.timestamp).toBe(NOW_SECONDS);
    expect(signed.signature).toBe(independentSignature(SECRET, NOW_SECONDS, BODY));
    expect(signed.headers).toEqual({
      [SLACK_TIMESTAMP_HEADER]: signed.timestamp,
      [SLACK_SIGNATURE_HEADER]: signed.signature,
    });
    expect(
      verifySlackSignature({ signingSecret: SECRET, ...slackSignatureHeaders(signed.headers), rawBody: BODY, now: at }),
    ).toEqual({ ok: true });
  });
});

describe('slackSignatureHeaders', () => {
  it('finds both headers whatever their letter case', () => {
    expect(
      slackSignatureHeaders({ 'X-Slack-Signature': 'v0=ab', 'X-SLACK-REQUEST-TIMESTAMP': '1', 'content-type': 'x' }),
    ).toEqual({ signatureHeader: 'v0=ab', timestampHeader: '1' });
  });

  it('reports absent headers as undefined, so verification says missing', () => {
    const headers = slackSignatureHeaders({ 'content-type': 'application/x-www-form-urlencoded' });
    expect(headers).toEqual({ signatureHeader: undefined, timestampHeader: undefined });
    expect(verify(headers)).toEqual({ ok: false, reason: 'missing' });
  });

  it('joins a repeated header so that verification refuses it as malformed', () => {
    const signature = independentSignature(SECRET, NOW_SECONDS, BODY);
    const headers = slackSignatureHeaders({
      'x-slack-signature': [signature, signature],
      'x-slack-request-timestamp': NOW_SECONDS,
    });
    expect(verify(headers)).toEqual({ ok: false, reason: 'malformed' });
  });
});
