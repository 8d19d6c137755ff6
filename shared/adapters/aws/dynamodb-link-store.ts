import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  LinkAlreadyUsedError,
  LinkExistsError,
  LinkExpiredError,
  LinkNotFoundError,
} from '../../approvals/email-link.ts';
import type { LinkStore, StoredLink, StoredLinkInput } from '../../approvals/email-link.ts';
import { STATE_TABLE, StoreError, documentClient, isConditionalCheckFailed } from './tables.ts';

/**
 * How long a link item outlives its expiry before DynamoDB's TTL may delete it: long enough for a late click to get
 * "expired" or "already used" rather than "no such link"; the lasting record is the audit events.
 */
export const LINK_RETENTION_DAYS = 30;

const DAY_MS = 86_400_000;

/** State-table keys of an approval link. */
export function linkKey(linkId: string): { pk: string; sk: string } {
  return { pk: `LINK#${linkId}`, sk: 'LINK' };
}

/**
 * Approval links in the state table, one item each (`pk = LINK#<linkId>`, `sk = LINK`): the link, `usedAt` once
 * consumed, and `ttl`. Only the first `consume` of a link succeeds, by a conditional update.
 */
export class DynamoDbLinkStore implements LinkStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async create(link: StoredLinkInput): Promise<void> {
    const expiresAtMs = Date.parse(link.expiresAt);
    if (!Number.isFinite(expiresAtMs)) throw new StoreError(`approval link ${link.linkId} has no valid expiry`);
    const item: StoredLinkInput = {
      linkId: link.linkId,
      requestId: link.requestId,
      approverId: link.approverId,
      // One format, so the string comparison in `consume` orders instants correctly.
      expiresAt: new Date(expiresAtMs).toISOString(),
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...item,
            ...linkKey(link.linkId),
            [STATE_TABLE.ttlAttribute]: Math.ceil((expiresAtMs + LINK_RETENTION_DAYS * DAY_MS) / 1000),
          },
          // A link id is never reused: overwriting one could clear its `usedAt` and make a used link usable again.
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new LinkExistsError(link.linkId);
      throw new StoreError(`approval link ${link.linkId} could not be stored`, { cause: error });
    }
  }

  async get(linkId: string): Promise<StoredLink | undefined> {
    try {
      const { Item } = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: linkKey(linkId), ConsistentRead: true }),
      );
      return Item && fromItem(Item);
    } catch (error) {
      throw new StoreError(`approval link ${linkId} could not be read`, { cause: error });
    }
  }

  async consume(linkId: string, at: Date): Promise<StoredLink> {
    const usedAt = at.toISOString();
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: linkKey(linkId),
          UpdateExpression: 'SET usedAt = :at',
          // All three in one condition, so the check and the mark are one atomic step: two racing POSTs cannot both
          // see the link unused.
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(usedAt) AND expiresAt > :at',
          ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey },
          ExpressionAttributeValues: { ':at': usedAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(result.Attributes!);
    } catch (error) {
      if (!isConditionalCheckFailed(error)) {
        throw new StoreError(`approval link ${linkId} could not be consumed`, { cause: error });
      }
    }
    // The condition failed: say which part, from a fresh read. A used link stays "used" even once it has expired.
    const link = await this.get(linkId);
    if (link === undefined) throw new LinkNotFoundError(linkId);
    if (link.usedAt !== undefined) throw new LinkAlreadyUsedError(linkId);
    throw new LinkExpiredError(linkId);
  }
}

function fromItem(item: Record<string, unknown>): StoredLink {
  const { pk: _pk, sk: _sk, ttl: _ttl, ...link } = item;
  return link as unknown as StoredLink;
}
