import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

/** Reads secrets once per process; the value never appears in an error. */
export class SecretsManagerSecrets {
  private readonly cache = new Map<string, Promise<string | undefined>>();

  constructor(private readonly client: SecretsManagerClient = new SecretsManagerClient({})) {}

  /** The secret's value at a stage; undefined when that stage does not exist (no AWSPREVIOUS before a rotation). */
  value(secretArn: string, stage: 'AWSCURRENT' | 'AWSPREVIOUS' = 'AWSCURRENT'): Promise<string | undefined> {
    const key = `${secretArn}#${stage}`;
    let cached = this.cache.get(key);
    if (!cached) {
      cached = this.fetch(secretArn, stage);
      this.cache.set(key, cached);
      cached.catch(() => this.cache.delete(key));
    }
    return cached;
  }

  private async fetch(secretArn: string, stage: string): Promise<string | undefined> {
    try {
      const result = await this.client.send(new GetSecretValueCommand({ SecretId: secretArn, VersionStage: stage }));
      return result.SecretString || undefined;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException' && stage !== 'AWSCURRENT') return undefined;
      throw new SecretUnavailableError(`a secret could not be read (${(error as Error).name})`);
    }
  }
}
