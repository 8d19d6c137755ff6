/**
 * Approvals nobody answers: the local runtime shortens the RequestApproval wait to one second
 * (`lifecycle.approvalTimeoutSeconds`), so the real ASL's States.Timeout path (ExpireApproval) runs. The request ends
 * expired without a grant, Slack shows it, and the approvers' links and buttons decide nothing afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SENSITIVE_BODY,
  SLACK_USERS,
  SRE_CHANNEL,
  eventually,
  startApprovalLocal,
  typesOf,
  type ApprovalTestLocal,
} from '../support/approvals.ts';

let t: ApprovalTestLocal;

beforeAll(async () => {
  t = await startApprovalLocal({ lifecycle: { approvalTimeoutSeconds: 1 } });
});

afterAll(async () => {
  await t?.stop();
});

async function expiredRequest(sub: string) {
  const token = await t.token(sub);
  const pending = await t.requestPending(token, SENSITIVE_BODY);
  await t.notified(pending.id);
  const emails = await eventually(async () => {
    const sent = t.emails().filter((email) => email.text.includes(pending.id));
    return sent.length === 2 ? sent : undefined;
  });
  const settled = await t.poll(pending.id, token);
  return { token, id: pending.id, settled, emails };
}

describe('approval timeout', () => {
  it('ends the request expired, its approval expired, with no grant and no token', async () => {
    const { token, id, settled } = await expiredRequest('ci:timeout');

    expect(settled.status).toBe('expired');
    expect(settled.approval).toMatchObject({ status: 'expired', decisions: [] });
    expect(settled.grant).toBeUndefined();
    const issued = await t.call('POST', `/v1/access-requests/${id}/token`, { token });
    expect(issued.status).toBeGreaterThanOrEqual(400);
    const types = typesOf(await t.events(`request/${id}`));
    expect(types).toContain('approval.concluded');
    expect(types).not.toContain('grant.created');
  });

  it('shows the expiry in the Slack message, and a click after it is refused', async () => {
    const { token, id } = await expiredRequest('ci:timeout-slack');
    const post = t.slack.postFor(id, SRE_CHANNEL)!;

    const update = await eventually(async () =>
      t.slack.callsOf('chat.update', SRE_CHANNEL).find((c) => c.ts === post.ts),
    );
    const late = await t.click(SLACK_USERS.alice, id, 'approve');

    expect(JSON.stringify(update.blocks)).toContain('Access request expired');
    expect(late.json()).toMatchObject({ text: 'This request is no longer waiting for approval.' });
    expect((await t.poll(id, token, 0)).approval).toMatchObject({ status: 'expired', decisions: [] });
  });

  it('an email link after the timeout answers 410 (request closed) on GET and on POST and decides nothing', async () => {
    const { token, id, emails } = await expiredRequest('ci:timeout-email');
    const link = emails[0]!.link.path;

    const get = await t.call('GET', link);
    const post = await t.call('POST', link, {
      rawBody: 'decision=approve',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });

    expect(get.status, get.text).toBe(410);
    expect(post.status, post.text).toBe(410);
    // Nobody decided: the page says the request timed out, not that it was already decided.
    expect(get.text).toContain('<h1 class="closed">Request closed</h1>');
    expect((await t.poll(id, token, 0)).approval).toMatchObject({ status: 'expired', decisions: [] });
  });
});
