/**
 * The DynamoDB table design, in one place: the CDK stack declares the tables with these key names, `createTables`
 * makes the same tables in dynalite for tests and the local runtime, and the adapters read and write them. Also the
 * helpers those adapters share.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Audit events: one item per event, chains per stream; the stream feeds the S3 archiver. */
export const EVENTS_TABLE = {
  partitionKey: 'stream',
  sortKey: 'seq',
  timeIndex: { name: 'byTime', partitionKey: 'day', sortKey: 'timeId' },
  streamViewType: 'NEW_IMAGE',
} as const;

/** Requests, grants and slot leases. Not the audit record (events are): items expire through `ttl`. */
export const STATE_TABLE = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl' } as const;

/**
 * The state table's sparse index of pending approvals: an approval item carries `pendingShard` only while it is pending,
 * so the heartbeat reads the waiting approvals (soonest expiry first) with a query instead of a scan. Keys only.
 */
export const PENDING_APPROVALS_INDEX = {
  name: 'pendingApprovals',
  partitionKey: 'pendingShard',
  sortKey: 'expiresAt',
  /** The one `pendingShard` value: a handful of approvals wait at a time, far below a partition's limits. */
  shard: 'pending',
} as const;

/** Powertools idempotency records. */
export const IDEMPOTENCY_TABLE = { partitionKey: 'id', ttlAttribute: 'expiration' } as const;

export interface TableNames {
  events: string;
  state: string;
  idempotency: string;
}

/** State-table keys of each item kind. */
export const stateKeys = {
  request: (id: string) => ({ pk: `REQUEST#${id}`, sk: 'REQUEST' }),
  grant: (id: string) => ({ pk: `GRANT#${id}`, sk: 'GRANT' }),
  slot: (cluster: string, index: number) => ({ pk: `SLOT#${cluster}`, sk: String(index).padStart(3, '0') }),
};

/** Events-table attributes of the `byTime` index: the UTC day and `<time>#<id>`, so a day reads in time order. */
export function timeIndexKeys(event: { time: string; id: string }): { day: string; timeId: string } {
  return { day: event.time.slice(0, 10), timeId: `${event.time}#${event.id}` };
}

/**
 * Creates the three tables with the keys above and waits until they are active; a table that already exists is
 * kept, so the local runtime can call this at every start. TTL is not switched on: dynalite has no UpdateTimeToLive,
 * and nothing depends on it but storage cost (the CDK stack enables it in AWS).
 */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  const definitions: CreateTableCommandInput[] = [
    {
      TableName: names.events,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: EVENTS_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: EVENTS_TABLE.sortKey, AttributeType: 'N' },
        { AttributeName: EVENTS_TABLE.timeIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: EVENTS_TABLE.timeIndex.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: EVENTS_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: EVENTS_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: EVENTS_TABLE.timeIndex.name,
          KeySchema: [
            { AttributeName: EVENTS_TABLE.timeIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: EVENTS_TABLE.timeIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: EVENTS_TABLE.streamViewType },
    },
    {
      TableName: names.state,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: STATE_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: STATE_TABLE.sortKey, AttributeType: 'S' },
        { AttributeName: PENDING_APPROVALS_INDEX.partitionKey, AttributeType: 'S' },
        { AttributeName: PENDING_APPROVALS_INDEX.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: STATE_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: STATE_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: PENDING_APPROVALS_INDEX.name,
          KeySchema: [
            { AttributeName: PENDING_APPROVALS_INDEX.partitionKey, KeyType: 'HASH' },
            { AttributeName: PENDING_APPROVALS_INDEX.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    },
    {
      TableName: names.idempotency,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, KeyType: 'HASH' }],
    },
  ];
  for (const definition of definitions) {
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException || (error as Error).name === 'ResourceInUseException')) throw error;
    }
  }
  await Promise.all(definitions.map((definition) => waitUntilActive(client, definition.TableName!)));
}

async function waitUntilActive(client: DynamoDBClient, tableName: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become active in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The state or event store could not be read or written. Its message is safe: no item content, no SDK detail. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A document client that writes domain objects as they are: absent optional fields are left out, not refused. */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

/** True for the error DynamoDB answers a write whose condition did not hold. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === 'ConditionalCheckFailedException';
}
