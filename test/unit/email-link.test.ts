import { describe, expect, it } from 'vitest';
import {
  ApprovalLinkError,
  approvalLinkUrl,
  createApprovalLink,
  isApprovalLinkId,
  newApprovalLinkId,
  parseApprovalLinkUrl,
  verifyApprovalLink,
} from '../../shared/approvals/email-link.ts';

const KEY = Buffer.alloc(32, 0x11);
const OLD_KEY = Buffer.alloc(32, 0x22);
const OTHER_KEY = Buffer.alloc(32, 0x33);
const LINK_ID = 'apl_01JN8ZQ6T5X7C2M4R9B0D3F6H8';
const OTHER_LINK_ID = 'apl_01JN8ZQ6T5X7C2M4R9B0D3F6H9';
const REQUEST_ID = 'req_01JN8ZQ0000000000000000000';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const EXPIRES_AT = new Date('2025-03-01T13:00:00.000Z');

function link(overrides: Partial<Parameters<typeof createApprovalLink>[0]> = {}) {
  return createApprovalLink({
    key: KEY,
    baseUrl: 'https://gatehouse.example.com',
    linkId: LINK_ID,
    requestId: REQUEST_ID,
    approverId: 'alice',
    expiresAt: EXPIRES_AT,
    ...overrides,
  });
}

function verify(token: string, overrides: Partial<Parameters<typeof verifyApprovalLink>[0]> = {}) {
  return verifyApprovalLink({
    key: [KEY],
    linkId: LINK_ID,
    token,
    link: { requestId: REQUEST_ID, approverId: 'alice' },
    now: NOW,
    ...overrides,
  });
}

/** Flips one base64url character of the MAC to another value that still decodes canonically. */
function flipMacCharacter(token: string, position: number): string {
  const [exp, mac] = token.split('.') as [string, string];
  const chars = [...mac];
  chars[position] = chars[position] === 'A' ? 'B' : 'A';
  return `${exp}.${chars.join('')}`;
}

describe('createApprovalLink', () => {
  it('builds <baseUrl>/v1/approvals/<linkId>?t=<exp>.<mac> with the expiry in epoch seconds', () => {
    const { url, linkId, token } = link();

    expect(linkId).toBe(LINK_ID);
    expect(token).toMatch(/^1740834000\.[A-Za-z0-9_-]{43}$/);
    expect(url).toBe(`https://gatehouse.example.com/v1/approvals/${LINK_ID}?t=${token}`);
  });

  it('keeps a base path and drops trailing slashes', () => {
    expect(link({ baseUrl: 'https://api.example.com/prod/' }).url).toMatch(
      new RegExp(`^https://api\\.example\\.com/prod/v1/approvals/${LINK_ID}\\?t=`),
    );
  });

  it('is deterministic for the same inputs and different for another approver', () => {
    expect(link().token).toBe(link().token);
    expect(link({ approverId: 'bob' }).token).not.toBe(link().token);
  });

  it('accepts the expiry as an ISO string', () => {
    expect(link({ expiresAt: EXPIRES_AT.toISOString() }).token).toBe(link().token);
  });

  it('refuses a short key without putting the key in the message', () => {
    const short = Buffer.from('sixteen-byte-key');
    expect(() => link({ key: short })).toThrow(ApprovalLinkError);
    expect(() => link({ key: short })).toThrow(/at least 32 bytes/);
    try {
      link({ key: short });
    } catch (error) {
      expect((error as Error).message).not.toContain('sixteen-byte-key');
    }
  });

  it.each([
    ['a link id that is not apl_<ULID>', { linkId: 'apl_short' }],
    ['a request id with a dot', { requestId: 'req.1' }],
    ['an approver id outside the config schema', { approverId: 'Alice Smith' }],
    ['an invalid expiry', { expiresAt: 'tomorrow' }],
    ['a base URL with a query', { baseUrl: 'https://example.com/?x=1' }],
    ['a base URL that is not http(s)', { baseUrl: 'javascript:alert(1)' }],
    ['a base URL that is not a URL', { baseUrl: 'gatehouse' }],
  ])('refuses %s', (_name, overrides) => {
    expect(() => link(overrides)).toThrow(ApprovalLinkError);
  });
});

