/**
 * The access lifecycle through the real ASL (state-machines/access-lifecycle.asl.json) on aws-local-stepfunctions,
 * calling the real lifecycle handlers: revocation at expiry, and the Catch path that revokes when the Grant step fails.
 */
import { DEFAULT_BODY, eventually, startTestLocal, type TestLocal } from '../support/local.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../local/api-server.ts';
import { lifecycleGrant, lifecycleRevoke } from '../../local/handlers.ts';
import { LocalLifecycleScheduler } from '../../local/lifecycle-runner.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import { problemOf } from '../support/api.ts';

const WAIT_UNTIL_EXPIRY_MS = 700;
const settled = new Map<string, { ok: boolean; error?: string }>();
let t: TestLocal;

beforeAll(async () => {
  t = await startTestLocal({
    lifecycle: {
      waitUntilExpiryMs: WAIT_UNTIL_EXPIRY_MS,
      retryIntervalMs: 1,
      onSettled: (name, outcome) => settled.set(name, outcome),
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

async function createGranted(sub: string) {
  const token = await t.token(sub);
  const response = await t.call('POST', '/v1/access-requests', { token, body: DEFAULT_BODY });
  expect(response.status, response.text).toBe(201);
  const created = response.json<{ id: string; grantId: string }>();
  const grant = (await t.directGrant(created.grantId))!;
  return { token, ...created, grant };
}

/** A second scheduler over the same ASL and the same lifecycle handlers, whose Grant step the test can prepare. */
function testScheduler(outcomes: Map<string, { ok: boolean; error?: string }>) {
  const signal = new AbortController().signal;
  return new LocalLifecycleScheduler({
    tasks: {
      grant: (input) => lifecycleGrant(input, lambdaContext('lifecycle-grant'), { signal }),
      revoke: (input) => lifecycleRevoke(input, lambdaContext('lifecycle-revoke'), { signal }),
      notifyApprovers: () => Promise.reject(new Error('these tests start no approval')),
      closeApproval: () => Promise.reject(new Error('these tests start no approval')),
    },
    // Long enough that only the Catch path can end an execution within the test.
    waitUntilExpiryMs: 60_000,
    retryIntervalMs: 1,
    onSettled: (name, outcome) => outcomes.set(name, outcome),
  });
}

describe('access lifecycle on the real ASL', () => {
  it('revokes at expiry: entry gone, slot free, request expired, grant.revoked with reason expired', async () => {
    const { token, id, grantId, grant } = await createGranted('ci:expiry');
    expect(await t.entry('dev', grant.slot.roleArn)).toBeDefined();

    const outcome = await eventually(async () => settled.get(id), 10_000);

    expect(outcome).toEqual({ ok: true });
    expect(await t.entry('dev', grant.slot.roleArn)).toBeUndefined();
    expect((await t.leases('dev')).map((lease) => lease.grantId)).not.toContain(grantId);
    expect((await t.request(id))?.status).toBe('expired');
    expect((await t.directGrant(grantId))?.status).toBe('revoked');
    const events = await t.events(`grant/${grantId}`);
    expect(events.map((event) => event.type)).toEqual(['grant.created', 'token.issued', 'grant.revoked']);
    expect(events[2]).toMatchObject({ actor: { id: 'system:access-lifecycle' }, details: { reason: 'expired' } });
    expect(verifyChain(events)).toEqual([]);

    const status = await t.call('GET', `/v1/access-requests/${id}`, { token });
    expect(status.json()).toMatchObject({ status: 'expired', grant: { status: 'revoked' } });
    const refused = await t.call('POST', `/v1/access-requests/${id}/token`, { token });
    expect(refused.status).toBe(409);
    expect(problemOf(refused).detail).toMatch(/grant is revoked/);
  });

  it('revokes through the Catch path when the Grant step keeps failing for an active grant', async () => {
    const { id, grantId, grant } = await createGranted('ci:catch');
    // Only the test's execution may end this grant: stop the runtime's own (it would revoke at "expiry").
    await t.local.scheduler.stop();
    // A foreign access entry on the slot role makes every Grant attempt fail (the entry is not this grant's).
    await t.local.entries.delete({ cluster: 'dev', roleArn: grant.slot.roleArn });
    await t.local.entries.create({
      cluster: 'dev',
      roleArn: grant.slot.roleArn,
      username: 'gatehouse:someone-else',
      grantId: 'grt_01JN8ZQ6T5X7C2M4R9B0D3F6H8',
    });
    const outcomes = new Map<string, { ok: boolean; error?: string }>();
    const scheduler = testScheduler(outcomes);

    try {
      await scheduler.schedule({ requestId: grant.requestId, needsApproval: false });
      const outcome = await eventually(async () => outcomes.get(id), 10_000);

      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatch(/The grant step failed; the grant was revoked/);
    } finally {
      await scheduler.stop();
    }
    expect((await t.directGrant(grantId))?.status).toBe('revoked');
    expect((await t.request(id))?.status).toBe('revoked');
    expect(await t.entry('dev', grant.slot.roleArn)).toBeUndefined();
    expect((await t.leases('dev')).map((lease) => lease.grantId)).not.toContain(grantId);
    const events = await t.events(`grant/${grantId}`);
    const revoked = events.filter((event) => event.type === 'grant.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({
      actor: { id: 'system:access-lifecycle' },
      details: { reason: 'lifecycle-error' },
    });
    expect(verifyChain(events)).toEqual([]);
  });

  it('ends revoked through the Catch path when the grant was revoked before the Grant step ran', async () => {
    const { token, id, grantId, grant } = await createGranted('ci:early-revoke');
    await t.local.scheduler.stop();
    const revoke = await t.call('POST', `/v1/grants/${grantId}/revoke`, { token });
    expect(revoke.status, revoke.text).toBe(200);
    const outcomes = new Map<string, { ok: boolean; error?: string }>();
    const scheduler = testScheduler(outcomes);

    try {
      await scheduler.schedule({ requestId: grant.requestId, needsApproval: false });
      const outcome = await eventually(async () => outcomes.get(id), 10_000);

      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatch(/The grant step failed; the grant was revoked/);
    } finally {
      await scheduler.stop();
    }
    expect(await t.entry('dev', grant.slot.roleArn)).toBeUndefined();
    expect((await t.directGrant(grantId))?.status).toBe('revoked');
    expect((await t.request(id))?.status).toBe('revoked');
    // The lifecycle's revocation of a revoked grant records nothing new: the requester's revocation stands.
    const revoked = (await t.events(`grant/${grantId}`)).filter((event) => event.type === 'grant.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]?.details).toMatchObject({ reason: 'requested' });
  });
});
