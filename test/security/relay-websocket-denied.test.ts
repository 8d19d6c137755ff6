/**
 * Bypass class: a WebSocket upgrade on a denied path (issue 6). Upgrades are handled apart from ordinary requests
 * (Node's `upgrade` event), so they are where a check is most easily missed: a watch of secrets or a proxy opened as a
 * WebSocket, a session outside the grant, SPDY or h2c instead of WebSocket. The relay runs the same gate on every
 * upgrade, accepts WebSocket for exec and attach only, answers refusals with a Status on the raw socket, records them,
 * and opens nothing upstream.
 */
import { describe, expect, it } from 'vitest';
import { bearer, httpRequest, openWebSocket, sendRaw } from '../support/relay-raw.ts';
import { expectRefused, podObject, useRelayHarness, type ExpectedRefusal } from '../support/relay-security.ts';

/** The headers of a WebSocket handshake for exec, as kubectl sends them. */
const WEBSOCKET_HEADERS = [
  ['Connection', 'Upgrade'],
  ['Upgrade', 'websocket'],
  ['Sec-WebSocket-Version', '13'],
  ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io'],
] as const;

const relay = useRelayHarness({ objects: [podObject('claims', 'intake-0'), podObject('intake', 'intake-0')] });

/** Opens `path` as a WebSocket and asserts the relay refused it as `expected`, with no upgrade or stream upstream. */
async function expectUpgradeDenied(
  path: string,
  expected: ExpectedRefusal,
  headers: Record<string, string> = { Authorization: `Bearer ${relay.token}` },
  protocols?: string[],
): Promise<void> {
  const streams = relay.harness.api.streams.length;

  const { forwarded } = await expectRefused(
    relay.harness,
    () => openWebSocket(relay.harness, path, headers, protocols),
    expected,
  );

  expect(forwarded.filter((request) => request.upgrade !== undefined)).toEqual([]);
  expect(relay.harness.api.streams.length).toBe(streams);
}

/** Sends `target` raw with the grant's credential and `headers` (WebSocket clients resolve dots, and speak only WebSocket). */
function rawUpgrade(target: string, headers: ReadonlyArray<readonly [string, string]>) {
  return () => sendRaw(relay.harness, httpRequest({ target, headers: [bearer(relay.token), ...headers] }));
}

