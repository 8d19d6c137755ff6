/**
 * Bypass class: trailing slashes and empty segments (issue 6). The apiserver trims the outer slashes of a path and keeps
 * inner empty segments, so `/api/v1/namespaces//pods` shifts every part after the gap, and `secrets/` or `//api/...` is
 * an alias of another path that a guardrail matching on the exact path would miss. The relay refuses them all.
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
} from '../support/relay-raw.ts';

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
  ({
    token,
    grant: { id: grantId },
  } = await harness.grant({ namespaces: ['claims'], access: 'edit' }));
});

afterAll(async () => {
  await harness?.close();
});

async function expectRefusedTarget(target: string, message: string, method = 'GET'): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, {
    method,
    target,
    headers: [bearer(token), ['Content-Length', '0']],
  });

  expect(response.status).toBe(400);
  expectFailureStatus(response.body, 400, 'BadRequest', `request path refused: ${message}`);
  const denied = await waitForDenied(events);
  expect(denied.grantId).toBe(grantId);
  expect(detailsOf(denied)).toMatchObject({ stage: 'target', status: 400, method });
  expect(upstream.since()).toEqual([]);
}

describe('trailing slashes', () => {
  it.each([
    ['on a secret list', '/api/v1/namespaces/claims/secrets/'],
    ['on a pod list', '/api/v1/namespaces/claims/pods/'],
    ['on a named object', '/api/v1/namespaces/claims/pods/intake-0/'],
    ['on an exec subresource', '/api/v1/namespaces/claims/pods/intake-0/exec/?command=sh'],
    ['on a service proxy (kubectl proxy form)', '/api/v1/namespaces/claims/services/web/proxy/'],
    ['on discovery', '/api/v1/'],
    ['twice', '/api/v1/namespaces/claims/secrets//'],
  ])('refuses one %s', async (_name, target) => {
    await expectRefusedTarget(target, 'trailing slash in the path');
  });

  it('refuses a trailing slash on a DELETE, where a guardrail on the exact path would be missed', async () => {
    await expectRefusedTarget('/api/v1/namespaces/claims/pods/intake-0/', 'trailing slash in the path', 'DELETE');
  });
});

describe('empty segments', () => {
  it.each([
    ['an empty namespace (the apiserver would shift the resource)', '/api/v1/namespaces//secrets'],
    ['a doubled slash before the resource', '/api/v1/namespaces/claims//secrets'],
    ['a leading doubled slash', '//api/v1/namespaces/claims/secrets'],
    ['a doubled slash after the prefix', '/api//v1/namespaces/claims/pods'],
  ])('refuses %s', async (_name, target) => {
    await expectRefusedTarget(target, 'empty path segment (//)');
  });
});
