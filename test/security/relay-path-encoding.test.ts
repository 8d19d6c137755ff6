/**
 * Bypass class: percent-encoded and double-encoded request paths (issue 6). The apiserver decodes the path once before
 * it splits it, so `pods%2F..%2Fsecrets` or `%73ecrets` is not what a guardrail reading the raw bytes sees, and anything
 * that decodes once more (`%252F`) sees a third path. The relay refuses percent-encoding anywhere in the path, and the
 * query escapes Go and JavaScript read differently, before any credential-bearing request leaves it.
 */
import { describe, expect, it } from 'vitest';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { expectRefused, podObject, secretObject, useRelayHarness } from '../support/relay-security.ts';

const relay = useRelayHarness({
  objects: [secretObject('claims'), podObject('claims', 'intake-0', { labels: { app: 'intake' } })],
});

/** Sends `target` with a valid credential; asserts a 400 Status with `message`, nothing upstream, a `target` denial. */
async function expectRefusedTarget(target: string, message: string): Promise<void> {
  const { denied } = await expectRefused(
    relay.harness,
    { target, headers: [bearer(relay.token), ['Accept', 'application/json']] },
    {
      status: 400,
      reason: 'BadRequest',
      message: `request path refused: ${message}`,
      stage: 'target',
      details: { targetLength: target.length },
      grantId: relay.grant.id,
    },
  );
  // The raw target may carry an attacker's payload: the event keeps its length only.
  expect(JSON.stringify(denied)).not.toContain(target);
}

describe('percent-encoded paths', () => {
  it.each([
    ['an encoded slash that makes pods/../secrets once decoded', '/api/v1/namespaces/claims/pods%2F..%2Fsecrets'],
    ['a lower-case encoded slash inside a name', '/api/v1/namespaces/claims/configmaps/x%2f..%2f..%2fsecrets/db'],
    ['an encoded letter that the apiserver reads as secrets', '/api/v1/namespaces/claims/%73ecrets'],
    ['an encoded letter in the API prefix', '/%61pi/v1/namespaces/claims/secrets/db'],
    ['an encoded namespace outside the grant', '/api/v1/namespaces/%69ntake/pods'],
    ['encoded dot segments', '/api/v1/namespaces/claims/pods/%2E%2E/secrets'],
    ['an overlong UTF-8 slash', '/api/v1/namespaces/claims/pods%c0%afsecrets'],
    ['a malformed escape', '/api/v1/namespaces/claims/pods%zz'],
    ['a lone percent sign', '/api/v1/namespaces/claims/pods/%'],
  ])('refuses %s', async (_name, target) => {
    await expectRefusedTarget(target, 'percent-encoding in the path');
  });

  it.each([
    ['a double-encoded slash', '/api/v1/namespaces/claims/pods%252F..%252Fsecrets'],
    ['a double-encoded letter', '/api/v1/namespaces/claims/%2573ecrets'],
    ['a triple-encoded slash', '/api/v1/namespaces/claims/pods%25252Fsecrets'],
  ])('refuses %s, whatever decodes it next', async (_name, target) => {
    await expectRefusedTarget(target, 'percent-encoding in the path');
  });
});

describe('percent-encoded queries', () => {
  it.each([
    ['a malformed escape Go drops and URLSearchParams keeps', '/api/v1/namespaces/claims/pods?limit=%zz', 'malformed'],
    ['an encoded NUL', '/api/v1/namespaces/claims/pods?labelSelector=app%00', 'control'],
    ['an encoded CR LF (header injection downstream)', '/api/v1/namespaces/claims/pods?x=%0d%0aEvil:1', 'control'],
    ['bytes that are not UTF-8', '/api/v1/namespaces/claims/pods?labelSelector=app%3D%ff', 'utf8'],
  ])('refuses %s', async (_name, target, kind) => {
    const message = {
      malformed: 'malformed percent-encoding in the query',
      control: 'percent-encoded control character in the query',
      utf8: 'percent-encoding in the query is not UTF-8',
    }[kind]!;
    await expectRefusedTarget(target, message);
  });

  it('forwards a well-formed encoded query byte for byte, so the cluster reads the selector the guardrail read', async () => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);
    const target = '/api/v1/namespaces/claims/pods?labelSelector=app%3Dintake';

    const response = await rawRequest(relay.harness, { target, headers: [bearer(relay.token)] });

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).items.map((pod: { metadata: { name: string } }) => pod.metadata.name)).toEqual([
      'intake-0',
    ]);
    expect(upstream.since().map((request) => request.url)).toEqual([target]);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({ verb: 'list', resource: 'pods', status: 200 });
  });
});
