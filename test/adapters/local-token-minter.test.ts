import { describe, expect, it } from 'vitest';
import type { DirectGrant, Principal } from '../../shared/model.ts';
import {
  LocalTokenMinter,
  localAccessKeyId,
  verifyLocalToken,
} from '../../shared/adapters/local/local-token-minter.ts';
import { TokenMintError, presignEksToken } from '../../shared/tokens/eks-token.ts';
import { decodeEksToken, tamper, verifyAsIamAuthenticator } from '../support/iam-authenticator-verifier.ts';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const SECRET = 'local-secret-0123456789abcdef0123456789abcdef';
const GRANT_ID = '01JN8ZQ6T5X7C2M4R9B0D3F6H8';
const principal: Principal = {
  id: 'local:ci:demo',
  issuer: 'http://127.0.0.1:4000',
  issuerName: 'local',
  subject: 'ci:demo',
  groups: ['ci'],
};
const grant: DirectGrant = {
  via: 'direct',
  id: GRANT_ID,
  requestId: '01JN8ZQ0000000000000000000',
  principal,
  cluster: 'kind',
  namespaces: ['default'],
  access: 'view',
  accessPolicyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
  slot: { cluster: 'kind', index: 0, roleArn: 'arn:aws:iam::000000000000:role/gatehouse-kind-slot-0' },
  username: `gatehouse:local-ci.demo-${GRANT_ID}`,
  sessionName: `local-ci.demo-${GRANT_ID}`,
  status: 'active',
  createdAt: NOW.toISOString(),
  expiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(),
};

function minter(secret = SECRET): LocalTokenMinter {
  return new LocalTokenMinter({
    secret,
    clusters: (name) => (name === 'kind' ? { region: 'us-east-1', eksClusterName: 'kind-gatehouse' } : undefined),
    clock: { now: () => NOW },
  });
}

describe('LocalTokenMinter', () => {
  it('mints a v1 ExecCredential that verifyLocalToken accepts, naming the grant session', async () => {
    const credential = await minter().mint({ grant, principal });

    const check = verifyLocalToken(credential.status.token, SECRET, 'kind-gatehouse', new Date(NOW.getTime() + 60_000));

    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(credential.status.expirationTimestamp).toBe('2025-03-01T12:14:00Z');
    expect(check).toMatchObject({
      ok: true,
      claims: { accessKeyId: localAccessKeyId(SECRET), stsHost: 'sts.us-east-1.amazonaws.com' },
      session: {
        grantId: GRANT_ID,
        roleArn: grant.slot.roleArn,
        sessionName: grant.sessionName,
        expiresAt: '2025-03-01T12:15:00.000Z',
      },
    });
  });

  it('uses the very format aws-iam-authenticator checks', async () => {
    const { status } = await minter().mint({ grant, principal });

    expect(
      verifyAsIamAuthenticator(status.token, { clusterId: 'kind-gatehouse', secretAccessKey: SECRET, now: NOW }).ok,
    ).toBe(true);
    expect(decodeEksToken(status.token)).toMatch(
      /^https:\/\/sts\.us-east-1\.amazonaws\.com\/\?Action=GetCallerIdentity&/,
    );
  });

  it('does not put the secret in the token', async () => {
    const { status } = await minter().mint({ grant, principal });

    expect(decodeEksToken(status.token)).not.toContain(SECRET);
    expect(status.token).not.toContain(Buffer.from(SECRET).toString('base64url'));
  });

  it('refuses a short secret', () => {
    expect(() => minter('short')).toThrow(TokenMintError);
  });

  it('refuses an unconfigured cluster', async () => {
    await expect(minter().mint({ grant: { ...grant, cluster: 'other' }, principal })).rejects.toBeInstanceOf(
      TokenMintError,
    );
  });
});

describe('verifyLocalToken', () => {
  it('refuses a token minted with another secret', async () => {
    const { status } = await minter(`${SECRET}-other`).mint({ grant, principal });

    expect(verifyLocalToken(status.token, SECRET, 'kind-gatehouse', NOW)).toMatchObject({
      ok: false,
      reason: 'wrong-access-key',
    });
  });

  it('refuses a token for another cluster', async () => {
    const { status } = await minter().mint({ grant, principal });

    expect(verifyLocalToken(status.token, SECRET, 'prod', NOW)).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('refuses a token whose session was rewritten to another grant', async () => {
    const { status } = await minter().mint({ grant, principal });
    const forged = tamper(status.token, (url) => {
      const parsed = new URL(url);
      const raw = parsed.searchParams.get('X-Amz-Security-Token') ?? '';
      const session = JSON.parse(Buffer.from(raw.slice('GHLOCAL1.'.length), 'base64url').toString('utf8'));
      const rewritten = `GHLOCAL1.${Buffer.from(JSON.stringify({ ...session, grantId: 'OTHER' })).toString('base64url')}`;
      return url.replace(raw, rewritten);
    });

    expect(verifyLocalToken(forged, SECRET, 'kind-gatehouse', NOW)).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('refuses a token past its 15 minutes', async () => {
    const { status } = await minter().mint({ grant, principal });

    expect(verifyLocalToken(status.token, SECRET, 'kind-gatehouse', new Date(NOW.getTime() + 900_001))).toMatchObject({
      ok: false,
      reason: 'expired',
    });
  });

  it('refuses a correctly signed token that names no local session', async () => {
    const { token } = await presignEksToken({
      credentials: { accessKeyId: localAccessKeyId(SECRET), secretAccessKey: SECRET },
      region: 'us-east-1',
      clusterName: 'kind-gatehouse',
      now: NOW,
    });

    expect(verifyLocalToken(token, SECRET, 'kind-gatehouse', NOW)).toMatchObject({ ok: false, reason: 'bad-session' });
  });

  it('refuses a correctly signed token whose session has ended', async () => {
    const session = { grantId: GRANT_ID, roleArn: 'r', sessionName: 's', expiresAt: '2025-03-01T12:05:00.000Z' };
    const { token } = await presignEksToken({
      credentials: {
        accessKeyId: localAccessKeyId(SECRET),
        secretAccessKey: SECRET,
        sessionToken: `GHLOCAL1.${Buffer.from(JSON.stringify(session)).toString('base64url')}`,
      },
      region: 'us-east-1',
      clusterName: 'kind-gatehouse',
      now: NOW,
    });

    expect(verifyLocalToken(token, SECRET, 'kind-gatehouse', new Date(NOW.getTime() + 300_000))).toMatchObject({
      ok: false,
      reason: 'session-expired',
    });
    expect(verifyLocalToken(token, SECRET, 'kind-gatehouse', NOW).ok).toBe(true);
  });
});
