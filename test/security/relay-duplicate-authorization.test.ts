/**
 * Bypass class: a second `Authorization` header, and credentials in other headers (issue 6; DESIGN.md section 7). Node
 * keeps only the first of repeated `Authorization` headers in `req.headers`, Go's apiserver reads the first too, but a
 * proxy on the way may keep the last: two headers are two credentials, and the relay must not pick one. The relay reads
 * the raw headers and refuses any request with more than one, or with one that is not a single bearer token, before it
 * verifies either. Credentials in the other headers a Kubernetes client may send — `Proxy-Authorization`, the
 * authenticating-proxy `X-Remote-*` headers, the WebSocket bearer subprotocol — never reach the cluster.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { expectRefused, useRelayHarness } from '../support/relay-security.ts';

const TARGET = '/api/v1/namespaces/claims/pods';

const relay = useRelayHarness({ grant: { namespaces: ['claims'], access: 'view' } });
let otherToken: string;

beforeAll(async () => {
  ({ token: otherToken } = await relay.harness.grant({ namespaces: ['claims', 'intake'], access: 'edit' }));
});

async function expectUnauthorized(headers: ReadonlyArray<readonly [string, string]>, message: string): Promise<void> {
  const { denied } = await expectRefused(
    relay.harness,
    { target: TARGET, headers },
    { status: 401, reason: 'Unauthorized', message, stage: 'authenticate', actor: { id: 'anonymous' } },
  );
  // Refused before either credential was verified: the event names no one, and no fingerprint.
  expect(denied.grantId).toBeUndefined();
  expect(detailsOf(denied).credential).toBeUndefined();
}

describe('a second Authorization header', () => {
  it.each<[string, () => ReadonlyArray<readonly [string, string]>]>([
    [
      'refuses a valid credential followed by another',
      () => [bearer(relay.token), ['Authorization', 'Bearer attacker']],
    ],
    [
      'refuses another credential followed by a valid one',
      () => [['Authorization', 'Bearer attacker'], bearer(relay.token)],
    ],
    [
      'refuses two valid credentials of different grants, choosing neither',
      () => [bearer(relay.token), bearer(otherToken)],
    ],
    ['refuses the same credential twice', () => [bearer(relay.token), bearer(relay.token)]],
    [
      'refuses two headers whose names differ only in case',
      () => [
        ['Authorization', `Bearer ${relay.token}`],
        ['aUTHORIZATION', `Bearer ${otherToken}`],
      ],
    ],
    [
      'refuses a second Authorization header hidden past the number of headers the HTTP parser keeps',
      // Node keeps about the first 1000 headers of a request (server.maxHeadersCount) and silently drops the rest, and
      // 1100 short headers are still under the 16 KB the relay's parser lets through: a second Authorization after them
      // is invisible to the gate, which would then "resolve" the pair by taking the first.
      () => [
        bearer(relay.token),
        ...Array.from({ length: 1100 }, (_, index) => [`x${index}`, '1'] as const),
        ['Authorization', `Bearer ${otherToken}`],
      ],
    ],
  ])('%s', async (_name, headers) => {
    await expectUnauthorized(headers(), 'more than one Authorization header');
  });
});

describe('an Authorization header that is not one bearer token', () => {
  it.each([
    ['two tokens in one header', `Bearer ${'a'.repeat(10)}, Bearer ${'b'.repeat(10)}`],
    ['Basic credentials', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['a bearer token with a space inside', 'Bearer abc def'],
    ['an empty bearer', 'Bearer '],
    ['a lower-case scheme', 'bearer abc'],
  ])('refuses %s', async (_name, value) => {
    await expectUnauthorized([['Authorization', value]], 'the Authorization header is not a bearer token');
  });

  it('refuses a request with no Authorization header at all', async () => {
    await expectUnauthorized([], 'a relay credential is required (Authorization: Bearer)');
  });

  it('refuses a credential in Proxy-Authorization only', async () => {
    await expectUnauthorized(
      [['Proxy-Authorization', `Bearer ${relay.token}`]],
      'a relay credential is required (Authorization: Bearer)',
    );
  });

  it('refuses a second credential folded onto the header line (obsolete line folding) in the HTTP parser', async () => {
    await expectRefused(
      relay.harness,
      { target: TARGET, headers: [['Authorization', `Bearer ${relay.token}\r\n Bearer ${otherToken}`]] },
      { status: 400, reason: 'BadRequest', message: /^malformed HTTP request refused \(HPE_/, stage: 'parse' },
    );
  });
});

describe('credentials in other headers', () => {
  it('forwards with the relay credential only: no Proxy-Authorization or X-Remote-* reaches the cluster', async () => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const response = await rawRequest(relay.harness, {
      target: TARGET,
      headers: [
        bearer(relay.token),
        ['Proxy-Authorization', 'Bearer attacker-proxy'],
        ['X-Remote-User', 'system:admin'],
        ['X-Remote-Group', 'system:masters'],
        ['Cookie', 'session=attacker-cookie'],
      ],
    });

    expect(response.status).toBe(200);
    const [forwarded, ...more] = upstream.since();
    expect(more).toEqual([]);
    expect(forwarded!.headers.authorization).toBe(`Bearer ${relay.harness.api.token}`);
    for (const name of ['proxy-authorization', 'x-remote-user', 'x-remote-group', 'cookie']) {
      expect(forwarded!.headers[name]).toBeUndefined();
    }
    expect(JSON.stringify(forwarded!.headers)).not.toMatch(/attacker|system:admin|system:masters/);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({ verb: 'list', status: 200 });
  });

  it('does not forward a WebSocket bearer subprotocol (a cluster token) on a plain request', async () => {
    // The apiserver authenticates WebSocket clients by `base64url.bearer.authorization.k8s.io.<token>` in
    // Sec-WebSocket-Protocol (browsers cannot set Authorization): it is an Authorization header by another name.
    const smuggled = `base64url.bearer.authorization.k8s.io.${Buffer.from('stolen-cluster-token').toString('base64url')}`;
    const upstream = upstreamMark(relay.harness);

    const response = await rawRequest(relay.harness, {
      target: TARGET,
      headers: [bearer(relay.token), ['Sec-WebSocket-Protocol', smuggled]],
    });

    expect(response.status).toBe(200);
    const [forwarded] = upstream.since();
    expect(forwarded!.headers['sec-websocket-protocol']).toBeUndefined();
    expect(JSON.stringify(forwarded!.headers)).not.toContain(smuggled);
  });
});
