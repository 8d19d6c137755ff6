import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbChainStore } from '../../shared/adapters/aws/dynamodb-chain-store.ts';
import { StoreError } from '../../shared/adapters/aws/tables.ts';
import { AuditLog, AuditWriteError, ChainConflictError } from '../../shared/audit/audit-log.ts';
import type { ChainStore } from '../../shared/audit/audit-log.ts';
import { buildEvent, verifyChain } from '../../shared/audit/chain.ts';
import type { AuditEventInput } from '../../shared/audit/event.ts';
import type { Clock, Ids } from '../../shared/ports.ts';
import { startDynalite } from '../support/dynalite.ts';
import type { Dynalite } from '../support/dynalite.ts';

let db: Dynalite;
let store: DynamoDbChainStore;

beforeAll(async () => {
  db = await startDynalite();
  store = new DynamoDbChainStore(db.client, db.names.events);
});
afterAll(() => db?.stop());

function fixedClock(iso: string): Clock {
  return { now: () => new Date(iso) };
}
function counterIds(prefix: string): Ids {
  let n = 0;
  return { next: () => `${prefix}-${String(++n).padStart(4, '0')}` };
}
function event(stream: string, details: Record<string, unknown> = {}): AuditEventInput {
  return {
    type: 'token.issued',
    stream,
    actor: { id: 'github:repo:acme/api', groups: ['ci'], ci: { repository: 'acme/api' } },
    subject: { cluster: 'prod', namespace: 'payments', resource: 'pods' },
    sessionId: 'ses_1',
    details,
  };
}

describe('DynamoDbChainStore with AuditLog', () => {
  it('appends events whose chain verifies when read back', async () => {
    const log = new AuditLog(store, fixedClock('2025-03-01T12:00:00.000Z'), counterIds('a'));

    const written = [];
    for (let i = 0; i < 3; i++) {
      written.push(
        await log.append(event('session/ses_1', { verb: 'get', count: i, masked: ['data.ssn'], none: null })),
      );
    }
    const read = await store.queryEvents('session/ses_1');

    expect(read).toEqual(written);
    expect(read.map((e) => e.chain.seq)).toEqual([1, 2, 3]);
    expect(verifyChain(read)).toEqual([]);
    expect(await store.head('session/ses_1')).toEqual({ seq: 3, hash: written[2]!.chain.hash });
  });

  it('has no head for a stream with no events', async () => {
    expect(await store.head('session/never')).toBeUndefined();
    expect(await store.queryEvents('session/never')).toEqual([]);
  });

  it('gives 20 concurrent writers on one stream seqs 1..20 and a chain without a fork', async () => {
    const stream = 'grant/grt_concurrent';
    let conflicts = 0;
    const counting: ChainStore = {
      head: (s) => store.head(s),
      put: (e) =>
        store.put(e).catch((error: unknown) => {
          if (error instanceof ChainConflictError) conflicts++;
          throw error;
        }),
    };
    // Separate AuditLog instances stand for separate Lambda invocations: they share nothing but the table.
    const writers = Array.from(
      { length: 20 },
      (_, i) => new AuditLog(counting, fixedClock('2025-03-01T12:00:00.000Z'), counterIds(`w${i}`)),
    );

    const appended = await Promise.all(writers.map((log, i) => log.append(event(stream, { writer: i }))));
    const read = await store.queryEvents(stream);

    expect(appended.map((e) => e.chain.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(read).toHaveLength(20);
    expect(new Set(read.map((e) => e.details!.writer)).size).toBe(20);
    expect(verifyChain(read)).toEqual([]);
    // The writers really raced: the conditional put turned lost races into retries, not forks.
    expect(conflicts).toBeGreaterThan(0);
  });

  it('refuses a direct put of a seq that is already stored', async () => {
    const log = new AuditLog(store, fixedClock('2025-03-01T12:00:00.000Z'), counterIds('d'));
    const first = await log.append(event('request/req_dup'));
    const rival = buildEvent(event('request/req_dup', { forged: true }), undefined, 'rival', new Date());

    await expect(store.put(rival)).rejects.toBeInstanceOf(ChainConflictError);
    expect(await store.queryEvents('request/req_dup')).toEqual([first]);
  });

  it('lists a day’s events in time order from the byTime index', async () => {
    const stream = 'auth/2025-04-02';
    const early = new AuditLog(store, fixedClock('2025-04-02T08:00:00.000Z'), counterIds('t1'));
    const late = new AuditLog(store, fixedClock('2025-04-02T17:30:00.000Z'), counterIds('t2'));
    const nextDay = new AuditLog(store, fixedClock('2025-04-03T00:00:00.000Z'), counterIds('t3'));
    const second = await late.append(event(stream));
    const first = await early.append(event('request/req_other_day'));
    await nextDay.append(event(stream));

    expect(await store.queryDay('2025-04-02')).toEqual([first, second]);
    expect(await store.queryDay('2025-04-02', '2025-04-02T12:00:00.000Z')).toEqual([second]);
  });
});

describe('audit store unavailable', () => {
  it('fails closed: AuditWriteError, from a StoreError, when the table cannot be reached', async () => {
    const own = await startDynalite();
    const client = new DynamoDBClient({
      endpoint: own.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' },
      maxAttempts: 1,
    });
    const log = new AuditLog(
      new DynamoDbChainStore(client, own.names.events),
      fixedClock('2025-03-01T12:00:00.000Z'),
      counterIds('x'),
    );
    await log.append(event('request/req_down'));

    await own.stop();
    const failure = log.append(event('request/req_down'));

    await expect(failure).rejects.toBeInstanceOf(AuditWriteError);
    await expect(failure).rejects.toMatchObject({ cause: expect.any(StoreError) });
    client.destroy();
  });

  it('fails closed when the table does not exist', async () => {
    const log = new AuditLog(
      new DynamoDbChainStore(db.client, 'no-such-table'),
      fixedClock('2025-03-01T12:00:00.000Z'),
      counterIds('y'),
    );

    await expect(log.append(event('request/req_missing'))).rejects.toBeInstanceOf(AuditWriteError);
  });
});
