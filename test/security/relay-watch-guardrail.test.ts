/**
 * Bypass class: `?watch=1` against a list guardrail (issue 6). A collection GET with a true `watch` value is the verb
 * `watch` to the apiserver (and to its RBAC), not `list`, though its first events are the very objects a list returns.
 * The relay resolves the verb as the apiserver does and hands the guardrails that verb, so a guardrail covers watch when
 * it names watch — the example configuration's secrets guardrail names get, list and watch, and every way of spelling a
 * watch of secrets (values, repeats, the legacy `/watch/` prefix, a field selector naming one object) is denied by it.
 * A guardrail that names list alone is exact: it does not silently cover watch, and the watch it lets through is
 * recorded as a watch. Queries Go and JavaScript would read differently (`;`, bad escapes) are refused outright.
 */
import { describe, expect, it } from 'vitest';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { expectRefused, secretObject, useRelayHarness, type ExpectedRefusal } from '../support/relay-security.ts';

/** An operator's guardrail that names the verb list only. */
const LIST_ONLY_GUARDRAIL = `
@id("no-configmap-lists")
forbid (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "configmaps" && context.verb == "list" };
`;

const relay = useRelayHarness({
  policies: LIST_ONLY_GUARDRAIL,
  objects: [
    secretObject('claims'),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'claims' }, data: { mode: 'a' } },
  ],
});

/** Sends `target` with the grant's credential; asserts it was refused as `expected`, recorded against the grant. */
async function expectDenied(target: string, expected: ExpectedRefusal): Promise<void> {
  await expectRefused(
    relay.harness,
    { target, headers: [bearer(relay.token)] },
    { ...expected, grantId: relay.grant.id },
  );
}

/** The guardrail `policy`'s refusal of `what` (`verb resource[/name]`), recorded with that verb. */
function guardrailDenial(what: string, verb: string, policy = 'no-secret-reads'): ExpectedRefusal {
  return {
    status: 403,
    reason: 'Forbidden',
    message: `${what} in namespace claims is forbidden by policy ${policy}`,
    stage: 'guardrail',
    details: { verb },
  };
}

describe('watching secrets past the secrets guardrail (get, list and watch)', () => {
  it.each([
    ['?watch=1', '/api/v1/namespaces/claims/secrets?watch=1'],
    ['?watch=true', '/api/v1/namespaces/claims/secrets?watch=true'],
    ['?watch=True', '/api/v1/namespaces/claims/secrets?watch=True'],
    ['?watch=yes', '/api/v1/namespaces/claims/secrets?watch=yes'],
    ['an empty ?watch=', '/api/v1/namespaces/claims/secrets?watch='],
    ['a bare ?watch', '/api/v1/namespaces/claims/secrets?watch'],
    ['?watch=1 before ?watch=0 (the first value wins, as in Go)', '/api/v1/namespaces/claims/secrets?watch=1&watch=0'],
    ['?watch=1 with resourceVersion=0', '/api/v1/namespaces/claims/secrets?resourceVersion=0&watch=1'],
    ['?watch=1 with a label selector', '/api/v1/namespaces/claims/secrets?labelSelector=app%3Dintake&watch=1'],
    ['the legacy /watch/ prefix', '/api/v1/watch/namespaces/claims/secrets'],
  ])('denies %s as watch secrets', async (_name, target) => {
    await expectDenied(target, guardrailDenial('watch secrets', 'watch'));
  });

  it.each([
    ['a metadata.name field selector', '/api/v1/namespaces/claims/secrets?fieldSelector=metadata.name%3Ddb&watch=1'],
    ['the legacy /watch/ prefix on one object', '/api/v1/watch/namespaces/claims/secrets/db'],
  ])('denies a watch of one secret by %s', async (_name, target) => {
    await expectDenied(target, guardrailDenial('watch secrets/db', 'watch'));
  });

  it.each([
    [
      'denies ?watch=0 before ?watch=1 as the list it is (the first value wins, as in Go)',
      '/api/v1/namespaces/claims/secrets?watch=0&watch=1',
      'list secrets',
      'list',
    ],
    [
      'denies ?watch=1 on a named secret as the get the apiserver serves',
      '/api/v1/namespaces/claims/secrets/db?watch=1',
      'get secrets/db',
      'get',
    ],
  ])('%s', async (_name, target, what, verb) => {
    await expectDenied(target, guardrailDenial(what, verb));
  });

  it.each([
    [
      'watch=0;watch=1 (Go drops the pair, URLSearchParams keeps it)',
      '/api/v1/namespaces/claims/secrets?watch=0;watch=1',
      'semicolon in the query',
    ],
    [
      'watch=%zz&watch=1 (Go drops the first pair)',
      '/api/v1/namespaces/claims/secrets?watch=%zz&watch=1',
      'malformed percent-encoding in the query',
    ],
    [
      'watch=%ff&watch=1 (Go keeps the byte, JavaScript replaces it)',
      '/api/v1/namespaces/claims/configmaps?watch=%ff&watch=0',
      'percent-encoding in the query is not UTF-8',
    ],
  ])('refuses %s, which two parsers would read as two verbs', async (_name, target, message) => {
    await expectDenied(target, {
      status: 400,
      reason: 'BadRequest',
      message: `request path refused: ${message}`,
      stage: 'target',
    });
  });
});

describe('a guardrail that names list only', () => {
  it.each([
    ['a plain list', '/api/v1/namespaces/claims/configmaps'],
    ['?watch=0', '/api/v1/namespaces/claims/configmaps?watch=0'],
    ['?watch=false', '/api/v1/namespaces/claims/configmaps?watch=false'],
    ['?watch=FALSE (compared case-insensitively, as Go does)', '/api/v1/namespaces/claims/configmaps?watch=FALSE'],
  ])('denies %s as list', async (_name, target) => {
    await expectDenied(target, guardrailDenial('list configmaps', 'list', 'no-configmap-lists'));
  });

  it('does not cover ?watch=1, which the relay hands the guardrails, forwards and records as the verb watch', async () => {
    // The relay's verbs are the apiserver's (and RBAC's): list and watch are distinct, and a guardrail covers the verbs
    // it names. An operator who means "no reading the collection" names both, as policies/relay.cedar does for secrets.
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);
    const target = '/api/v1/namespaces/claims/configmaps?watch=1&timeoutSeconds=1';

    const response = await rawRequest(relay.harness, { target, headers: [bearer(relay.token)] }, { timeoutMs: 5000 });

    expect(response.status).toBe(200);
    expect(upstream.since().map((request) => request.url)).toEqual([target]);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(recorded.grantId).toBe(relay.grant.id);
    expect(detailsOf(recorded)).toMatchObject({ verb: 'watch', resource: 'configmaps', status: 200 });
    expect(detailsOf(recorded).decision).toEqual({
      policies: [],
      reason: 'watch configmaps in namespace claims is inside the grant and no guardrail forbids it',
    });
  });
});
