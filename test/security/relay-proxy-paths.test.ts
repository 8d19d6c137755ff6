/**
 * Bypass class: the API server's proxy (issue 6). `/api/v1/namespaces/{ns}/pods/{name}/proxy/...`, the same for
 * services and nodes, and the legacy `/api/v1/proxy/...` prefix reach into a pod's or a node's own HTTP endpoints,
 * where no guardrail and no masking rule can see what is asked or answered. The relay forwards proxy requests only when
 * a guardrail explicitly permits them, and a permit for one form (the `proxy` subresource) does not open the other (the
 * legacy prefix, which the apiserver resolves to the verb `proxy`) nor a proxied path that climbs out with `..`.
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

/** The one proxy this deployment allows: the `web` service's, through the `proxy` subresource. */
const WEB_PROXY_PERMIT = `
@id("permit-web-service-proxy")
permit (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "services" && resource.name == "web" && resource.subresource == "proxy" };
`;

let harness: RelayHarness;
let token: string;
let grantId: string;

beforeAll(async () => {
  harness = await startRelayHarness({ policies: WEB_PROXY_PERMIT });
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake-0', namespace: 'claims' },
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

async function expectDenied(
  request: { method?: string; target: string },
  expected: { code: number; reason: string; message: string; stage: string; verb?: string },
): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, {
    ...request,
    headers: [bearer(token), ['Content-Length', '0']],
  });

  expect(response.status).toBe(expected.code);
  expectFailureStatus(response.body, expected.code, expected.reason, expected.message);
  const denied = await waitForDenied(events);
  expect(denied.grantId).toBe(grantId);
  expect(detailsOf(denied)).toMatchObject({
    stage: expected.stage,
    status: expected.code,
    ...(expected.verb ? { verb: expected.verb } : {}),
  });
  expect(upstream.since()).toEqual([]);
}

describe('the proxy subresource', () => {
  it.each([
    ['a pod', 'GET', '/api/v1/namespaces/claims/pods/intake-0/proxy/metrics', 'get pods/intake-0/proxy'],
    ['a pod port', 'GET', '/api/v1/namespaces/claims/pods/intake-0:8080/proxy/admin', 'get pods/intake-0:8080/proxy'],
    [
      'a pod, with a write',
      'POST',
      '/api/v1/namespaces/claims/pods/intake-0/proxy/shutdown',
      'create pods/intake-0/proxy',
    ],
    [
      'another service than the permitted one',
      'GET',
      '/api/v1/namespaces/claims/services/db/proxy/admin',
      'get services/db/proxy',
    ],
    [
      'a service by scheme and port',
      'GET',
      '/api/v1/namespaces/claims/services/https:db:443/proxy/x',
      'get services/https:db:443/proxy',
    ],
  ])('denies %s without a permit', async (_name, method, target, what) => {
    await expectDenied(
      { method, target },
      {
        code: 403,
        reason: 'Forbidden',
        message: `${what} in namespace claims needs a policy that permits it, and none does`,
        stage: 'guardrail',
      },
    );
  });

  it('forwards the permitted service proxy, exactly as asked', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);
    const target = '/api/v1/namespaces/claims/services/web/proxy/healthz';

    await rawRequest(harness, { target, headers: [bearer(token)] });

    expect(upstream.since().map((request) => [request.method, request.url])).toEqual([['GET', target]]);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({
      verb: 'get',
      resource: 'services',
      name: 'web',
      subresource: 'proxy',
      decision: { policies: ['permit-web-service-proxy'] },
    });
  });

  it('refuses a permitted proxy path that climbs out of the proxy with ..', async () => {
    await expectDenied(
      { target: '/api/v1/namespaces/claims/services/web/proxy/../../../secrets/db' },
      {
        code: 400,
        reason: 'BadRequest',
        message: 'request path refused: dot segment (. or ..) in the path',
        stage: 'target',
      },
    );
  });

  it('refuses a permitted proxy path that climbs out with encoded dots', async () => {
    await expectDenied(
      { target: '/api/v1/namespaces/claims/services/web/proxy/%2e%2e/%2e%2e/%2e%2e/secrets/db' },
      {
        code: 400,
        reason: 'BadRequest',
        message: 'request path refused: percent-encoding in the path',
        stage: 'target',
      },
    );
  });

  it('denies a node proxy as a cluster-scoped request outside a namespaced grant', async () => {
    await expectDenied(
      { target: '/api/v1/nodes/node-1/proxy/stats/summary' },
      {
        code: 403,
        reason: 'Forbidden',
        message: 'get on cluster-scoped nodes is outside the grant (namespaces claims)',
        stage: 'scope',
      },
    );
  });
});

describe('the legacy /api/v1/proxy prefix', () => {
  it.each([
    ['a pod', '/api/v1/proxy/namespaces/claims/pods/intake-0/metrics', 'proxy pods/intake-0'],
    [
      'the permitted service (a permit for the subresource is not one for the prefix)',
      '/api/v1/proxy/namespaces/claims/services/web/healthz',
      'proxy services/web',
    ],
    ['secrets', '/api/v1/proxy/namespaces/claims/secrets/db', 'proxy secrets/db'],
  ])('denies %s as the verb proxy, which needs a permit', async (_name, target, what) => {
    await expectDenied(
      { target },
      {
        code: 403,
        reason: 'Forbidden',
        message: `${what} in namespace claims needs a policy that permits it, and none does`,
        stage: 'guardrail',
        verb: 'proxy',
      },
    );
  });

  it('denies a node through the legacy prefix as cluster-scoped', async () => {
    await expectDenied(
      { target: '/api/v1/proxy/nodes/node-1/stats' },
      {
        code: 403,
        reason: 'Forbidden',
        message: 'proxy on cluster-scoped nodes is outside the grant (namespaces claims)',
        stage: 'scope',
        verb: 'proxy',
      },
    );
  });

  it('refuses the bare prefix, which the apiserver cannot resolve', async () => {
    await expectDenied(
      { target: '/api/v1/proxy' },
      {
        code: 400,
        reason: 'BadRequest',
        message: 'a watch or proxy path prefix must be followed by a resource',
        stage: 'parse',
      },
    );
  });
});
