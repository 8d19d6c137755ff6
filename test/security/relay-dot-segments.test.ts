/**
 * Bypass class: `.` and `..` segments in the request path (issue 6). The apiserver's RequestInfo does not resolve them
 * (`pods/../secrets` is pod `..` with subresource `secrets`), but URL libraries, proxies and the relay's own upstream
 * client (WHATWG `new URL`) do, so one target would have two readings: the one a guardrail checked and the one the
 * cluster served. The relay refuses every dot segment, and the backslash some parsers read as `/`, before forwarding.
 */
import { describe, it } from 'vitest';
import { bearer } from '../support/relay-raw.ts';
import { expectRefused, secretObject, useRelayHarness } from '../support/relay-security.ts';

const relay = useRelayHarness({ objects: [secretObject('claims')] });

async function expectRefusedTarget(target: string, message: string): Promise<void> {
  await expectRefused(
    relay.harness,
    { target, headers: [bearer(relay.token)] },
    {
      status: 400,
      reason: 'BadRequest',
      message: `request path refused: ${message}`,
      stage: 'target',
      grantId: relay.grant.id,
    },
  );
}

describe('dot segments', () => {
  it.each([
    ['.. from pods to secrets', '/api/v1/namespaces/claims/pods/../secrets/db'],
    ['.. out of a namespace outside the grant into one inside it', '/api/v1/namespaces/intake/../claims/pods'],
    ['.. out of a granted namespace into another', '/api/v1/namespaces/claims/../intake/secrets'],
    ['.. climbing above the API version', '/api/v1/namespaces/claims/pods/../../../../api/v1/secrets'],
    ['.. as the last segment', '/api/v1/namespaces/claims/secrets/db/..'],
    ['. as a segment', '/api/v1/namespaces/claims/./secrets'],
    ['. as the first segment', '/./api/v1/namespaces/claims/secrets'],
    ['. as the last segment', '/api/v1/namespaces/claims/pods/.'],
    ['.. before a query', '/api/v1/namespaces/claims/pods/..?watch=1'],
  ])('refuses %s', async (_name, target) => {
    await expectRefusedTarget(target, 'dot segment (. or ..) in the path');
  });

  it('refuses percent-encoded dot segments as encoding', async () => {
    await expectRefusedTarget('/api/v1/namespaces/claims/pods/%2e%2e/secrets', 'percent-encoding in the path');
  });

  it.each([
    ['a backslash parsers read as a slash', '/api/v1/namespaces/claims/pods\\..\\secrets'],
    ['a backslash before a dot segment', '/api/v1/namespaces/claims/pods/..\\secrets'],
  ])('refuses %s', async (_name, target) => {
    await expectRefusedTarget(target, 'backslash in the request target');
  });

  it('refuses a target that is not origin form, which could name another path or host', async () => {
    await expectRefusedTarget(
      'https://127.0.0.1/api/v1/namespaces/claims/secrets',
      'the request target is not in origin form (absolute URL, authority or *)',
    );
  });
});
