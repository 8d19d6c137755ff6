/**
 * Bypass class: `?watch=1` against a list guardrail (issue 6). A collection GET with a true `watch` value is the verb
 * `watch` to the apiserver (and to its RBAC), not `list`, though its first events are the very objects a list returns.
 * The relay resolves the verb as the apiserver does and hands the guardrails that verb, so a guardrail covers watch when
 * it names watch — the example configuration's secrets guardrail names get, list and watch, and every way of spelling a
 * watch of secrets (values, repeats, the legacy `/watch/` prefix, a field selector naming one object) is denied by it.
 * A guardrail that names list alone is exact: it does not silently cover watch, and the watch it lets through is
 * recorded as a watch. Queries Go and JavaScript would read differently (`;`, bad escapes) are refused outright.
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

/** An operator's guardrail that names the verb list only. */
const LIST_ONLY_GUARDRAIL = `
@id("no-configmap-lists")
forbid (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "configmaps" && context.verb == "list" };
`;

let harness: RelayHarness;
let token: string;
let grantId: string;

beforeAll(async () => {
  harness = await startRelayHarness({ policies: LIST_ONLY_GUARDRAIL });
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'claims' },
    data: { password: Buffer.from('hunter2').toString('base64') },
  });
  harness.api.create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: 'claims' },
    data: { mode: 'a' },
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
  target: string,
  expected: { code: number; reason: string; message: string; stage: string; verb?: string },
): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, { target, headers: [bearer(token)] });

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
    await expectDenied(target, {
      code: 403,
      reason: 'Forbidden',
      message: 'watch secrets in namespace claims is forbidden by policy no-secret-reads',
      stage: 'guardrail',
      verb: 'watch',
    });
  });

  it.each([
    ['a metadata.name field selector', '/api/v1/namespaces/claims/secrets?fieldSelector=metadata.name%3Ddb&watch=1'],
    ['the legacy /watch/ prefix on one object', '/api/v1/watch/namespaces/claims/secrets/db'],
  ])('denies a watch of one secret by %s', async (_name, target) => {
    await expectDenied(target, {
      code: 403,
      reason: 'Forbidden',
      message: 'watch secrets/db in namespace claims is forbidden by policy no-secret-reads',
      stage: 'guardrail',
      verb: 'watch',
    });
  });

  it('denies ?watch=0 before ?watch=1 as the list it is (the first value wins, as in Go)', async () => {
    await expectDenied('/api/v1/namespaces/claims/secrets?watch=0&watch=1', {
      code: 403,
      reason: 'Forbidden',
      message: 'list secrets in namespace claims is forbidden by policy no-secret-reads',
      stage: 'guardrail',
      verb: 'list',
    });
  });

  it('denies ?watch=1 on a named secret as the get the apiserver serves', async () => {
    await expectDenied('/api/v1/namespaces/claims/secrets/db?watch=1', {
      code: 403,
      reason: 'Forbidden',
      message: 'get secrets/db in namespace claims is forbidden by policy no-secret-reads',
      stage: 'guardrail',
      verb: 'get',
    });
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
      code: 400,
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
    await expectDenied(target, {
      code: 403,
      reason: 'Forbidden',
      message: 'list configmaps in namespace claims is forbidden by policy no-configmap-lists',
      stage: 'guardrail',
      verb: 'list',
    });
  });

  it('does not cover ?watch=1, which the relay hands the guardrails, forwards and records as the verb watch', async () => {
    // The relay's verbs are the apiserver's (and RBAC's): list and watch are distinct, and a guardrail covers the verbs
    // it names. An operator who means "no reading the collection" names both, as policies/relay.cedar does for secrets.
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);
    const target = '/api/v1/namespaces/claims/configmaps?watch=1&timeoutSeconds=1';

    const response = await rawRequest(harness, { target, headers: [bearer(token)] }, { timeoutMs: 5000 });

    expect(response.status).toBe(200);
    expect(upstream.since().map((request) => request.url)).toEqual([target]);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(recorded.grantId).toBe(grantId);
    expect(detailsOf(recorded)).toMatchObject({ verb: 'watch', resource: 'configmaps', status: 200 });
    expect(detailsOf(recorded).decision).toEqual({
      policies: [],
      reason: 'watch configmaps in namespace claims is inside the grant and no guardrail forbids it',
    });
  });
});
