/**
 * Bypass class: a WebSocket upgrade on a denied path (issue 6). Upgrades are handled apart from ordinary requests
 * (Node's `upgrade` event), so they are where a check is most easily missed: a watch of secrets or a proxy opened as a
 * WebSocket, a session outside the grant, SPDY or h2c instead of WebSocket. The relay runs the same gate on every
 * upgrade, accepts WebSocket for exec and attach only, answers refusals with a Status on the raw socket, records them,
 * and opens nothing upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  openWebSocket,
  sendRaw,
  httpRequest,
  rawRequest,
  upstreamMark,
  waitForDenied,
} from '../support/relay-raw.ts';

/** The headers of a WebSocket handshake for exec, as kubectl sends them. */
const WEBSOCKET_HEADERS = [
  ['Connection', 'Upgrade'],
  ['Upgrade', 'websocket'],
  ['Sec-WebSocket-Version', '13'],
  ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io'],
] as const;

let harness: RelayHarness;
let token: string;
let grantId: string;

beforeAll(async () => {
  harness = await startRelayHarness();
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake-0', namespace: 'claims' },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake-0', namespace: 'intake' },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  ({
    token,
    grant: { id: grantId },
  } = await harness.grant({ namespaces: ['claims'], access: 'edit' }));
});

afterAll(async () => {
  await harness?.close();
});

interface Expected {
  code: number;
  reason: string;
  message: string | RegExp;
  stage: string;
  /** Upstream requests allowed before the refusal (the pod read for a session's guardrails), by path. */
  upstreamPaths?: string[];
}

async function expectUpgradeDenied(
  path: string,
  expected: Expected,
  headers: Record<string, string> = { Authorization: `Bearer ${token}` },
  protocols?: string[],
): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);
  const streams = harness.api.streams.length;

  const result = await openWebSocket(harness, path, headers, protocols);

  expect(result.status).toBe(expected.code);
  if (!('body' in result)) throw new Error('the upgrade was accepted');
  expectFailureStatus(result.body, expected.code, expected.reason, expected.message);
  const denied = await waitForDenied(events);
  expect(detailsOf(denied)).toMatchObject({ stage: expected.stage, status: expected.code });
  const forwarded = upstream.since();
  expect(forwarded.filter((request) => request.upgrade !== undefined)).toEqual([]);
  expect(forwarded.map((request) => request.path)).toEqual(expected.upstreamPaths ?? []);
  expect(harness.api.streams.length).toBe(streams);
}

describe('WebSocket upgrades on denied paths', () => {
  it('denies a watch of secrets opened as a WebSocket by the guardrail', async () => {
    await expectUpgradeDenied('/api/v1/namespaces/claims/secrets?watch=1', {
      code: 403,
      reason: 'Forbidden',
      message: 'watch secrets in namespace claims is forbidden by policy no-secret-reads',
      stage: 'guardrail',
    });
    expect(harness.events.at(-1)?.grantId).toBe(grantId);
  });

  it('denies exec in a namespace outside the grant, before reading the pod', async () => {
    await expectUpgradeDenied('/api/v1/namespaces/intake/pods/intake-0/exec?command=sh&stdin=true&stdout=true', {
      code: 403,
      reason: 'Forbidden',
      message: 'namespace intake is outside the grant (namespaces claims)',
      stage: 'scope',
    });
  });

  it('denies a pod proxy opened as a WebSocket (proxy needs a permit)', async () => {
    await expectUpgradeDenied('/api/v1/namespaces/claims/pods/intake-0/proxy/ws', {
      code: 403,
      reason: 'Forbidden',
      message: 'get pods/intake-0/proxy in namespace claims needs a policy that permits it, and none does',
      stage: 'guardrail',
    });
  });

  it('denies port-forward without a permit, after reading only the pod for its labels', async () => {
    await expectUpgradeDenied(
      '/api/v1/namespaces/claims/pods/intake-0/portforward?ports=5432',
      {
        code: 403,
        reason: 'Forbidden',
        message: 'get pods/intake-0/portforward in namespace claims needs a policy that permits it, and none does',
        stage: 'guardrail',
        upstreamPaths: ['/api/v1/namespaces/claims/pods/intake-0'],
      },
      undefined,
      ['v4.channel.k8s.io'],
    );
  });

  it('refuses a WebSocket on an allowed path that is not exec or attach', async () => {
    await expectUpgradeDenied('/api/v1/namespaces/claims/pods?watch=1', {
      code: 400,
      reason: 'BadRequest',
      message: 'the relay accepts WebSocket upgrades for exec and attach only',
      stage: 'negotiate',
    });
  });

  it('refuses an upgrade without a credential', async () => {
    await expectUpgradeDenied(
      '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true',
      {
        code: 401,
        reason: 'Unauthorized',
        message: 'a relay credential is required (Authorization: Bearer)',
        stage: 'authenticate',
      },
      {},
    );
  });

  it('refuses an upgrade with a dot segment at the target stage (sent raw: WebSocket clients resolve dots)', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const exchange = await sendRaw(
      harness,
      httpRequest({
        target: '/api/v1/namespaces/claims/pods/intake-0/exec/../../../secrets',
        headers: [bearer(token), ...WEBSOCKET_HEADERS],
      }),
    );

    expect(exchange.responses.map((response) => response.status)).toEqual([400]);
    expectFailureStatus(
      exchange.responses[0]!.body,
      400,
      'BadRequest',
      'request path refused: dot segment (. or ..) in the path',
    );
    const denied = await waitForDenied(events);
    expect(detailsOf(denied)).toMatchObject({ stage: 'target', status: 400 });
    expect(upstream.since()).toEqual([]);
  });

  it('refuses exec without a channel subprotocol, after the gate, and opens nothing upstream', async () => {
    // Its relay.denied event must say at which stage, as every other refusal's does.
    await expectUpgradeDenied(
      '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true',
      {
        code: 400,
        reason: 'BadRequest',
        message:
          'exec and attach through the relay need the v5.channel.k8s.io or v4.channel.k8s.io WebSocket subprotocol',
        stage: 'negotiate',
        upstreamPaths: ['/api/v1/namespaces/claims/pods/intake-0'],
      },
      undefined,
      ['base64.channel.k8s.io'],
    );
  });
});

