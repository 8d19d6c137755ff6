import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantNotActiveError } from '../../shared/access/errors.ts';
import { DynamoDbAccessStore, STATE_RETENTION_DAYS } from '../../shared/adapters/aws/dynamodb-access-store.ts';
import { StoreError, documentClient } from '../../shared/adapters/aws/tables.ts';
import type { AccessRequest, DirectGrant, Principal, RelayGrant } from '../../shared/model.ts';
import { startDynalite } from '../support/dynalite.ts';
import type { Dynalite } from '../support/dynalite.ts';

let db: Dynalite;
let store: DynamoDbAccessStore;

beforeAll(async () => {
  db = await startDynalite();
  store = new DynamoDbAccessStore(db.client, db.names.state);
});
afterAll(() => db?.stop());

const principal: Principal = {
  id: 'github:repo:acme/api:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:acme/api:ref:refs/heads/main',
  groups: ['ci', 'deployers'],
  ci: { provider: 'github-actions', repository: 'acme/api', ref: 'refs/heads/main', runId: '42' },
};

function request(id: string, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id,
    principal,
    cluster: 'prod',
    namespaces: ['payments'],
    access: 'view',
    durationSeconds: 900,
    purpose: 'deploy',
    via: 'direct',
    status: 'pending',
    createdAt: '2025-03-01T12:00:00.000Z',
    updatedAt: '2025-03-01T12:00:00.000Z',
    ...overrides,
  };
}

function grant(id: string, overrides: Partial<DirectGrant> = {}): DirectGrant {
  return {
    via: 'direct',
    id,
    requestId: 'req_1',
    principal,
    cluster: 'prod',
    namespaces: ['payments', 'web'],
    access: 'edit',
    accessPolicyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
    slot: { cluster: 'prod', index: 2, roleArn: 'arn:aws:iam::123456789012:role/gatehouse-prod-slot-2' },
    username: 'gatehouse:acme-api-grt1',
    sessionName: 'acme-api-grt1',
    status: 'active',
    createdAt: '2025-03-01T12:00:00.000Z',
    expiresAt: '2025-03-01T12:15:00.000Z',
    ...overrides,
  };
}

async function rawItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await documentClient(db.client).send(new GetCommand({ TableName: db.names.state, Key: { pk, sk } }));
  return Item;
}

describe('DynamoDbAccessStore requests', () => {
  it('stores a request and reads back the same domain object', async () => {
    const stored = request('req_a', {
      ticket: 'OPS-1',
      decision: { effect: 'permit', policies: ['ci-view'], reason: 'ci may view' },
    });

    await store.putRequest(stored);

    expect(await store.getRequest('req_a')).toEqual(stored);
  });

  it('keeps the item under its keys with a ttl 400 days after the request could end', async () => {
    await store.putRequest(request('req_ttl'));

    const item = await rawItem('REQUEST#req_ttl', 'REQUEST');

    const end = Date.parse('2025-03-01T12:15:00.000Z');
    expect(item).toMatchObject({ pk: 'REQUEST#req_ttl', sk: 'REQUEST' });
    expect(item!.ttl).toBe((end + STATE_RETENTION_DAYS * 86_400_000) / 1000);
  });

  it('replaces a request on a later put (status changes)', async () => {
    await store.putRequest(request('req_b'));
    await store.putRequest(
      request('req_b', { status: 'granted', grantId: 'grt_b', updatedAt: '2025-03-01T12:00:05.000Z' }),
    );

    expect(await store.getRequest('req_b')).toMatchObject({ status: 'granted', grantId: 'grt_b' });
  });

  it('returns undefined for a request that does not exist', async () => {
    expect(await store.getRequest('req_missing')).toBeUndefined();
  });
});