describe('verifyApprovalLink', () => {
  it('accepts a genuine link before its expiry and reports the expiry and the key that matched', () => {
    expect(verify(link().token)).toEqual({ ok: true, expiresAt: EXPIRES_AT, keyIndex: 0 });
  });

  it('accepts a single key as well as a list', () => {
    expect(verify(link().token, { key: KEY })).toMatchObject({ ok: true });
  });

  it('refuses a token whose MAC was altered as tampered', () => {
    const { token } = link();
    expect(verify(flipMacCharacter(token, 0))).toEqual({ ok: false, reason: 'tampered' });
    expect(verify(flipMacCharacter(token, 20))).toEqual({ ok: false, reason: 'tampered' });
  });

  it('refuses a token whose expiry was extended as tampered, not as valid', () => {
    const { token } = link();
    const [, mac] = token.split('.');
    const stretched = `${Math.floor(EXPIRES_AT.getTime() / 1000) + 86_400}.${mac}`;

    expect(verify(stretched, { now: new Date(EXPIRES_AT.getTime() + 3_600_000) })).toEqual({
      ok: false,
      reason: 'tampered',
    });
  });

  it('refuses a token presented under another link id (link id swapped)', () => {
    const { token } = link();
    expect(verify(token, { linkId: OTHER_LINK_ID })).toEqual({ ok: false, reason: 'tampered' });
  });

  it("refuses another approver's link: a token made for alice does not verify for bob", () => {
    const alices = link({ approverId: 'alice' });
    expect(verify(alices.token, { link: { requestId: REQUEST_ID, approverId: 'bob' } })).toEqual({
      ok: false,
      reason: 'tampered',
    });
  });

  it('refuses a link made for another request', () => {
    const other = link({ requestId: 'req_01JN8ZQ1111111111111111111' });
    expect(verify(other.token)).toEqual({ ok: false, reason: 'tampered' });
  });

  it('refuses a token signed with an unknown key', () => {
    expect(verify(link({ key: OTHER_KEY }).token)).toEqual({ ok: false, reason: 'tampered' });
  });

  it('refuses a genuine link at and after its expiry', () => {
    const { token } = link();
    expect(verify(token, { now: new Date(EXPIRES_AT.getTime() - 1) })).toMatchObject({ ok: true });
    expect(verify(token, { now: EXPIRES_AT })).toEqual({ ok: false, reason: 'expired' });
    expect(verify(token, { now: new Date(EXPIRES_AT.getTime() + 60_000) })).toEqual({ ok: false, reason: 'expired' });
  });

  it('checks the MAC before the expiry, so an altered expired link is tampered', () => {
    const altered = flipMacCharacter(link().token, 5);
    expect(verify(altered, { now: new Date(EXPIRES_AT.getTime() + 60_000) })).toEqual({
      ok: false,
      reason: 'tampered',
    });
  });

  it.each([
    ['an empty token', ''],
    ['a token with no expiry', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ'],
    ['a token with a non-numeric expiry', 'soon.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ'],
    ['a truncated MAC', '1740834000.abcdefghijklmnopqrstuvwxyz'],
    ['a MAC with padding', '1740834000.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP='],
    ['a MAC in standard base64', '1740834000.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO+'],
    ['a non-canonical final MAC character', '1740834000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB'],
    ['a token with extra parts', '1740834000.abc.def'],
    ['an expiry with a leading zero', '01740834000.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ'],
  ])('refuses %s as malformed', (_name, token) => {
    expect(verify(token)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses a link id that is not apl_<ULID> as malformed', () => {
    expect(verify(link().token, { linkId: '../grants/x' })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses a genuine token with a trailing character as malformed', () => {
    expect(verify(`${link().token}A`)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('verifies links signed with an older key during rotation, newest key first', () => {
    const fromOldKey = link({ key: OLD_KEY });
    const fromNewKey = link({ key: KEY });

    expect(verify(fromOldKey.token, { key: [KEY, OLD_KEY] })).toEqual({
      ok: true,
      expiresAt: EXPIRES_AT,
      keyIndex: 1,
    });
    expect(verify(fromNewKey.token, { key: [KEY, OLD_KEY] })).toMatchObject({ ok: true, keyIndex: 0 });
    expect(verify(fromOldKey.token, { key: [KEY] })).toEqual({ ok: false, reason: 'tampered' });
  });

  it('throws on an empty key list or a short key: a configuration fault, not a bad link', () => {
    expect(() => verify(link().token, { key: [] })).toThrow(ApprovalLinkError);
    expect(() => verify(link().token, { key: [KEY, Buffer.alloc(8)] })).toThrow(ApprovalLinkError);
  });
});

describe('link ids and URLs', () => {
  it('makes apl_<ULID> ids from the Ids port', () => {
    const id = newApprovalLinkId({ next: () => '01JN8ZQ6T5X7C2M4R9B0D3F6H8' });
    expect(id).toBe(LINK_ID);
    expect(isApprovalLinkId(id)).toBe(true);
    expect(isApprovalLinkId('apl_01JN8ZQ6T5X7C2M4R9B0D3F6HU')).toBe(false);
    expect(isApprovalLinkId('grt_01JN8ZQ6T5X7C2M4R9B0D3F6H8')).toBe(false);
  });

  it('parses an approval URL back into its link id and token, absolute or as a path', () => {
    const { url, token } = link({ baseUrl: 'https://api.example.com/prod' });

    expect(parseApprovalLinkUrl(url)).toEqual({ linkId: LINK_ID, token });
    expect(parseApprovalLinkUrl(`/v1/approvals/${LINK_ID}?t=${token}`)).toEqual({ linkId: LINK_ID, token });
    expect(approvalLinkUrl('https://api.example.com/prod', LINK_ID, token)).toBe(url);
  });

  it.each([
    ['no token', `https://x.example/v1/approvals/${LINK_ID}`],
    ['another path', `https://x.example/v1/grants/${LINK_ID}?t=1.a`],
    ['a bad link id', 'https://x.example/v1/approvals/apl_x?t=1.a'],
  ])('does not parse a URL with %s', (_name, url) => {
    expect(parseApprovalLinkUrl(url)).toBeUndefined();
  });
});