describe('upgrades to other protocols', () => {
  it.each([['SPDY/3.1'], ['h2c']])(
    'refuses %s to exec with a Status after the gate, opening nothing upstream',
    async (protocol) => {
      const upstream = upstreamMark(harness);
      const events = eventMark(harness);

      const exchange = await sendRaw(
        harness,
        httpRequest({
          target: '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true',
          headers: [bearer(token), ['Connection', 'Upgrade'], ['Upgrade', protocol]],
        }),
      );

      expect(exchange.responses.map((response) => response.status)).toEqual([400]);
      expectFailureStatus(
        exchange.responses[0]!.body,
        400,
        'BadRequest',
        /^SPDY is not supported by the relay: use WebSocket/,
      );
      expect(exchange.closed).toBe(true);
      const denied = await waitForDenied(events);
      expect(denied.grantId).toBe(grantId);
      expect(detailsOf(denied)).toMatchObject({ stage: 'negotiate', status: 400 });
      // At most the pod read for the guardrails, never an upgrade.
      for (const request of upstream.since()) {
        expect([request.method, request.path, request.upgrade]).toEqual([
          'GET',
          '/api/v1/namespaces/claims/pods/intake-0',
          undefined,
        ]);
      }
    },
  );

  it('answers SPDY to a denied path with the denial, so the client reads why', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const exchange = await sendRaw(
      harness,
      httpRequest({
        target: '/api/v1/namespaces/claims/secrets?watch=1',
        headers: [bearer(token), ['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1']],
      }),
    );

    expect(exchange.responses.map((response) => response.status)).toEqual([403]);
    expectFailureStatus(
      exchange.responses[0]!.body,
      403,
      'Forbidden',
      'watch secrets in namespace claims is forbidden by policy no-secret-reads',
    );
    const denied = await waitForDenied(events);
    expect(detailsOf(denied)).toMatchObject({ stage: 'guardrail', status: 403 });
    expect(upstream.since()).toEqual([]);
  });

  it('refuses an Upgrade header without Connection: upgrade on an allowed path, after the gate', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, {
      target: '/api/v1/namespaces/claims/pods',
      headers: [bearer(token), ['Upgrade', 'websocket']],
    });

    expect(response.status).toBe(400);
    expectFailureStatus(response.body, 400, 'BadRequest', 'upgrades are answered on exec and attach only');
    const denied = await waitForDenied(events);
    expect(denied.grantId).toBe(grantId);
    expect(detailsOf(denied)).toMatchObject({ stage: 'negotiate', status: 400 });
    expect(upstream.since()).toEqual([]);
  });
});