describe('DynamoDbAccessStore grants', () => {
  it('stores a relay grant (no slot) and marks it revoked, which is what the relay reads', async () => {
    const { slot: _slot, accessPolicyArn: _policy, ...common } = grant('grt_relay');
    const relay: RelayGrant = { ...common, via: 'relay', groups: ['gatehouse:edit'] };

    await store.putGrant(relay);
    expect(await store.getGrant('grt_relay')).toEqual(relay);

    const marked = await store.markGrantRevoked('grt_relay', '2025-03-01T12:05:00.000Z', 'ci:x', 'requested');
    expect(marked).toMatchObject({ changed: true, grant: { via: 'relay', status: 'revoked' } });
    expect(await store.getGrant('grt_relay')).toMatchObject({ via: 'relay', status: 'revoked' });
  });

  it('reads a grant stored before grants had `via` as a direct grant, however it is read', async () => {
    const { via: _via, ...legacy } = grant('grt_legacy');
    await documentClient(db.client).send(
      new PutCommand({ TableName: db.names.state, Item: { ...legacy, pk: 'GRANT#grt_legacy', sk: 'GRANT' } }),
    );

    expect(await store.getGrant('grt_legacy')).toEqual({ ...legacy, via: 'direct' });
    const marked = await store.markGrantRevoked('grt_legacy', '2025-03-01T12:05:00.000Z', 'ci:x', 'requested');
    expect(marked?.grant.via).toBe('direct');
    // A repeat (the grant is no longer active) reads the item again: still direct.
    expect((await store.markGrantRevoked('grt_legacy', 'x', 'y', 'z'))?.grant.via).toBe('direct');
  });

  it('stores a grant and reads back the same domain object', async () => {
    const stored = grant('grt_a');

    await store.putGrant(stored);

    expect(await store.getGrant('grt_a')).toEqual(stored);
    const item = await rawItem('GRANT#grt_a', 'GRANT');
    expect(item!.ttl).toBe((Date.parse(stored.expiresAt) + STATE_RETENTION_DAYS * 86_400_000) / 1000);
  });

  it('marks an active grant revoked once and keeps the first revocation', async () => {
    await store.putGrant(grant('grt_r'));

    const first = await store.markGrantRevoked('grt_r', '2025-03-01T12:05:00.000Z', 'github:alice', 'done early');
    const second = await store.markGrantRevoked('grt_r', '2025-03-01T12:15:00.000Z', 'system:lifecycle', 'expired');

    expect(first).toEqual({
      changed: true,
      grant: {
        ...grant('grt_r'),
        status: 'revoked',
        revokedAt: '2025-03-01T12:05:00.000Z',
        revokedBy: 'github:alice',
        revokeReason: 'done early',
      },
    });
    expect(second).toEqual({ changed: false, grant: first!.grant });
    expect(await store.getGrant('grt_r')).toEqual(first!.grant);
  });

  it('returns undefined when revoking a grant that does not exist, and creates nothing', async () => {
    expect(await store.markGrantRevoked('grt_none', '2025-03-01T12:05:00.000Z', 'x', 'y')).toBeUndefined();
    expect(await store.getGrant('grt_none')).toBeUndefined();
  });

  it('lets exactly one of concurrent revocations change the grant', async () => {
    await store.putGrant(grant('grt_race'));

    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.markGrantRevoked('grt_race', `2025-03-01T12:0${i}:00.000Z`, `u${i}`, 'r'),
      ),
    );

    expect(results.filter((r) => r!.changed)).toHaveLength(1);
    const winner = results.find((r) => r!.changed)!.grant;
    expect(results.every((r) => r!.grant.revokedBy === winner.revokedBy)).toBe(true);
  });

  it('refuses to write over a revoked grant', async () => {
    await store.putGrant(grant('grt_final'));
    await store.markGrantRevoked('grt_final', '2025-03-01T12:05:00.000Z', 'github:alice', 'done');

    await expect(store.putGrant(grant('grt_final'))).rejects.toBeInstanceOf(GrantNotActiveError);
    expect(await store.getGrant('grt_final')).toMatchObject({ status: 'revoked', revokedBy: 'github:alice' });
  });
});

describe('DynamoDbAccessStore failures', () => {
  it('turns every store failure into a StoreError with a safe message', async () => {
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' },
      maxAttempts: 1,
    });
    const down = new DynamoDbAccessStore(client, db.names.state);
    const missingTable = new DynamoDbAccessStore(db.client, 'no-such-table');

    for (const broken of [down, missingTable]) {
      const calls = [
        broken.putRequest(request('req_x')),
        broken.getRequest('req_x'),
        broken.putGrant(grant('grt_x')),
        broken.getGrant('grt_x'),
        broken.markGrantRevoked('grt_x', '2025-03-01T12:05:00.000Z', 'u', 'r'),
      ];
      for (const call of calls) {
        const error = await call.then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).not.toMatch(/principal|repo:acme|127\.0\.0\.1|no-such-table/);
      }
    }
    client.destroy();
  });
});
