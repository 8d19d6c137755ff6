/**
 * Bypass class: the API server's proxy (issue 6). `/api/v1/namespaces/{ns}/pods/{name}/proxy/...`, the same for
 * services and nodes, and the legacy `/api/v1/proxy/...` prefix reach into a pod's or a node's own HTTP endpoints,
 * where no guardrail and no masking rule can see what is asked or answered. The relay forwards proxy requests only when
 * a guardrail explicitly permits them, and a permit for one form (the `proxy` subresource) does not open the other (the
 * legacy prefix, which the apiserver resolves to the verb `proxy`) nor a proxied path that climbs out with `..`.
 */
import { describe, expect, it } from 'vitest';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { expectRefused, podObject, useRelayHarness, type ExpectedRefusal } from '../support/relay-security.ts';

/** The one proxy this deployment allows: the `web` service's, through the `proxy` subresource. */
const WEB_PROXY_PERMIT = `
@id("permit-web-service-proxy")
permit (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "services" && resource.name == "web" && resource.subresource == "proxy" };
`;

const relay = useRelayHarness({ policies: WEB_PROXY_PERMIT, objects: [podObject('claims', 'intake-0')] });

/** Sends `request` with the grant's credential; asserts it was refused as `expected`, recorded against the grant. */
async function expectDenied(request: { method?: string; target: string }, expected: ExpectedRefusal): Promise<void> {
  await expectRefused(
    relay.harness,
    { ...request, headers: [bearer(relay.token), ['Content-Length', '0']] },
    { ...expected, grantId: relay.grant.id },
  );
}

/** The guardrails' refusal of `what` in claims for want of a permit. */
function needsPermit(what: string, details?: Record<string, unknown>): ExpectedRefusal {
  return {
    status: 403,
    reason: 'Forbidden',
    message: `${what} in namespace claims needs a policy that permits it, and none does`,
    stage: 'guardrail',
    details,
  };
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
    await expectDenied({ method, target }, needsPermit(what));
  });

  it('forwards the permitted service proxy, exactly as asked', async () => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);
    const target = '/api/v1/namespaces/claims/services/web/proxy/healthz';

    await rawRequest(relay.harness, { target, headers: [bearer(relay.token)] });

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

  it.each([
    [
      'refuses a permitted proxy path that climbs out of the proxy with ..',
      '/api/v1/namespaces/claims/services/web/proxy/../../../secrets/db',
      'dot segment (. or ..) in the path',
    ],
    [
      'refuses a permitted proxy path that climbs out with encoded dots',
      '/api/v1/namespaces/claims/services/web/proxy/%2e%2e/%2e%2e/%2e%2e/secrets/db',
      'percent-encoding in the path',
    ],
  ])('%s', async (_name, target, message) => {
    await expectDenied(
      { target },
      { status: 400, reason: 'BadRequest', message: `request path refused: ${message}`, stage: 'target' },
    );
  });

  it('denies a node proxy as a cluster-scoped request outside a namespaced grant', async () => {
    await expectDenied(
      { target: '/api/v1/nodes/node-1/proxy/stats/summary' },
      {
        status: 403,
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
    await expectDenied({ target }, needsPermit(what, { verb: 'proxy' }));
  });

  it('denies a node through the legacy prefix as cluster-scoped', async () => {
    await expectDenied(
      { target: '/api/v1/proxy/nodes/node-1/stats' },
      {
        status: 403,
        reason: 'Forbidden',
        message: 'proxy on cluster-scoped nodes is outside the grant (namespaces claims)',
        stage: 'scope',
        details: { verb: 'proxy' },
      },
    );
  });

  it('refuses the bare prefix, which the apiserver cannot resolve', async () => {
    await expectDenied(
      { target: '/api/v1/proxy' },
      {
        status: 400,
        reason: 'BadRequest',
        message: 'a watch or proxy path prefix must be followed by a resource',
        stage: 'parse',
      },
    );
  });
});
