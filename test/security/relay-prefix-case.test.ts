/**
 * Bypass class: case tricks in the path and method (issue 6). The apiserver's prefixes, resources and verbs are
 * case-sensitive: `/API/v1/...` is not a resource request, `Secrets` is not `secrets`, and `get` is not `GET`. The relay
 * parses them the same way, so a guardrail keyed on `secrets` is not fooled: a non-resource path it does not allow-list
 * is denied, a resource outside the grant's shape is denied, a lower-case method never gets past the HTTP parser, and a
 * resource in another case reaches the cluster as the unknown resource it is.
 */
import { describe, expect, it } from 'vitest';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { expectRefused, secretObject, useRelayHarness, type ExpectedRefusal } from '../support/relay-security.ts';

const PASSWORD = 'hunter2-in-claims';

const relay = useRelayHarness({ objects: [secretObject('claims', PASSWORD)] });

/** Sends `request` with the grant's credential; asserts it was refused as `expected`, and no secret in the answer. */
async function expectDenied(request: { method?: string; target: string }, expected: ExpectedRefusal): Promise<void> {
  const { body } = await expectRefused(relay.harness, { ...request, headers: [bearer(relay.token)] }, expected);
  expect(body).not.toContain(Buffer.from(PASSWORD).toString('base64'));
}

describe('case tricks in the API prefix', () => {
  it.each([
    ['/API/v1/namespaces/claims/secrets'],
    ['/Api/v1/namespaces/claims/secrets/db'],
    ['/aPi/v1/namespaces/claims/secrets'],
    ['/APIS/apps/v1/namespaces/claims/deployments'],
  ])('denies %s as a non-resource path the relay does not forward', async (target) => {
    await expectDenied(
      { target },
      {
        status: 403,
        reason: 'Forbidden',
        message: `${target} is not a Kubernetes API resource path the relay forwards`,
        stage: 'scope',
      },
    );
    const denied = relay.harness.events.filter((event) => event.type === 'relay.denied').at(-1)!;
    expect(denied.grantId).toBe(relay.grant.id);
  });

  it.each([
    [
      'reads an upper-case version as the apiserver does, so the secrets guardrail still applies',
      '/api/V1/namespaces/claims/secrets',
      'list secrets in namespace claims is forbidden by policy no-secret-reads',
      'guardrail',
    ],
    [
      'reads Namespaces as a cluster-scoped resource outside the grant, not as the namespace claims',
      '/api/v1/Namespaces/claims/secrets',
      'get on cluster-scoped Namespaces is outside the grant (namespaces claims)',
      'scope',
    ],
    [
      'treats a namespace in another case as another namespace, outside the grant',
      '/api/v1/namespaces/Claims/secrets',
      'namespace Claims is outside the grant (namespaces claims)',
      'scope',
    ],
  ])('%s', async (_name, target, message, stage) => {
    await expectDenied({ target }, { status: 403, reason: 'Forbidden', message, stage });
  });
});

describe('case tricks in the method', () => {
  it.each([['get'], ['Get'], ['gEt']])(
    'refuses the method %s in the HTTP parser, before any stage, and records it',
    async (method) => {
      await expectRefused(
        relay.harness,
        { method, target: '/api/v1/namespaces/claims/secrets', headers: [bearer(relay.token)] },
        {
          status: 400,
          reason: 'BadRequest',
          message: 'malformed HTTP request refused (HPE_INVALID_METHOD)',
          stage: 'parse',
          actor: { id: 'anonymous' },
        },
      );
    },
  );
});

describe('case tricks in the resource', () => {
  it('forwards Secrets as the unknown resource it is: the cluster answers 404 and no secret is read', async () => {
    // The apiserver's routes are case-sensitive: `Secrets` is no resource, so the relay's reading (resource
    // "Secrets", not "secrets") is the cluster's too. The guardrail is not needed to stop it, and nothing leaks.
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const response = await rawRequest(relay.harness, {
      target: '/api/v1/namespaces/claims/Secrets',
      headers: [bearer(relay.token)],
    });

    expect(response.status).toBe(404);
    expect(JSON.parse(response.body)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound' });
    expect(response.body).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    expect(upstream.since().map((request) => [request.url, request.status])).toEqual([
      ['/api/v1/namespaces/claims/Secrets', 404],
    ]);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({ verb: 'list', resource: 'Secrets', status: 404 });
  });
});
