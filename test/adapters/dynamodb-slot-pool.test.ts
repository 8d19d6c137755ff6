import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSlotPool, SlotPoolConfigError } from '../../shared/adapters/aws/dynamodb-slot-pool.ts';
import { StoreError, documentClient } from '../../shared/adapters/aws/tables.ts';
import type { Clock } from '../../shared/ports.ts';
import { startDynalite } from '../support/dynalite.ts';
import type { Dynalite } from '../support/dynalite.ts';

let db: Dynalite;

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db?.stop());

const NOW = '2025-03-01T12:00:00.000Z';
const UNTIL = '2025-03-01T12:20:00.000Z';

/** A clock the test moves. */
function movableClock(iso = NOW): Clock & { set(iso: string): void } {
  let now = new Date(iso);
  return { now: () => now, set: (next) => void (now = new Date(next)) };
}

const roles = (cluster: string, count: number) =>
  Array.from({ length: count }, (_, i) => `arn:aws:iam::123456789012:role/gatehouse-${cluster}-slot-${i}`);

/** A pool over a cluster of its own, so tests do not share leases. */
function pool(cluster: string, size: number, clock: Clock = movableClock(), random?: () => number) {
  return new DynamoDbSlotPool(db.client, db.names.state, { [cluster]: roles(cluster, size) }, clock, random);
}

describe('DynamoDbSlotPool.lease', () => {
  it('leases every slot of a pool of 2 once, then finds none free', async () => {
    const slots = pool('two', 2);

    const first = await slots.lease('two', 'grt_1', UNTIL);
    const second = await slots.lease('two', 'grt_2', UNTIL);
    const third = await slots.lease('two', 'grt_3', UNTIL);

    expect([first!.index, second!.index].sort()).toEqual([0, 1]);
    expect(first!.roleArn).toBe(roles('two', 2)[first!.index]);
    expect(first!.cluster).toBe('two');
    expect(third).toBeUndefined();
  });

  it('gives 10 concurrent leases on a pool of 3 exactly 3 distinct slots', async () => {
    const slots = pool('three', 3);

    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => slots.lease('three', `grt_${i}`, UNTIL)));

    const leased = results.filter((slot) => slot !== undefined);
    expect(leased).toHaveLength(3);
    expect(new Set(leased.map((slot) => slot.index))).toEqual(new Set([0, 1, 2]));
  });

  it('starts at a random slot and records the lease under the padded index', async () => {
    const slots = pool('offset', 5, movableClock(), () => 0.7);

    const slot = await slots.lease('offset', 'grt_o', UNTIL);

    expect(slot!.index).toBe(3);
    const { Item } = await documentClient(db.client).send(
      new GetCommand({ TableName: db.names.state, Key: { pk: 'SLOT#offset', sk: '003' } }),
    );
    expect(Item).toMatchObject({ grantId: 'grt_o', leasedUntil: UNTIL, leasedAt: NOW, roleArn: slot!.roleArn });
  });

  it('lets a lease be taken over only after its leasedUntil has passed', async () => {
    const clock = movableClock();
    const slots = pool('expiry', 1, clock);
    const held = await slots.lease('expiry', 'grt_old', UNTIL);

    clock.set(UNTIL);
    const atTheInstant = await slots.lease('expiry', 'grt_new', '2025-03-01T13:00:00.000Z');
    clock.set('2025-03-01T12:20:00.001Z');
    const after = await slots.lease('expiry', 'grt_new', '2025-03-01T13:00:00.000Z');

    expect(held!.index).toBe(0);
    expect(atTheInstant).toBeUndefined();
    expect(after).toEqual(held);
    // The old grant's late cleanup must not free the slot its successor now holds.
    await slots.release(held!, 'grt_old');
    expect(await slots.lease('expiry', 'grt_third', '2025-03-01T13:00:00.000Z')).toBeUndefined();
  });

  it('refuses a cluster without a pool and a leasedUntil that is not a time', async () => {
    const slots = pool('known', 1);

    await expect(slots.lease('unknown', 'grt_1', UNTIL)).rejects.toBeInstanceOf(SlotPoolConfigError);
    await expect(slots.lease('toString', 'grt_1', UNTIL)).rejects.toBeInstanceOf(SlotPoolConfigError);
    await expect(slots.lease('known', 'grt_1', 'soon')).rejects.toBeInstanceOf(RangeError);
  });

  it('refuses a pool configuration it cannot serve, listing every problem', () => {
    expect(
      () =>
        new DynamoDbSlotPool(
          db.client,
          db.names.state,
          { empty: [], bad: ['not-an-arn'], huge: roles('huge', 1001) },
          movableClock(),
        ),
    ).toThrow(/empty has no slot roles; cluster bad .*not an ARN; cluster huge has more than 1000/);
  });
});

describe('DynamoDbSlotPool.release', () => {
  it('frees the slot for the next lease', async () => {
    const slots = pool('reuse', 1);
    const slot = await slots.lease('reuse', 'grt_1', UNTIL);
    expect(await slots.lease('reuse', 'grt_2', UNTIL)).toBeUndefined();

    await slots.release(slot!, 'grt_1');

    expect(await slots.lease('reuse', 'grt_2', UNTIL)).toEqual(slot);
  });

  it('is a no-op when another grant holds the slot', async () => {
    const slots = pool('wrong', 1);
    const slot = await slots.lease('wrong', 'grt_holder', UNTIL);

    await slots.release(slot!, 'grt_intruder');

    expect(await slots.lease('wrong', 'grt_other', UNTIL)).toBeUndefined();
    await slots.release(slot!, 'grt_holder');
    expect(await slots.lease('wrong', 'grt_other', UNTIL)).toEqual(slot);
  });

  it('is a no-op for a slot that is already free', async () => {
    const slots = pool('free', 1);
    const slot = { cluster: 'free', index: 0, roleArn: roles('free', 1)[0]! };

    await expect(slots.release(slot, 'grt_1')).resolves.toBeUndefined();
    expect(await slots.lease('free', 'grt_1', UNTIL)).toEqual(slot);
  });
});

describe('DynamoDbSlotPool failures', () => {
  it('turns store failures into StoreError, never into "no free slot"', async () => {
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' },
      maxAttempts: 1,
    });
    const down = new DynamoDbSlotPool(client, db.names.state, { c: roles('c', 2) }, movableClock());
    const slot = { cluster: 'c', index: 0, roleArn: roles('c', 2)[0]! };

    await expect(down.lease('c', 'grt_1', UNTIL)).rejects.toBeInstanceOf(StoreError);
    await expect(down.release(slot, 'grt_1')).rejects.toBeInstanceOf(StoreError);
    client.destroy();
  });
});