describe('WebSocket upgrades on denied paths', () => {
  it('denies a watch of secrets opened as a WebSocket by the guardrail', async () => {
    await expectUpgradeDenied('/api/v1/namespaces/claims/secrets?watch=1', {
      status: 403,
      reason: 'Forbidden',
      message: 'watch secrets in namespace claims is forbidden by policy no-secret-reads',
      stage: 'guardrail',
    });
    expect(relay.harness.events.at(-1)?.grantId).toBe(relay.grant.id);
  });

  it.each<[string, string, ExpectedRefusal, { headers?: Record<string, string>; protocols?: string[] }?]>([
    [
      'denies exec in a namespace outside the grant, before reading the pod',
      '/api/v1/namespaces/intake/pods/intake-0/exec?command=sh&stdin=true&stdout=true',
      {
        status: 403,
        reason: 'Forbidden',
        message: 'namespace intake is outside the grant (namespaces claims)',
        stage: 'scope',
      },
    ],
    [
      'denies a pod proxy opened as a WebSocket (proxy needs a permit)',
      '/api/v1/namespaces/claims/pods/intake-0/proxy/ws',
      {
        status: 403,
        reason: 'Forbidden',
        message: 'get pods/intake-0/proxy in namespace claims needs a policy that permits it, and none does',
        stage: 'guardrail',
      },
    ],
    [
      'denies port-forward without a permit, after reading only the pod for its labels',
      '/api/v1/namespaces/claims/pods/intake-0/portforward?ports=5432',
      {
        status: 403,
        reason: 'Forbidden',
        message: 'get pods/intake-0/portforward in namespace claims needs a policy that permits it, and none does',
        stage: 'guardrail',
        upstreamPaths: ['/api/v1/namespaces/claims/pods/intake-0'],
      },
      { protocols: ['v4.channel.k8s.io'] },
    ],
    [
      'refuses a WebSocket on an allowed path that is not exec or attach',
      '/api/v1/namespaces/claims/pods?watch=1',
      {
        status: 400,
        reason: 'BadRequest',
        message: 'the relay accepts WebSocket upgrades for exec and attach only',
        stage: 'negotiate',
      },
    ],
    [
      'refuses an upgrade without a credential',
      '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true',
      {
        status: 401,
        reason: 'Unauthorized',
        message: 'a relay credential is required (Authorization: Bearer)',
        stage: 'authenticate',
      },
      { headers: {} },
    ],
    [
      // Its relay.denied event must say at which stage, as every other refusal's does.
      'refuses exec without a channel subprotocol, after the gate, and opens nothing upstream',
      '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true',
      {
        status: 400,
        reason: 'BadRequest',
        message:
          'exec and attach through the relay need the v5.channel.k8s.io or v4.channel.k8s.io WebSocket subprotocol',
        stage: 'negotiate',
        upstreamPaths: ['/api/v1/namespaces/claims/pods/intake-0'],
      },
      { protocols: ['base64.channel.k8s.io'] },
    ],
  ])('%s', async (_name, path, expected, options = {}) => {
    await expectUpgradeDenied(path, expected, options.headers, options.protocols);
  });

  it('refuses an upgrade with a dot segment at the target stage (sent raw: WebSocket clients resolve dots)', async () => {
    await expectRefused(
      relay.harness,
      rawUpgrade('/api/v1/namespaces/claims/pods/intake-0/exec/../../../secrets', WEBSOCKET_HEADERS),
      {
        status: 400,
        reason: 'BadRequest',
        message: 'request path refused: dot segment (. or ..) in the path',
        stage: 'target',
      },
    );
  });
});

describe('upgrades to other protocols', () => {
  it.each([['SPDY/3.1'], ['h2c']])(
    'refuses %s to exec with a Status after the gate, opening nothing upstream',
    async (protocol) => {
      const { forwarded } = await expectRefused(
        relay.harness,
        rawUpgrade('/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true', [
          ['Connection', 'Upgrade'],
          ['Upgrade', protocol],
        ]),
        {
          status: 400,
          reason: 'BadRequest',
          message: /^SPDY is not supported by the relay: use WebSocket/,
          stage: 'negotiate',
          closed: true,
          grantId: relay.grant.id,
          upstreamPaths: false,
        },
      );

      // At most the pod read for the guardrails, never an upgrade.
      for (const request of forwarded) {
        expect([request.method, request.path, request.upgrade]).toEqual([
          'GET',
          '/api/v1/namespaces/claims/pods/intake-0',
          undefined,
        ]);
      }
    },
  );

  it('answers SPDY to a denied path with the denial, so the client reads why', async () => {
    await expectRefused(
      relay.harness,
      rawUpgrade('/api/v1/namespaces/claims/secrets?watch=1', [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'SPDY/3.1'],
      ]),
      {
        status: 403,
        reason: 'Forbidden',
        message: 'watch secrets in namespace claims is forbidden by policy no-secret-reads',
        stage: 'guardrail',
      },
    );
  });

  it('refuses an Upgrade header without Connection: upgrade on an allowed path, after the gate', async () => {
    await expectRefused(
      relay.harness,
      { target: '/api/v1/namespaces/claims/pods', headers: [bearer(relay.token), ['Upgrade', 'websocket']] },
      {
        status: 400,
        reason: 'BadRequest',
        message: 'upgrades are answered on exec and attach only',
        stage: 'negotiate',
        grantId: relay.grant.id,
      },
    );
  });
});
