/** DynamoDbApprovalStore on a real DynamoDB-compatible server: conditions, races, and where the task token lives. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbApprovalStore, approvalKeys } from '../../shared/adapters/aws/dynamodb-approval-store.ts';
import { PENDING_APPROVALS_INDEX, StoreError, documentClient } from '../../shared/adapters/aws/tables.ts';
import {
  AlreadyDecidedError,
  ApprovalClosedError,
  ApprovalExistsError,
  ApprovalNotFoundError,
} from '../../shared/approvals/errors.ts';
import type { Approval, ApprovalDecision } from '../../shared/approvals/model.ts';
import { startDynalite } from '../support/dynalite.ts';
import type { Dynalite } from '../support/dynalite.ts';

let db: Dynalite;
let store: DynamoDbApprovalStore;

beforeAll(async () => {
  db = await startDynalite();
  store = new DynamoDbApprovalStore(db.client, db.names.state);
});
afterAll(() => db?.stop());

const TOKEN = 'AAAAKgAAAAIAAAAAAAAAAe1task-token-for-tests';

function approval(requestId: string, overrides: Partial<Approval> = {}): Approval {
  return {
    requestId,
    status: 'pending',
    requirement: { groups: [{ name: 'sre', quorum: 2 }], timeoutSeconds: 900 },
    decisions: [],
    createdAt: '2026-11-23T10:00:00.000Z',
    expiresAt: '2026-11-23T10:15:00.000Z',
    ...overrides,
  };
}

function decision(approverId: string, overrides: Partial<ApprovalDecision> = {}): ApprovalDecision {
  return {
    approverId,
    decision: 'approve',
    channel: 'slack',
    at: '2026-11-23T10:01:00.000Z',
    groups: ['sre'],
    ...overrides,
  };
}

async function rawItem(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
  const { Item } = await documentClient(db.client).send(
    new GetCommand({ TableName: db.names.state, Key: key, ConsistentRead: true }),
  );
  return Item;
}

describe('DynamoDbApprovalStore create and get', () => {
  it('stores a pending approval and reads back the same domain object', async () => {
    const stored = approval('req_create');

    await store.create(stored, TOKEN);

    expect(await store.get('req_create')).toEqual(stored);
  });

  it('keeps the task token in its own item, never in what get returns', async () => {
    await store.create(approval('req_token'), TOKEN);

    const read = await store.get('req_token');

    expect(JSON.stringify(read)).not.toContain(TOKEN);
    expect(await store.taskToken('req_token')).toBe(TOKEN);
    expect(await rawItem(approvalKeys.token('req_token'))).toMatchObject({ taskToken: TOKEN });
    expect(JSON.stringify(await rawItem(approvalKeys.approval('req_token')))).not.toContain(TOKEN);
  });

  it('refuses a second approval for the same request and keeps the first one and its token', async () => {
    await store.create(approval('req_twice'), TOKEN);

    await expect(store.create(approval('req_twice', { createdAt: 'later' }), 'another-token')).rejects.toBeInstanceOf(
      ApprovalExistsError,
    );

    expect((await store.get('req_twice'))?.createdAt).toBe('2026-11-23T10:00:00.000Z');
    expect(await store.taskToken('req_twice')).toBe(TOKEN);
  });

  it('replaces the task token of an approval for a retried wait, and refuses one for a missing approval', async () => {
    await store.create(approval('req_retry'), TOKEN);

    await store.replaceTaskToken('req_retry', 'token-of-the-retry');

    expect(await store.taskToken('req_retry')).toBe('token-of-the-retry');
    expect(await store.get('req_retry')).toEqual(approval('req_retry'));
    await expect(store.replaceTaskToken('req_none', 'x')).rejects.toBeInstanceOf(ApprovalNotFoundError);
  });

  it('answers undefined for an approval and a token that do not exist', async () => {
    expect(await store.get('req_missing')).toBeUndefined();
    expect(await store.taskToken('req_missing')).toBeUndefined();
  });

  it('writes a ttl on both items after the approval expires', async () => {
    await store.create(approval('req_ttl'), TOKEN);

    const expiresAtSeconds = Date.parse('2026-11-23T10:15:00.000Z') / 1000;
    for (const key of [approvalKeys.approval('req_ttl'), approvalKeys.token('req_ttl')]) {
      const ttl = (await rawItem(key))?.ttl as number;
      expect(ttl).toBeGreaterThan(expiresAtSeconds + 365 * 86_400);
    }
  });
});

describe('DynamoDbApprovalStore decisions', () => {
  it('appends decisions in order and returns the approval as it is afterwards', async () => {
    await store.create(approval('req_two'), TOKEN);

    await store.recordDecision('req_two', decision('alice', { reason: 'looks fine' }));
    const after = await store.recordDecision('req_two', decision('bob', { channel: 'email' }));

    expect(after.decisions).toEqual([
      decision('alice', { reason: 'looks fine' }),
      decision('bob', { channel: 'email' }),
    ]);
    expect(await store.get('req_two')).toEqual(after);
  });

  it('refuses a second decision by the same approver, even a different one, and keeps the first', async () => {
    await store.create(approval('req_double'), TOKEN);
    await store.recordDecision('req_double', decision('alice'));

    await expect(
      store.recordDecision('req_double', decision('alice', { decision: 'deny', reason: 'changed my mind' })),
    ).rejects.toBeInstanceOf(AlreadyDecidedError);

    expect((await store.get('req_double'))?.decisions).toEqual([decision('alice')]);
  });

  it('refuses a decision on an approval that does not exist, without creating one', async () => {
    await expect(store.recordDecision('req_nobody', decision('alice'))).rejects.toBeInstanceOf(ApprovalNotFoundError);

    expect(await rawItem(approvalKeys.approval('req_nobody'))).toBeUndefined();
  });

  it('records each of ten approvers racing exactly once, even when each clicks twice', async () => {
    await store.create(approval('req_race'), TOKEN);
    const approvers = Array.from({ length: 10 }, (_, index) => `approver-${index}`);

    const results = await Promise.allSettled(
      [...approvers, ...approvers].map((id) => store.recordDecision('req_race', decision(id))),
    );

    const refused = results.filter((result) => result.status === 'rejected');
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    expect(refused).toHaveLength(10);
    for (const result of refused) expect(result.reason).toBeInstanceOf(AlreadyDecidedError);
    const recorded = (await store.get('req_race'))!.decisions.map((entry) => entry.approverId);
    expect(recorded.toSorted()).toEqual(approvers.toSorted());
  });

  it('lets exactly one of ten racing concludes win, and keeps the winner', async () => {
    await store.create(approval('req_conclude_race'), TOKEN);

    const wins = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        store.conclude(
          'req_conclude_race',
          index % 2 === 0 ? 'approved' : 'denied',
          `outcome ${index}`,
          `2026-11-23T10:02:0${index}.000Z`,
        ),
      ),
    );

    expect(wins.filter(Boolean)).toHaveLength(1);
    const winner = wins.indexOf(true);
    expect(await store.get('req_conclude_race')).toMatchObject({
      status: winner % 2 === 0 ? 'approved' : 'denied',
      outcome: `outcome ${winner}`,
      concludedAt: `2026-11-23T10:02:0${winner}.000Z`,
    });
  });

  it('lets one conclude win while decisions race it, and refuses every decision after it', async () => {
    await store.create(approval('req_mixed_race'), TOKEN);
    const approvers = Array.from({ length: 10 }, (_, index) => `approver-${index}`);

    const [won, ...decided] = await Promise.allSettled([
      store.conclude('req_mixed_race', 'expired', 'no decision within 900 s', '2026-11-23T10:15:00.000Z'),
      ...approvers.map((id) => store.recordDecision('req_mixed_race', decision(id))),
    ]);

    expect(won).toEqual({ status: 'fulfilled', value: true });
    const accepted = decided.filter((result) => result.status === 'fulfilled');
    for (const result of decided.filter((entry) => entry.status === 'rejected')) {
      expect(result.reason).toBeInstanceOf(ApprovalClosedError);
    }
    const final = (await store.get('req_mixed_race'))!;
    expect(final.status).toBe('expired');
    // Only the decisions that landed before the conclude are kept, each once.
    expect(final.decisions).toHaveLength(accepted.length);
    await expect(store.recordDecision('req_mixed_race', decision('late'))).rejects.toBeInstanceOf(ApprovalClosedError);
  });

  it('refuses a decision after the approval concluded, and a repeat by an approver who decided says so', async () => {
    await store.create(approval('req_after'), TOKEN);
    await store.recordDecision('req_after', decision('alice', { decision: 'deny' }));
    expect(await store.conclude('req_after', 'denied', 'denied by alice', '2026-11-23T10:03:00.000Z')).toBe(true);

    await expect(store.recordDecision('req_after', decision('bob'))).rejects.toBeInstanceOf(ApprovalClosedError);
    await expect(store.recordDecision('req_after', decision('alice'))).rejects.toBeInstanceOf(AlreadyDecidedError);

    expect((await store.get('req_after'))?.decisions).toHaveLength(1);
  });

  it('concludes once: a second conclude loses and changes nothing', async () => {
    await store.create(approval('req_once'), TOKEN);

    expect(await store.conclude('req_once', 'approved', 'approved by alice, bob', '2026-11-23T10:04:00.000Z')).toBe(
      true,
    );
    expect(await store.conclude('req_once', 'expired', 'no decision', '2026-11-23T10:15:00.000Z')).toBe(false);

    expect(await store.get('req_once')).toMatchObject({
      status: 'approved',
      outcome: 'approved by alice, bob',
      concludedAt: '2026-11-23T10:04:00.000Z',
    });
  });

  it('refuses to conclude an approval that does not exist, without creating one', async () => {
    await expect(store.conclude('req_none', 'expired', 'x', '2026-11-23T10:04:00.000Z')).rejects.toBeInstanceOf(
      ApprovalNotFoundError,
    );

    expect(await rawItem(approvalKeys.approval('req_none'))).toBeUndefined();
  });

  it('accepts approver ids with dots and dashes as separate approvers', async () => {
    await store.create(approval('req_ids'), TOKEN);

    await store.recordDecision('req_ids', decision('a.b'));
    await store.recordDecision('req_ids', decision('a'));
    await expect(store.recordDecision('req_ids', decision('a.b'))).rejects.toBeInstanceOf(AlreadyDecidedError);

    expect((await store.get('req_ids'))?.decisions.map((entry) => entry.approverId)).toEqual(['a.b', 'a']);
  });
});

describe('DynamoDbApprovalStore errors', () => {
  it('turns an unreachable table into StoreError, with no item content in the message', async () => {
    const broken = new DynamoDbApprovalStore(db.client, 'no-such-table');

    const failures = await Promise.allSettled([
      broken.get('req_x'),
      broken.taskToken('req_x'),
      broken.create(approval('req_x'), TOKEN),
      broken.recordDecision('req_x', decision('alice')),
      broken.conclude('req_x', 'expired', 'x', '2026-11-23T10:04:00.000Z'),
    ]);

    for (const failure of failures) {
      expect(failure.status).toBe('rejected');
      const reason = (failure as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(StoreError);
      expect(reason.message).not.toContain(TOKEN);
    }
  });

  it('undoes the approval when its task token cannot be stored, so a retry can create both', async () => {
    const client = new DynamoDBClient({
      endpoint: db.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    let puts = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = (args.input ?? {}) as { Item?: { sk?: { S?: string } } };
        if (input.Item?.sk?.S === 'TOKEN') {
          puts += 1;
          if (puts === 1) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
        }
        return next(args);
      },
      { step: 'build', name: 'failFirstTokenPut' },
    );
    const flaky = new DynamoDbApprovalStore(client, db.names.state);

    await expect(flaky.create(approval('req_undo'), TOKEN)).rejects.toBeInstanceOf(StoreError);
    expect(await store.get('req_undo')).toBeUndefined();

    await flaky.create(approval('req_undo'), TOKEN);
    expect(await store.taskToken('req_undo')).toBe(TOKEN);
    client.destroy();
  });
});

describe('DynamoDbApprovalStore pending approvals (the pendingApprovals index)', () => {
  // A table of its own, so "exactly the pending ones" is not disturbed by the approvals of the other tests.
  let own: Dynalite;
  let pendingStore: DynamoDbApprovalStore;
  beforeAll(async () => {
    own = await startDynalite();
    pendingStore = new DynamoDbApprovalStore(own.client, own.names.state);
  });
  afterAll(() => own?.stop());

  /** The request ids the index holds, read straight from the index (keys only). */
  async function indexed(): Promise<string[]> {
    const { Items } = await documentClient(own.client).send(
      new QueryCommand({
        TableName: own.names.state,
        IndexName: PENDING_APPROVALS_INDEX.name,
        KeyConditionExpression: 'pendingShard = :shard',
        ExpressionAttributeValues: { ':shard': 'pending' },
      }),
    );
    return (Items ?? []).map((item) => String(item.pk).replace('APPROVAL#', ''));
  }

  it('holds exactly the pending approvals, soonest expiry first, with their task tokens', async () => {
    await pendingStore.create(approval('req_p_late', { expiresAt: '2026-11-23T11:00:00.000Z' }), `${TOKEN}-late`);
    await pendingStore.create(approval('req_p_soon', { expiresAt: '2026-11-23T10:05:00.000Z' }), `${TOKEN}-soon`);
    await pendingStore.create(approval('req_p_done'), `${TOKEN}-done`);
    await pendingStore.conclude('req_p_done', 'approved', 'approved by alice', '2026-11-23T10:02:00.000Z');

    expect(await indexed()).toEqual(['req_p_soon', 'req_p_late']);
    expect(await pendingStore.pendingTaskTokens(100)).toEqual([
      { requestId: 'req_p_soon', taskToken: `${TOKEN}-soon` },
      { requestId: 'req_p_late', taskToken: `${TOKEN}-late` },
    ]);
  });

  it('conclude removes the approval from the index in the same write; a lost conclude leaves it as it is', async () => {
    await pendingStore.create(approval('req_p_end'), TOKEN);
    expect(await indexed()).toContain('req_p_end');

    expect(await pendingStore.conclude('req_p_end', 'denied', 'denied by bob', '2026-11-23T10:03:00.000Z')).toBe(true);
    expect(await pendingStore.conclude('req_p_end', 'expired', 'late', '2026-11-23T10:04:00.000Z')).toBe(false);

    expect(await indexed()).not.toContain('req_p_end');
    const item = await documentClient(own.client).send(
      new GetCommand({ TableName: own.names.state, Key: approvalKeys.approval('req_p_end'), ConsistentRead: true }),
    );
    expect(item.Item).not.toHaveProperty('pendingShard');
    expect(item.Item).toMatchObject({ status: 'denied' });
  });

  it('never shows pendingShard in the domain object, and a replaced token is the one returned', async () => {
    await pendingStore.create(approval('req_p_retry'), `${TOKEN}-first`);
    await pendingStore.replaceTaskToken('req_p_retry', `${TOKEN}-second`);

    expect(await pendingStore.get('req_p_retry')).toEqual(approval('req_p_retry'));
    expect(await pendingStore.pendingTaskTokens(100)).toContainEqual({
      requestId: 'req_p_retry',
      taskToken: `${TOKEN}-second`,
    });
  });

  it('reads at most `limit` across pages', async () => {
    const ids = await pendingStore.pendingTaskTokens(2);
    expect(ids).toHaveLength(2);
    expect(await pendingStore.pendingTaskTokens(1)).toEqual([ids[0]]);
  });
});
