import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { DirectGrant, Principal } from '../../shared/model.ts';
import { StsTokenMinter, TokenMintError } from '../../shared/adapters/aws/sts-token-minter.ts';
import { verifyAsIamAuthenticator } from '../support/iam-authenticator-verifier.ts';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const GRANT_ID = '01JN8ZQ6T5X7C2M4R9B0D3F6H8';
const principal: Principal = {
  id: 'github:repo:octo-org/octo-repo:environment:prod',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:octo-org/octo-repo:environment:prod',
  groups: ['ci'],
  ci: { provider: 'github-actions', repository: 'octo-org/octo-repo' },
};
const grant: DirectGrant = {
  via: 'direct',
  id: GRANT_ID,
  requestId: '01JN8ZQ0000000000000000000',
  principal,
  cluster: 'prod',
  namespaces: ['payments'],
  access: 'edit',
  accessPolicyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
  slot: { cluster: 'prod', index: 3, roleArn: 'arn:aws:iam::111122223333:role/gatehouse/prod-slot-3' },
  username: `gatehouse:gh-octo-org.octo-repo-${GRANT_ID}`,
  sessionName: `gh-octo-org.octo-repo-${GRANT_ID}`,
  status: 'active',
  createdAt: NOW.toISOString(),
  expiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(),
};
const SESSION = {
  AccessKeyId: 'ASIASLOTSESSION00001',
  SecretAccessKey: 'slot/session+secret',
  SessionToken: 'IQoJb3JpZ2luX2VjE/slot+token==',
  Expiration: new Date(NOW.getTime() + 900_000),
};

const sts = mockClient(STSClient);
afterEach(() => sts.reset());

function minter(now = NOW): StsTokenMinter {
  return new StsTokenMinter({
    clusters: (name) => (name === 'prod' ? { region: 'eu-central-1', eksClusterName: 'eks-prod-a1' } : undefined),
    clock: { now: () => now },
    stsClientFor: (region) =>
      new STSClient({ region, credentials: { accessKeyId: 'AKIDBASE', secretAccessKey: 'base' } }),
  });
}

describe('StsTokenMinter', () => {
  it('assumes the slot role with the grant session name, source identity, tags and 900 s', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: SESSION });

    await minter().mint({ grant, principal });

    const calls = sts.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      RoleArn: 'arn:aws:iam::111122223333:role/gatehouse/prod-slot-3',
      RoleSessionName: `gh-octo-org.octo-repo-${GRANT_ID}`,
      SourceIdentity: `gh-repo.octo-org.octo-repo.environmen-${GRANT_ID}`,
      Tags: [
        { Key: 'gatehouse:grant-id', Value: GRANT_ID },
        { Key: 'gatehouse:cluster', Value: 'prod' },
        { Key: 'gatehouse:subject', Value: 'github:repo:octo-org/octo-repo:environment:prod' },
      ],
      DurationSeconds: 900,
    });
  });

  it('returns a v1 ExecCredential whose token aws-iam-authenticator accepts for the EKS cluster name', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: SESSION });

    const credential = await minter().mint({ grant, principal });

    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(credential.kind).toBe('ExecCredential');
    expect(credential.status.expirationTimestamp).toBe('2025-03-01T12:14:00Z');
    const check = verifyAsIamAuthenticator(credential.status.token, {
      clusterId: 'eks-prod-a1',
      secretAccessKey: SESSION.SecretAccessKey,
      accessKeyId: SESSION.AccessKeyId,
      region: 'eu-central-1',
      now: new Date(NOW.getTime() + 60_000),
    });
    expect(check).toMatchObject({ ok: true, claims: { hasSessionToken: true, signingRegion: 'eu-central-1' } });
    expect(
      verifyAsIamAuthenticator(credential.status.token, {
        clusterId: 'prod',
        secretAccessKey: SESSION.SecretAccessKey,
        now: NOW,
      }),
    ).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });

  it('ends the credential before the STS session does', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: { ...SESSION, Expiration: new Date(NOW.getTime() + 600_000) } });

    const credential = await minter().mint({ grant, principal });

    expect(credential.status.expirationTimestamp).toBe('2025-03-01T12:09:00Z');
  });

  it('maps an STS refusal to TokenMintError with the code and without any credential', async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { requestId: 'req-123' },
        message: `User: arn:aws:sts::111122223333:assumed-role/token-fn is not authorized; token ${SESSION.SessionToken}`,
      }),
    );

    const error = await minter()
      .mint({ grant, principal })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenMintError);
    expect(error).toMatchObject({ code: 'AccessDenied', retryable: false });
    expect((error as Error).message).toBe(
      `AssumeRole on the slot role of grant ${GRANT_ID} failed: AccessDenied (request req-123)`,
    );
  });

  it('marks throttling retryable', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejects(
        new STSServiceException({ name: 'Throttling', $fault: 'client', $metadata: {}, message: 'Rate exceeded' }),
      );

    await expect(minter().mint({ grant, principal })).rejects.toMatchObject({ code: 'Throttling', retryable: true });
  });

  it('refuses when STS returns no credentials', async () => {
    sts.on(AssumeRoleCommand).resolves({});

    await expect(minter().mint({ grant, principal })).rejects.toBeInstanceOf(TokenMintError);
  });

  it('refuses a cluster that is not configured, without calling STS', async () => {
    await expect(minter().mint({ grant: { ...grant, cluster: 'staging' }, principal })).rejects.toBeInstanceOf(
      TokenMintError,
    );
    expect(sts.calls()).toHaveLength(0);
  });

  it('refuses a session name STS would reject, without calling STS', async () => {
    await expect(minter().mint({ grant: { ...grant, sessionName: 'has/slash' }, principal })).rejects.toBeInstanceOf(
      TokenMintError,
    );
    expect(sts.calls()).toHaveLength(0);
  });
});
