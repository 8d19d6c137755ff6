/**
 * The RequestApproval heartbeat in the local runtime, with the real ASL and the real approval-heartbeat handler on a
 * short schedule: a one-second heartbeat window (HeartbeatSeconds, enforced by the local runner) and a beat every 200 ms.
 * An approval kept alive by beats waits well past the window and is still approvable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SENSITIVE_BODY, SLACK_USERS, startApprovalLocal, type ApprovalTestLocal } from '../support/approvals.ts';

let t: ApprovalTestLocal;
const settled: { name: string; ok: boolean; error?: string }[] = [];

beforeAll(async () => {
  t = await startApprovalLocal({
    lifecycle: {
      approvalTimeoutSeconds: 60,
      approvalHeartbeatSeconds: 1,
      onSettled: (name, outcome) => settled.push({ name, ...outcome }),
    },
    heartbeat: { intervalMs: 200 },
  });
});
afterAll(async () => {
  await t?.stop();
});

it('keeps a pending approval alive past the heartbeat window, and an approval then grants the request', async () => {
  const token = await t.token('ci:heartbeat-alive');
  const pending = await t.requestPending(token, SENSITIVE_BODY);
  await t.notified(pending.id);

  // Three heartbeat windows: without beats the wait would have failed twice over.
  await new Promise((resolve) => setTimeout(resolve, 3000));

  expect(settled.find((s) => s.name === pending.id)).toBeUndefined();
  expect(t.local.scheduler.tokens.beats.size).toBe(1);
  expect(Date.now() - [...t.local.scheduler.tokens.beats.values()][0]!).toBeLessThan(1000);
  const waiting = await t.poll(pending.id, token, 0);
  expect(waiting).toMatchObject({ status: 'pending', approval: { status: 'pending' } });

  const clicked = await t.click(SLACK_USERS.alice, pending.id, 'approve');
  expect(clicked.status, clicked.text).toBe(200);

  const done = await t.poll(pending.id, token);
  expect(done.status).toBe('granted');
  expect(done.approval?.status).toBe('approved');
  expect(done.grant?.status).toBe('active');
  // The answered token gets no more beats.
  expect(t.local.scheduler.tokens.beats.size).toBe(0);
});
