import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GrantNotActiveError } from '../../access/errors.ts';
import type { AccessRequest, Grant } from '../../model.ts';
import type { AccessStore } from '../../ports.ts';
import { STATE_TABLE, StoreError, documentClient, isConditionalCheckFailed, stateKeys } from './tables.ts';

/**
 * How long a request or grant item outlives its expiry before DynamoDB's TTL may delete it. These items serve the
 * API and the lifecycle; the six-year record is the audit events, so a little over a year is plenty.
 */
export const STATE_RETENTION_DAYS = 400;

const DAY_MS = 86_400_000;

/** Access requests and grants in the state table, one item each: the domain object plus its keys and `ttl`. */
export class DynamoDbAccessStore implements AccessStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async putRequest(request: AccessRequest): Promise<void> {
    const expiresAt = Math.max(
      Date.parse(request.createdAt) + request.durationSeconds * 1000,
      Date.parse(request.updatedAt),
    );
    await this.write(`request ${request.id} could not be stored`, () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...request, ...stateKeys.request(request.id), ...ttlAfter(expiresAt) },
        }),
      ),
    );
  }

  async getRequest(id: string): Promise<AccessRequest | undefined> {
    return this.read<AccessRequest>(stateKeys.request(id), `request ${id} could not be read`);
  }

  /**
   * Stores the grant. A revoked grant is final: writing over it throws GrantNotActiveError, so a late write from a
   * slow step can never bring a revoked grant back to life.
   */
  async putGrant(grant: Grant): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...grant, ...stateKeys.grant(grant.id), ...ttlAfter(Date.parse(grant.expiresAt)) },
          ConditionExpression: 'attribute_not_exists(#pk) OR #status <> :revoked',
          ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey, '#status': 'status' },
          ExpressionAttributeValues: { ':revoked': 'revoked' },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new GrantNotActiveError(`grant ${grant.id} is revoked`);
      throw new StoreError(`grant ${grant.id} could not be stored`, { cause: error });
    }
  }

  async getGrant(id: string): Promise<Grant | undefined> {
    const grant = await this.read<Grant>(stateKeys.grant(id), `grant ${id} could not be read`);
    return grant && withVia(grant);
  }

  async markGrantRevoked(
    id: string,
    revokedAt: string,
    revokedBy: string,
    reason: string,
  ): Promise<{ grant: Grant; changed: boolean } | undefined> {
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: stateKeys.grant(id),
          UpdateExpression: 'SET #status = :revoked, revokedAt = :at, revokedBy = :by, revokeReason = :reason',
          // Only an active grant changes, so the first revocation's time, actor and reason are the ones kept.
          ConditionExpression: '#status = :active',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':revoked': 'revoked',
            ':active': 'active',
            ':at': revokedAt,
            ':by': revokedBy,
            ':reason': reason,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { grant: withVia(fromItem<Grant>(result.Attributes!)), changed: true };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) {
        throw new StoreError(`grant ${id} could not be marked revoked`, { cause: error });
      }
    }
    // The condition fails for a grant that is missing or not active: tell the two apart.
    const grant = await this.getGrant(id);
    return grant && { grant, changed: false };
  }

  private async read<T>(key: Record<string, string>, failure: string): Promise<T | undefined> {
    try {
      const { Item } = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      return Item && fromItem<T>(Item);
    } catch (error) {
      throw new StoreError(failure, { cause: error });
    }
  }

  private async write(failure: string, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (error) {
      throw new StoreError(failure, { cause: error });
    }
  }
}

/** `ttl` in epoch seconds, STATE_RETENTION_DAYS after `expiresAtMs`; none when the time is unreadable (kept). */
function ttlAfter(expiresAtMs: number): { ttl?: number } {
  if (!Number.isFinite(expiresAtMs)) return {};
  return { [STATE_TABLE.ttlAttribute]: Math.ceil((expiresAtMs + STATE_RETENTION_DAYS * DAY_MS) / 1000) };
}

/** Grants stored before relay grants existed have no `via`: every one of them is a direct grant with a slot. */
function withVia(grant: Omit<Grant, 'via'> & { via?: Grant['via'] }): Grant {
  return { ...grant, via: grant.via ?? 'direct' } as Grant;
}

function fromItem<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ttl: _ttl, ...domain } = item;
  return domain as T;
}
