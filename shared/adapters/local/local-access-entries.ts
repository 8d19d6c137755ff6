import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AccessEntries } from '../../ports.ts';
import { documentClient, StoreError } from '../aws/tables.ts';

/** An access entry as the local relay reads it: who the slot role is in the cluster, and where it may act. */
export interface LocalAccessEntry {
  cluster: string;
  roleArn: string;
  username: string;
  grantId: string;
  policyArn?: string;
  namespaces?: string[];
}

/**
 * EKS access entries for the local runtime, kept in the state table (`pk=ENTRY#<cluster>`, `sk=<role ARN>`), with the
 * same idempotent behaviour as EKS: creating an existing entry for the same username is fine, deleting a missing one too.
 */
export class LocalAccessEntries implements AccessEntries {
  private readonly doc;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async create(input: { cluster: string; roleArn: string; username: string; grantId: string }): Promise<void> {
    const existing = await this.get(input.cluster, input.roleArn);
    if (existing && existing.username !== input.username) {
      throw new StoreError(`slot role of cluster ${input.cluster} still has another grant's access entry`);
    }
    if (existing) return;
    await this.run(() =>
      this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...this.key(input), ...input } })),
    );
  }

  async associatePolicy(input: { cluster: string; roleArn: string; policyArn: string; namespaces: string[] }) {
    if (input.namespaces.length === 0) throw new StoreError('an access policy must be scoped to namespaces');
    await this.run(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(input),
          UpdateExpression: 'SET policyArn = :policy, namespaces = :namespaces',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':policy': input.policyArn, ':namespaces': input.namespaces },
        }),
      ),
    );
  }

  async delete(input: { cluster: string; roleArn: string }): Promise<void> {
    await this.run(() => this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: this.key(input) })));
  }

  /** The entry the local relay checks a token's session against; undefined once revoked. */
  async get(cluster: string, roleArn: string): Promise<LocalAccessEntry | undefined> {
    const result = await this.run(() =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: this.key({ cluster, roleArn }), ConsistentRead: true }),
      ),
    );
    if (!result.Item) return undefined;
    const { pk: _pk, sk: _sk, ...entry } = result.Item;
    return entry as LocalAccessEntry;
  }

  private key(input: { cluster: string; roleArn: string }) {
    return { pk: `ENTRY#${input.cluster}`, sk: input.roleArn };
  }

  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError('the local access-entry store is unavailable');
    }
  }
}
