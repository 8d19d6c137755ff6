/**
 * Bypass class: a credential for another cluster (issue 6). A relay fronts one cluster; a grant for `prod` must not
 * open `staging` because both relays trust the same control plane key. Relay credentials name their cluster (`cls`),
 * the verifier refuses any other, and the gate checks that the grant in the store is for the same cluster as the
 * credential. Every refusal is a 401 Status, recorded, with nothing upstream.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RELAY_CLUSTER } from '../support/relay.ts';
import { bearer, detailsOf } from '../support/relay-raw.ts';
import { expectRefused, useRelayHarness } from '../support/relay-security.ts';

const PODS = '/api/v1/namespaces/claims/pods';

const relay = useRelayHarness({ grant: false });

/** Sends a request with `token`; asserts a 401 Status, an `authenticate` denial for this cluster, nothing upstream. */
async function expectUnauthorized(token: string, message: string): Promise<Record<string, unknown>> {
  const { denied } = await expectRefused(
    relay.harness,
    { target: PODS, headers: [bearer(token)] },
    { status: 401, reason: 'Unauthorized', message, stage: 'authenticate' },
  );
  expect(denied.subject).toMatchObject({ cluster: RELAY_CLUSTER });
  return detailsOf(denied);
}

describe('a credential for another cluster', () => {
  it('is refused when it names another cluster, for a grant of this one', async () => {
    const { grant } = await relay.harness.grant();
    const token = await relay.harness.credential(grant, { cluster: 'prod' });

    await expectUnauthorized(
      token,
      'relay credential refused: the relay credential is for another cluster than staging',
    );
  });

  it('is refused for a grant of another cluster', async () => {
    const { token } = await relay.harness.grant({ cluster: 'prod' });

    await expectUnauthorized(
      token,
      'relay credential refused: the relay credential is for another cluster than staging',
    );
  });

  it('is refused when it names this cluster but its grant is for another', async () => {
    const { grant } = await relay.harness.grant({ cluster: 'prod' });
    const token = await relay.harness.credential(grant, { cluster: RELAY_CLUSTER });

    const details = await expectUnauthorized(token, 'the credential does not match its grant');
    expect(details.credential).toMatch(/^sha256:/);
  });

  it('is refused when another deployment’s key signed it', async () => {
    const { token } = await relay.harness.grant();
    const [header = '', payload = ''] = token.split('.');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherHeader = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(header, 'base64url').toString()), kid: 'prod-deployment-key' }),
    ).toString('base64url');
    const input = `${otherHeader}.${payload}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });

    await expectUnauthorized(
      `${input}.${signature.toString('base64url')}`,
      'relay credential refused: the relay credential is signed with a key this relay does not trust',
    );
  });
});
