/**
 * Concurrent access requests racing for a cluster's slot pool, end to end over HTTP: the conditional leases let
 * exactly as many grants through as there are slots; the rest get 503 problem+json with Retry-After and leave nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../shared/audit/chain.ts';
import { problemOf } from '../support/api.ts';
import { DEFAULT_BODY, startTestLocal, type TestLocal } from '../support/local.ts';

const RACERS = 8;
let t: TestLocal;

beforeAll(async () => {
  t = await startTestLocal();
});

afterAll(async () => {
  await t?.stop();
});

describe('racing for a pool of 2 slots', () => {
  it('grants exactly 2 of 8 concurrent requests; the rest get 503 with Retry-After, all audited, none half-granted', async () => {
    const tokens = await Promise.all(Array.from({ length: RACERS }, (_, i) => t.token(`ci:racer-${i}`)));

    const responses = await Promise.all(
      tokens.map((token) =>
        t.call('POST', '/v1/access-requests', { token, body: { ...DEFAULT_BODY, cluster: 'tight' } }),
      ),
    );

    const granted = responses.filter((response) => response.status === 201);
    const refused = responses.filter((response) => response.status !== 201);
    expect(granted).toHaveLength(2);
    expect(refused).toHaveLength(RACERS - 2);
    for (const response of refused) {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('30');
      const problem = problemOf(response);
      expect(problem.type).toBe('https://gatehouse.dev/problems/no-free-slot');
      expect(problem.detail).toMatch(/every one of the 2 access slots of cluster tight is in use/);
    }

    const grantIds = granted.map((response) => response.json<{ grantId: string }>().grantId).sort();
    const leases = await t.leases('tight');
    expect(leases.map((lease) => lease.grantId).sort()).toEqual(grantIds);
    expect(new Set(leases.map((lease) => lease.index)).size).toBe(2);
    const entries = await t.entries('tight');
    expect(entries.map((entry) => entry.grantId).sort()).toEqual(grantIds);

    const events = await t.eventsToday();
    for (let i = 0; i < RACERS; i++) {
      const mine = events.filter((event) => event.actor.id === `local:ci:racer-${i}`);
      expect(mine.map((event) => event.type)).toContain('access.requested');
      expect(mine.map((event) => event.type)).toContain('policy.decided');
      for (const stream of new Set(mine.map((event) => event.chain.stream))) {
        expect(verifyChain(await t.events(stream))).toEqual([]);
      }
    }
    const failed = events.filter((event) => event.type === 'grant.failed');
    expect(failed).toHaveLength(RACERS - 2);
    for (const event of failed) expect(event.details).toMatchObject({ reason: 'no free slot', poolSize: 2 });
    expect(events.filter((event) => event.type === 'grant.created')).toHaveLength(2);
    for (const event of failed) expect(await t.directGrant(event.grantId!)).toBeUndefined();
  });

  it('grants again once a slot is freed by revocation', async () => {
    const holders = (await t.leases('tight')).map((lease) => lease.grantId);
    const first = (await t.directGrant(holders[0]!))!;
    const ownerToken = await t.token(first.principal.subject);
    const revoke = await t.call('POST', `/v1/grants/${first.id}/revoke`, { token: ownerToken });
    expect(revoke.status, revoke.text).toBe(200);

    const next = await t.call('POST', '/v1/access-requests', {
      token: await t.token('ci:after-revoke'),
      body: { ...DEFAULT_BODY, cluster: 'tight' },
    });

    expect(next.status, next.text).toBe(201);
    const grant = await t.directGrant(next.json<{ grantId: string }>().grantId);
    expect(grant?.slot.index).toBe(first.slot.index);
  });
});
