/**
 * Secrets Manager rotation function of the approval link key: a new random key becomes AWSCURRENT and the old one
 * AWSPREVIOUS, which the link verifier still accepts, so links sent before a rotation keep working until they expire.
 * The four steps follow https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html;
 * the key is used only by Gatehouse, so there is no downstream service to set or test.
 */
import { randomInt } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

/** What Secrets Manager sends for each rotation step. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: string;
}

/** The rotation cannot go on: Secrets Manager records the failure and the version stays AWSPENDING. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** As long as the key Secrets Manager generates at creation (infra/constructs/approval-secrets.ts). */
const KEY_LENGTH = 64;

/** A new key: 64 letters and digits drawn uniformly from the CSPRNG (`randomInt` rejects biased values). */
export function newLinkKey(): string {
  return Array.from({ length: KEY_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

const client = new SecretsManagerClient({});

export function rotationHandler(sm: Pick<SecretsManagerClient, 'send'>) {
  return async (event: RotationEvent): Promise<void> => {
    const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
    const metadata = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (!metadata.RotationEnabled) throw new RotationError('rotation is not enabled on this secret');
    const stages = metadata.VersionIdsToStages?.[token];
    if (!stages) throw new RotationError('the version to rotate to is not a version of this secret');
    if (stages.includes('AWSCURRENT')) return;
    if (!stages.includes('AWSPENDING')) throw new RotationError('the version to rotate to is not AWSPENDING');

    switch (step) {
      case 'createSecret':
        try {
          await sm.send(
            new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: 'AWSPENDING' }),
          );
        } catch (error) {
          if (!(error instanceof ResourceNotFoundException)) throw error;
          await sm.send(
            new PutSecretValueCommand({
              SecretId: secretId,
              ClientRequestToken: token,
              SecretString: newLinkKey(),
              VersionStages: ['AWSPENDING'],
            }),
          );
        }
        return;
      case 'setSecret':
      case 'testSecret':
        // Only Gatehouse holds this key: nothing else must learn the new value before it becomes current.
        return;
      case 'finishSecret': {
        const current = Object.entries(metadata.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'));
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            ...(current ? { RemoveFromVersionId: current[0] } : {}),
          }),
        );
        return;
      }
      default:
        throw new RotationError('unknown rotation step');
    }
  };
}

export const handler = rotationHandler(client);
