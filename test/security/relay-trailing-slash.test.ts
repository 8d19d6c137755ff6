/**
 * Bypass class: trailing slashes and empty segments (issue 6). The apiserver trims the outer slashes of a path and keeps
 * inner empty segments, so `/api/v1/namespaces//pods` shifts every part after the gap, and `secrets/` or `//api/...` is
 * an alias of another path that a guardrail matching on the exact path would miss. The relay refuses them all.
 */
import { describe, it } from 'vitest';
import { bearer } from '../support/relay-raw.ts';
import { expectRefused, podObject, useRelayHarness } from '../support/relay-security.ts';

const relay = useRelayHarness({ objects: [podObject('claims', 'intake-0')] });

async function expectRefusedTarget(target: string, message: string, method = 'GET'): Promise<void> {
  await expectRefused(
    relay.harness,
    { method, target, headers: [bearer(relay.token), ['Content-Length', '0']] },
    {
      status: 400,
      reason: 'BadRequest',
      message: `request path refused: ${message}`,
      stage: 'target',
      details: { method },
      grantId: relay.grant.id,
    },
  );
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
