/**
 * Bypass class: a credential for another cluster (issue 6). A relay fronts one cluster; a grant for `prod` must not
 * open `staging` because both relays trust the same control plane key. Relay credentials name their cluster (`cls`),
 * the verifier refuses any other, and the gate checks that the grant in the store is for the same cluster as the
 * credential. Every refusal is a 401 Status, recorded, with nothing upstream.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELAY_CLUSTER, startRelayHarness, type RelayHarness } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  rawRequest,
  upstreamMark,
  waitForDenied,
} from '../support/relay-raw.ts';

const PODS = '/api/v1/namespaces/claims/pods';

let harness: RelayHarness;

beforeAll(async () => {
  harness = await startRelayHarness();
});

afterAll(async () => {
  await harness?.close();
});

async function expectRefused(token: string, message: string): Promise<Record<string, unknown>> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const response = await rawRequest(harness, { target: PODS, headers: [bearer(token)] });

  expect(response.status).toBe(401);
  expectFailureStatus(response.body, 401, 'Unauthorized', message);
  const denied = await waitForDenied(events);
  expect(denied.subject).toMatchObject({ cluster: RELAY_CLUSTER });
  expect(detailsOf(denied)).toMatchObject({ stage: 'authenticate', status: 401 });
  expect(upstream.since()).toEqual([]);
  return detailsOf(denied);
}

describe('a credential for another cluster', () => {
  it('is refused when it names another cluster, for a grant of this one', async () => {
    const { grant } = await harness.grant();
    const token = await harness.credential(grant, { cluster: 'prod' });

    await expectRefused(token, 'relay credential refused: the relay credential is for another cluster than staging');
  });

  it('is refused for a grant of another cluster', async () => {
    const { token } = await harness.grant({ cluster: 'prod' });

    await expectRefused(token, 'relay credential refused: the relay credential is for another cluster than staging');
  });

  it('is refused when it names this cluster but its grant is for another', async () => {
    const { grant } = await harness.grant({ cluster: 'prod' });
    const token = await harness.credential(grant, { cluster: RELAY_CLUSTER });

    const details = await expectRefused(token, 'the credential does not match its grant');
    expect(details.credential).toMatch(/^sha256:/);
  });

  it('is refused when another deployment’s key signed it', async () => {
    const { token } = await harness.grant();
    const [header = '', payload = ''] = token.split('.');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherHeader = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(header, 'base64url').toString()), kid: 'prod-deployment-key' }),
    ).toString('base64url');
    const input = `${otherHeader}.${payload}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });

    await expectRefused(
      `${input}.${signature.toString('base64url')}`,
      'relay credential refused: the relay credential is signed with a key this relay does not trust',
    );
  });
});
