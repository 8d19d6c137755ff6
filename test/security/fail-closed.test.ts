/**
 * Fail closed (DESIGN.md section 7), end to end over HTTP against the local runtime: a policy engine error is a
 * denial, and when the audit log or the state store cannot be written the request fails with 503 and nothing is
 * granted. The tests run in order: each breaks a little more of the runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../shared/adapters/aws/tables.ts';
import { problemOf } from '../support/api.ts';
import { DEFAULT_BODY, startTestLocal, type TestLocal } from '../support/local.ts';

let t: TestLocal;

beforeAll(async () => {
  t = await startTestLocal();
});

afterAll(async () => {
  await t?.stop();
});

async function request(sub: string) {
  return t.call('POST', '/v1/access-requests', { token: await t.token(sub), body: DEFAULT_BODY });
}

describe('fail closed', () => {
  it('denies with 403 when the policy engine throws, and records the failed decision', async () => {
    const policy = t.local.runtime.policy;
    const original = policy.decideAccess;
    policy.decideAccess = () => {
      throw new TypeError('cedar crashed');
    };
    try {
      const response = await request('ci:policy-error');

      expect(response.status).toBe(403);
      const problem = problemOf(response);
      expect(problem.detail).toBe('policy evaluation failed: TypeError');
      expect(problem.policies).toEqual([]);
    } finally {
      policy.decideAccess = original;
    }
    const events = (await t.eventsToday()).filter((event) => event.actor.id === 'local:ci:policy-error');
    expect(events.map((event) => event.type)).toEqual(['access.requested', 'policy.decided']);
    expect(events[1]?.details).toMatchObject({ effect: 'forbid' });
    expect(await t.leases('dev')).toEqual([]);
    expect(await t.entries('dev')).toEqual([]);
  });

  it('answers 503 store-unavailable when the state table is gone, after auditing, with no grant', async () => {
    const { client, tables } = t.local.dynamo;
    await client.send(new DeleteTableCommand({ TableName: tables.state }));
    try {
      const response = await request('ci:store-down');

      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      const problem = problemOf(response);
      expect(problem.type).toBe('https://gatehouse.dev/problems/store-unavailable');
      expect(problem.detail).toMatch(/nothing was done/);
      expect(response.text).not.toContain('k8s-aws-v1.');
    } finally {
      await createTables(client, tables);
    }
    const events = (await t.eventsToday()).filter((event) => event.actor.id === 'local:ci:store-down');
    expect(events.map((event) => event.type)).toEqual(['access.requested', 'policy.decided']);
    expect(await t.leases('dev')).toEqual([]);
    expect(await t.entries('dev')).toEqual([]);
  });

  it('answers 503 audit-unavailable when the events table is gone, and grants nothing', async () => {
    const { client, tables } = t.local.dynamo;
    await client.send(new DeleteTableCommand({ TableName: tables.events }));
    try {
      const response = await request('ci:audit-down');

      expect(response.status).toBe(503);
      const problem = problemOf(response);
      expect(problem.type).toBe('https://gatehouse.dev/problems/audit-unavailable');
      expect(problem.detail).toMatch(/audit log could not record this step, so nothing was done/);
      expect(await t.leases('dev')).toEqual([]);
      expect(await t.entries('dev')).toEqual([]);
    } finally {
      await createTables(client, tables);
    }
    const events = (await t.eventsToday()).filter((event) => event.actor.id === 'local:ci:audit-down');
    expect(events).toEqual([]);
  });

  it('answers 503 without a credential when the embedded DynamoDB is stopped', async () => {
    const token = await t.token('ci:dynamo-down');
    await t.local.dynamo.stop();

    const response = await t.call('POST', '/v1/access-requests', { token, body: DEFAULT_BODY });

    expect(response.status).toBe(503);
    const problem = problemOf(response);
    expect([
      'https://gatehouse.dev/problems/audit-unavailable',
      'https://gatehouse.dev/problems/store-unavailable',
    ]).toContain(problem.type);
    expect(response.text).not.toContain('credential');
    expect(response.text).not.toContain('k8s-aws-v1.');
  });
});
