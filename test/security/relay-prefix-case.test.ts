/**
 * Bypass class: case tricks in the path and method (issue 6). The apiserver's prefixes, resources and verbs are
 * case-sensitive: `/API/v1/...` is not a resource request, `Secrets` is not `secrets`, and `get` is not `GET`. The relay
 * parses them the same way, so a guardrail keyed on `secrets` is not fooled: a non-resource path it does not allow-list
 * is denied, a resource outside the grant's shape is denied, a lower-case method never gets past the HTTP parser, and a
 * group, version, resource or subresource in another case is refused by the relay itself (the cluster would answer 404).
 */
import { describe, expect, it } from 'vitest';
import { bearer } from '../support/relay-raw.ts';
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
      'refuses an upper-case version before any guardrail is needed',
      '/api/V1/namespaces/claims/secrets',
      'secrets is not a Kubernetes resource name (they are lower case)',
      'scope',
    ],
    [
      'refuses Namespaces as no resource name, never reading it as the namespace claims',
      '/api/v1/Namespaces/claims/secrets',
      'Namespaces is not a Kubernetes resource name (they are lower case)',
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
  it.each([
    ['/api/v1/namespaces/claims/Secrets', 'Secrets is not a Kubernetes resource name (they are lower case)'],
    ['/api/v1/namespaces/claims/secrets/db/Log', 'secrets is not a Kubernetes resource name (they are lower case)'],
    [
      '/apis/Apps/v1/namespaces/claims/deployments',
      'Apps/deployments is not a Kubernetes resource name (they are lower case)',
    ],
  ])('refuses %s at the scope stage, without asking the cluster', async (target, message) => {
    // The apiserver's routes are case-sensitive, so the cluster would answer 404; the relay refuses by itself.
    await expectRefused(
      relay.harness,
      { target, headers: [bearer(relay.token)] },
      { status: 403, reason: 'Forbidden', message, stage: 'scope' },
    );
  });
});
