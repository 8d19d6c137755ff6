import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_TABLE, STATE_TABLE, createTables, stateKeys, timeIndexKeys } from '../../shared/adapters/aws/tables.ts';
import { startDynalite } from '../support/dynalite.ts';
import type { Dynalite } from '../support/dynalite.ts';

let db: Dynalite;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db?.stop());

describe('createTables', () => {
  it('creates the events table keyed by stream and seq with the byTime index', async () => {
    const { Table } = await db.client.send(new DescribeTableCommand({ TableName: db.names.events }));

    expect(Table!.KeySchema).toEqual([
      { AttributeName: 'stream', KeyType: 'HASH' },
      { AttributeName: 'seq', KeyType: 'RANGE' },
    ]);
    expect(Table!.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'seq', AttributeType: 'N' },
        { AttributeName: 'day', AttributeType: 'S' },
        { AttributeName: 'timeId', AttributeType: 'S' },
      ]),
    );
    expect(Table!.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byTime',
        KeySchema: [
          { AttributeName: 'day', KeyType: 'HASH' },
          { AttributeName: 'timeId', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      }),
    ]);
  });

  it('creates the state table keyed by pk and sk, and the idempotency table keyed by id', async () => {
    const state = await db.client.send(new DescribeTableCommand({ TableName: db.names.state }));
    const idempotency = await db.client.send(new DescribeTableCommand({ TableName: db.names.idempotency }));

    expect(state.Table!.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(idempotency.Table!.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
  });

  it('gives the state table the sparse pendingApprovals index, keys only, as the CDK stack does', async () => {
    const { Table } = await db.client.send(new DescribeTableCommand({ TableName: db.names.state }));

    expect(Table!.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'pendingApprovals',
        KeySchema: [
          { AttributeName: 'pendingShard', KeyType: 'HASH' },
          { AttributeName: 'expiresAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      }),
    ]);
  });

  it('keeps existing tables when run again, as the local runtime does at every start', async () => {
    await expect(createTables(db.client, db.names)).resolves.toBeUndefined();
  });
});

describe('key helpers', () => {
  it('spell the fixed key names and formats the CDK stack uses', () => {
    expect(EVENTS_TABLE).toMatchObject({ partitionKey: 'stream', sortKey: 'seq' });
    expect(STATE_TABLE).toEqual({ partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl' });
    expect(stateKeys.request('req_1')).toEqual({ pk: 'REQUEST#req_1', sk: 'REQUEST' });
    expect(stateKeys.grant('grt_1')).toEqual({ pk: 'GRANT#grt_1', sk: 'GRANT' });
    expect(stateKeys.slot('prod', 7)).toEqual({ pk: 'SLOT#prod', sk: '007' });
    expect(timeIndexKeys({ time: '2025-03-01T23:59:59.999Z', id: '01JN' })).toEqual({
      day: '2025-03-01',
      timeId: '2025-03-01T23:59:59.999Z#01JN',
    });
  });
});
