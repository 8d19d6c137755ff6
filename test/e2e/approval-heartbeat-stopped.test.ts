/**
 * The RequestApproval heartbeat in the local runtime with the approval-heartbeat schedule stopped (as if the function
 * were broken, or the token lost): after the one-second heartbeat window the wait fails with States.HeartbeatTimeout,
 * the existing Catch closes the request without access, and the execution ends failed (the operator's alarm in AWS),
 * long before the approval's own 60-second timeout.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  SENSITIVE_BODY,
  SLACK_USERS,
  eventually,
  startApprovalLocal,
  typesOf,
  type ApprovalTestLocal,
} from '../support/approvals.ts';

let t: ApprovalTestLocal;
const settled: { name: string; ok: boolean; error?: string }[] = [];

beforeAll(async () => {
  t = await startApprovalLocal({
    lifecycle: {
      approvalTimeoutSeconds: 60,
      approvalHeartbeatSeconds: 1,
      onSettled: (name, outcome) => settled.push({ name, ...outcome }),
    },
    heartbeat: { stopped: true },
  });
});
afterAll(async () => {
  await t?.stop();
});

it('closes the request as failed after the heartbeat window when no heartbeat arrives', async () => {
  const token = await t.token('ci:heartbeat-stopped');
  const started = Date.now();
  const pending = await t.requestPending(token, SENSITIVE_BODY);
  await t.notified(pending.id);

  const outcome = await eventually(async () => settled.find((s) => s.name === pending.id), 10_000);

  expect(outcome.ok).toBe(false);
  expect(outcome.error).toMatch(/Notifying the approvers or waiting for them failed/);
  expect(Date.now() - started).toBeLessThan(10_000);
  const closed = await t.poll(pending.id, token, 0);
  expect(closed.status).toBe('expired');
  expect(closed.approval?.status).toBe('expired');
  expect(closed.grant).toBeUndefined();
  expect(typesOf(await t.events(`request/${pending.id}`))).toContain('approval.concluded');

  // Nothing waits on the token any more: a late click decides nothing.
  const late = await t.click(SLACK_USERS.alice, pending.id, 'approve');
  expect(late.status, late.text).toBe(200);
  expect((await t.poll(pending.id, token, 0)).status).toBe('expired');
});
