/**
 * Bypass class: case tricks in the path and method (issue 6). The apiserver's prefixes, resources and verbs are
 * case-sensitive: `/API/v1/...` is not a resource request, `Secrets` is not `secrets`, and `get` is not `GET`. The relay
 * parses them the same way, so a guardrail keyed on `secrets` is not fooled: a non-resource path it does not allow-list
 * is denied, a resource outside the grant's shape is denied, a lower-case method never gets past the HTTP parser, and a
 * resource in another case reaches the cluster as the unknown resource it is.
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

const PASSWORD = 'hunter2-in-claims';

let harness: RelayHarness;
let token: string;
let grantId: string;

beforeAll(async () => {
  harness = await startRelayHarness();
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'claims' },
    data: { password: Buffer.from(PASSWORD).toString('base64') },
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
  expected: { code: number; reason: string; message: string; stage: string },
): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, { ...request, headers: [bearer(token)] });

  expect(response.status).toBe(expected.code);
  expectFailureStatus(response.body, expected.code, expected.reason, expected.message);
  const denied = await waitForDenied(events);
  expect(detailsOf(denied)).toMatchObject({ stage: expected.stage, status: expected.code });
  expect(upstream.since()).toEqual([]);
  expect(response.body).not.toContain(Buffer.from(PASSWORD).toString('base64'));
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
        code: 403,
        reason: 'Forbidden',
        message: `${target} is not a Kubernetes API resource path the relay forwards`,
        stage: 'scope',
      },
    );
    const denied = harness.events.filter((event) => event.type === 'relay.denied').at(-1)!;
    expect(denied.grantId).toBe(grantId);
  });

  it('reads an upper-case version as the apiserver does, so the secrets guardrail still applies', async () => {
    await expectDenied(
      { target: '/api/V1/namespaces/claims/secrets' },
      {
        code: 403,
        reason: 'Forbidden',
        message: 'list secrets in namespace claims is forbidden by policy no-secret-reads',
        stage: 'guardrail',
      },
    );
  });

  it('reads Namespaces as a cluster-scoped resource outside the grant, not as the namespace claims', async () => {
    await expectDenied(
      { target: '/api/v1/Namespaces/claims/secrets' },
      {
        code: 403,
        reason: 'Forbidden',
        message: 'get on cluster-scoped Namespaces is outside the grant (namespaces claims)',
        stage: 'scope',
      },
    );
  });

  it('treats a namespace in another case as another namespace, outside the grant', async () => {
    await expectDenied(
      { target: '/api/v1/namespaces/Claims/secrets' },
      {
        code: 403,
        reason: 'Forbidden',
        message: 'namespace Claims is outside the grant (namespaces claims)',
        stage: 'scope',
      },
    );
  });
});

describe('case tricks in the method', () => {
  it.each([['get'], ['Get'], ['gEt']])(
    'refuses the method %s in the HTTP parser, before any stage, and records it',
    async (method) => {
      const upstream = upstreamMark(harness);
      const events = eventMark(harness);

      const response = await rawRequest(harness, {
        method,
        target: '/api/v1/namespaces/claims/secrets',
        headers: [bearer(token)],
      });

      expect(response.status).toBe(400);
      expectFailureStatus(response.body, 400, 'BadRequest', 'malformed HTTP request refused (HPE_INVALID_METHOD)');
      const denied = await waitForDenied(events);
      expect(denied.actor).toEqual({ id: 'anonymous' });
      expect(detailsOf(denied)).toMatchObject({ stage: 'parse', status: 400 });
      expect(upstream.since()).toEqual([]);
    },
  );
});

describe('case tricks in the resource', () => {
  it('forwards Secrets as the unknown resource it is: the cluster answers 404 and no secret is read', async () => {
    // The apiserver's routes are case-sensitive: `Secrets` is no resource, so the relay's reading (resource
    // "Secrets", not "secrets") is the cluster's too. The guardrail is not needed to stop it, and nothing leaks.
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, {
      target: '/api/v1/namespaces/claims/Secrets',
      headers: [bearer(token)],
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
