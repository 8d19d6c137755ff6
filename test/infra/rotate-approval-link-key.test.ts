import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { newLinkKey, rotationHandler } from '../../infra/handlers/rotate-approval-link-key.ts';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'us-east-1' });
const rotate = rotationHandler(client);
const SECRET = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:link-key-AbCdEf';
const event = (Step: string) => ({ SecretId: SECRET, ClientRequestToken: 'new', Step });

beforeEach(() => {
  sm.reset();
  sm.on(DescribeSecretCommand).resolves({
    RotationEnabled: true,
    VersionIdsToStages: { old: ['AWSCURRENT'], older: ['AWSPREVIOUS'], new: ['AWSPENDING'] },
  });
});

describe('rotate-approval-link-key', () => {
  it('createSecret puts a new 64-character key as AWSPENDING under the request token', async () => {
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'no pending', $metadata: {} }));
    await rotate(event('createSecret'));
    const puts = sm.commandCalls(PutSecretValueCommand);
    expect(puts).toHaveLength(1);
    expect(puts[0]!.args[0].input).toMatchObject({
      SecretId: SECRET,
      ClientRequestToken: 'new',
      VersionStages: ['AWSPENDING'],
    });
    expect(puts[0]!.args[0].input.SecretString).toMatch(/^[A-Za-z0-9]{64}$/);
  });

  it('createSecret keeps a pending key that already exists (a retried step)', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'x'.repeat(64) });
    await rotate(event('createSecret'));
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('finishSecret moves AWSCURRENT to the new version (Secrets Manager makes the old one AWSPREVIOUS)', async () => {
    await rotate(event('finishSecret'));
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)[0]!.args[0].input).toEqual({
      SecretId: SECRET,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: 'new',
      RemoveFromVersionId: 'old',
    });
  });

  it('setSecret and testSecret change nothing', async () => {
    await rotate(event('setSecret'));
    await rotate(event('testSecret'));
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  it('refuses a secret without rotation, an unknown version, a version not pending, and an unknown step', async () => {
    sm.on(DescribeSecretCommand).resolves({ RotationEnabled: false, VersionIdsToStages: {} });
    await expect(rotate(event('createSecret'))).rejects.toThrow(/not enabled/);
    sm.on(DescribeSecretCommand).resolves({ RotationEnabled: true, VersionIdsToStages: { old: ['AWSCURRENT'] } });
    await expect(rotate(event('createSecret'))).rejects.toThrow(/not a version/);
    sm.on(DescribeSecretCommand).resolves({
      RotationEnabled: true,
      VersionIdsToStages: { old: ['AWSCURRENT'], new: [] },
    });
    await expect(rotate(event('finishSecret'))).rejects.toThrow(/not AWSPENDING/);
    sm.on(DescribeSecretCommand).resolves({ RotationEnabled: true, VersionIdsToStages: { new: ['AWSPENDING'] } });
    await expect(rotate(event('dropSecret'))).rejects.toThrow(/unknown rotation step/);
  });

  it('does nothing when the version is already current', async () => {
    sm.on(DescribeSecretCommand).resolves({ RotationEnabled: true, VersionIdsToStages: { new: ['AWSCURRENT'] } });
    await rotate(event('finishSecret'));
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  it('draws keys from the whole alphabet, never the same twice', () => {
    const keys = Array.from({ length: 50 }, newLinkKey);
    expect(new Set(keys).size).toBe(50);
    expect(new Set(keys.join('')).size).toBe(62);
  });
});
