import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLinkStore, LINK_RETENTION_DAYS, linkKey } from '../../shared/adapters/aws/dynamodb-link-store.ts';
import { StoreError, documentClient } from '../../shared/adapters/aws/tables.ts';
import {
  LinkAlreadyUsedError,
  LinkExistsError,
  LinkExpiredError,
  LinkNotFoundError,
} from '../../shared/approvals/email-link.ts';
import type { StoredLinkInput } from '../../shared/approvals/email-link.ts';
import { startDynalite } from '../support/dynalite.ts';
import type { Dynalite } from '../support/dynalite.ts';

let db: Dynalite;
let store: DynamoDbLinkStore;

beforeAll(async () => {
  db = await startDynalite();
  store = new DynamoDbLinkStore(db.client, db.names.state);
});
afterAll(() => db?.stop());

const NOW = new Date('2025-03-01T12:00:00.000Z');
const EXPIRES_AT = '2025-03-01T13:00:00.000Z';
let counter = 0;

/** A fresh link id per test, so tests share one table without seeing each other's items. */
function newLink(overrides: Partial<StoredLinkInput> = {}): StoredLinkInput {
  counter += 1;
  return {
    linkId: `apl_01JN8ZQ6T5X7C2M4R9B0D3${String(counter).padStart(4, '0')}`,
    requestId: 'req_01JN8ZQ0000000000000000000',
    approverId: 'alice',
    expiresAt: EXPIRES_AT,
    ...overrides,
  };
}

async function rawItem(linkId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await documentClient(db.client).send(
    new GetCommand({ TableName: db.names.state, Key: linkKey(linkId) }),
  );
  return Item;
}

describe('DynamoDbLinkStore', () => {
  it('stores a link under LINK#<linkId>/LINK with a ttl 30 days after its expiry, and reads it back', async () => {
    const link = newLink();

    await store.create(link);

    expect(await store.get(link.linkId)).toEqual(link);
    expect(await rawItem(link.linkId)).toEqual({
      ...link,
      pk: `LINK#${link.linkId}`,
      sk: 'LINK',
      ttl: Date.parse(EXPIRES_AT) / 1000 + LINK_RETENTION_DAYS * 86_400,
    });
  });

  it('returns undefined for a link that was never stored', async () => {
    expect(await store.get('apl_01JN8ZQ6T5X7C2M4R9B0D3ZZZZ')).toBeUndefined();
  });

  it('refuses to overwrite an existing link, so a used link can never be reset', async () => {
    const link = newLink();
    await store.create(link);
    await store.consume(link.linkId, NOW);

    await expect(store.create(link)).rejects.toBeInstanceOf(LinkExistsError);

    expect((await store.get(link.linkId))?.usedAt).toBe(NOW.toISOString());
  });

  it('consumes an unused link once, recording when', async () => {
    const link = newLink();
    await store.create(link);

    const consumed = await store.consume(link.linkId, NOW);

    expect(consumed).toEqual({ ...link, usedAt: NOW.toISOString() });
    expect(await store.get(link.linkId)).toEqual({ ...link, usedAt: NOW.toISOString() });
  });

  it('refuses a second consume with LinkAlreadyUsedError and keeps the first use time', async () => {
    const link = newLink();
    await store.create(link);
    await store.consume(link.linkId, NOW);

    const later = new Date(NOW.getTime() + 5_000);
    await expect(store.consume(link.linkId, later)).rejects.toBeInstanceOf(LinkAlreadyUsedError);

    expect((await store.get(link.linkId))?.usedAt).toBe(NOW.toISOString());
  });

  it('lets exactly one of many racing consumes win', async () => {
    const link = newLink();
    await store.create(link);

    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) => store.consume(link.linkId, new Date(NOW.getTime() + index))),
    );

    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result) => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(7);
    for (const result of lost) expect(result.reason).toBeInstanceOf(LinkAlreadyUsedError);
    const winner = (won[0] as PromiseFulfilledResult<{ usedAt?: string }>).value;
    expect((await store.get(link.linkId))?.usedAt).toBe(winner.usedAt);
  });

  it('refuses to consume a link at or after its expiry, and leaves it unused', async () => {
    const link = newLink();
    await store.create(link);

    await expect(store.consume(link.linkId, new Date(EXPIRES_AT))).rejects.toBeInstanceOf(LinkExpiredError);

    expect((await store.get(link.linkId))?.usedAt).toBeUndefined();
  });

  it('reports a used link as used even after it expires', async () => {
    const link = newLink();
    await store.create(link);
    await store.consume(link.linkId, NOW);

    await expect(store.consume(link.linkId, new Date('2025-03-02T00:00:00.000Z'))).rejects.toBeInstanceOf(
      LinkAlreadyUsedError,
    );
  });

  it('normalises the expiry to ISO-8601 UTC with milliseconds, so the expiry condition compares instants', async () => {
    const link = newLink({ expiresAt: '2025-03-01T14:00:00+01:00' });
    await store.create(link);

    expect((await store.get(link.linkId))?.expiresAt).toBe(EXPIRES_AT);
    await expect(store.consume(link.linkId, new Date('2025-03-01T12:59:59.999Z'))).resolves.toMatchObject({
      usedAt: '2025-03-01T12:59:59.999Z',
    });
  });

  it('refuses to consume a link that does not exist with LinkNotFoundError, creating nothing', async () => {
    const linkId = 'apl_01JN8ZQ6T5X7C2M4R9B0D3YYYY';

    await expect(store.consume(linkId, NOW)).rejects.toBeInstanceOf(LinkNotFoundError);

    expect(await rawItem(linkId)).toBeUndefined();
  });

  it('turns an unreachable table into StoreError naming only the link id', async () => {
    const broken = new DynamoDbLinkStore(
      new DynamoDBClient({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
        maxAttempts: 1,
      }),
      db.names.state,
    );
    const link = newLink();

    await expect(broken.create(link)).rejects.toBeInstanceOf(StoreError);
    await expect(broken.get(link.linkId)).rejects.toThrow(`approval link ${link.linkId} could not be read`);
    await expect(broken.consume(link.linkId, NOW)).rejects.toBeInstanceOf(StoreError);
  });
});
