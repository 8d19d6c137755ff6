/**
 * Bypass class: a second `Authorization` header, and credentials in other headers (issue 6; DESIGN.md section 7). Node
 * keeps only the first of repeated `Authorization` headers in `req.headers`, Go's apiserver reads the first too, but a
 * proxy on the way may keep the last: two headers are two credentials, and the relay must not pick one. The relay reads
 * the raw headers and refuses any request with more than one, or with one that is not a single bearer token, before it
 * verifies either. Credentials in the other headers a Kubernetes client may send — `Proxy-Authorization`, the
 * authenticating-proxy `X-Remote-*` headers, the WebSocket bearer subprotocol — never reach the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  rawRequest,
  upstreamMark,
  waitForDenied,
  waitForEvent,
} from '../support/relay-raw.ts';

const TARGET = '/api/v1/namespaces/claims/pods';

let harness: RelayHarness;
let token: string;
let otherToken: string;

beforeAll(async () => {
  harness = await startRelayHarness();
  ({ token } = await harness.grant({ namespaces: ['claims'], access: 'view' }));
  ({ token: otherToken } = await harness.grant({ namespaces: ['claims', 'intake'], access: 'edit' }));
});

afterAll(async () => {
  await harness?.close();
});

async function expectUnauthorized(headers: ReadonlyArray<readonly [string, string]>, message: string): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, { target: TARGET, headers });

  expect(response.status).toBe(401);
  expectFailureStatus(response.body, 401, 'Unauthorized', message);
  const denied = await waitForDenied(events);
  // Refused before either credential was verified: the event names no one, and no fingerprint.
  expect(denied.actor).toEqual({ id: 'anonymous' });
  expect(denied.grantId).toBeUndefined();
  expect(detailsOf(denied)).toMatchObject({ stage: 'authenticate', status: 401 });
  expect(detailsOf(denied).credential).toBeUndefined();
  expect(upstream.since()).toEqual([]);
}

describe('a second Authorization header', () => {
  it('refuses a valid credential followed by another', async () => {
    await expectUnauthorized(
      [bearer(token), ['Authorization', 'Bearer attacker']],
      'more than one Authorization header',
    );
  });

  it('refuses another credential followed by a valid one', async () => {
    await expectUnauthorized(
      [['Authorization', 'Bearer attacker'], bearer(token)],
      'more than one Authorization header',
    );
  });

  it('refuses two valid credentials of different grants, choosing neither', async () => {
    await expectUnauthorized([bearer(token), bearer(otherToken)], 'more than one Authorization header');
  });

  it('refuses the same credential twice', async () => {
    await expectUnauthorized([bearer(token), bearer(token)], 'more than one Authorization header');
  });

  it('refuses two headers whose names differ only in case', async () => {
    await expectUnauthorized(
      [
        ['Authorization', `Bearer ${token}`],
        ['aUTHORIZATION', `Bearer ${otherToken}`],
      ],
      'more than one Authorization header',
    );
  });

  it('refuses a second Authorization header hidden past the number of headers the HTTP parser keeps', async () => {
    // Node keeps about the first 1000 headers of a request (server.maxHeadersCount) and silently drops the rest, and
    // 1100 short headers are still under the 16 KB the relay's parser lets through: a second Authorization after them
    // is invisible to the gate, which would then "resolve" the pair by taking the first.
    const filler = Array.from({ length: 1100 }, (_, index) => [`x${index}`, '1'] as const);
    await expectUnauthorized(
      [bearer(token), ...filler, ['Authorization', `Bearer ${otherToken}`]],
      'more than one Authorization header',
    );
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
      [['Proxy-Authorization', `Bearer ${token}`]],
      'a relay credential is required (Authorization: Bearer)',
    );
  });

  it('refuses a second credential folded onto the header line (obsolete line folding) in the HTTP parser', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, {
      target: TARGET,
      headers: [['Authorization', `Bearer ${token}\r\n Bearer ${otherToken}`]],
    });

    expect(response.status).toBe(400);
    expectFailureStatus(response.body, 400, 'BadRequest', /^malformed HTTP request refused \(HPE_/);
    const denied = await waitForDenied(events);
    expect(detailsOf(denied)).toMatchObject({ stage: 'parse', status: 400 });
    expect(upstream.since()).toEqual([]);
  });
});

describe('credentials in other headers', () => {
  it('forwards with the relay credential only: no Proxy-Authorization or X-Remote-* reaches the cluster', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, {
      target: TARGET,
      headers: [
        bearer(token),
        ['Proxy-Authorization', 'Bearer attacker-proxy'],
        ['X-Remote-User', 'system:admin'],
        ['X-Remote-Group', 'system:masters'],
        ['Cookie', 'session=attacker-cookie'],
      ],
    });

    expect(response.status).toBe(200);
    const [forwarded, ...more] = upstream.since();
    expect(more).toEqual([]);
    expect(forwarded!.headers.authorization).toBe(`Bearer ${harness.api.token}`);
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
    const upstream = upstreamMark(harness);

    const response = await rawRequest(harness, {
      target: TARGET,
      headers: [bearer(token), ['Sec-WebSocket-Protocol', smuggled]],
    });

    expect(response.status).toBe(200);
    const [forwarded] = upstream.since();
    expect(forwarded!.headers['sec-websocket-protocol']).toBeUndefined();
    expect(JSON.stringify(forwarded!.headers)).not.toContain(smuggled);
  });
});
