/**
 * Bypass class: `.` and `..` segments in the request path (issue 6). The apiserver's RequestInfo does not resolve them
 * (`pods/../secrets` is pod `..` with subresource `secrets`), but URL libraries, proxies and the relay's own upstream
 * client (WHATWG `new URL`) do, so one target would have two readings: the one a guardrail checked and the one the
 * cluster served. The relay refuses every dot segment, and the backslash some parsers read as `/`, before forwarding.
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
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'claims' },
    data: { password: Buffer.from('hunter2').toString('base64') },
  });
  ({
    token,
    grant: { id: grantId },
  } = await harness.grant({ namespaces: ['claims'], access: 'edit' }));
});

afterAll(async () => {
  await harness?.close();
});

async function expectRefusedTarget(target: string, message: string): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, { target, headers: [bearer(token)] });

  expect(response.status).toBe(400);
  expectFailureStatus(response.body, 400, 'BadRequest', `request path refused: ${message}`);
  const denied = await waitForDenied(events);
  expect(denied.grantId).toBe(grantId);
  expect(detailsOf(denied)).toMatchObject({ stage: 'target', status: 400 });
  expect(upstream.since()).toEqual([]);
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
