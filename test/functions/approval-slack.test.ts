/**
 * Slack approvals end to end over HTTP: the local runtime posts the Block Kit message through the real @slack/web-api
 * client to a loopback stand-in for Slack's Web API, the test clicks as Slack does (a `block_actions` payload signed with
 * the local signing secret), and the real ASL waits on its task token until the click answers it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../shared/audit/chain.ts';
import type { ExecCredential } from '../../shared/model.ts';
import { SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER } from '../../shared/slack/signature.ts';
import { problemOf } from '../support/api.ts';
import {
  PAIR_CHANNEL,
  PAYMENTS_BODY,
  SENSITIVE_BODY,
  SLACK_BOT_TOKEN,
  SLACK_USERS,
  SRE_CHANNEL,
  eventually,
  slackClickBody,
  startApprovalLocal,
  typesOf,
  type ApprovalTestLocal,
} from '../support/approvals.ts';

let t: ApprovalTestLocal;

beforeAll(async () => {
  t = await startApprovalLocal();
});

afterAll(async () => {
  await t?.stop();
});

/** A pending request for `dev/sensitive` (group sre, quorum 1) whose Slack message has been posted. */
async function pendingSensitive(sub: string) {
  const token = await t.token(sub);
  const pending = await t.requestPending(token, SENSITIVE_BODY);
  await t.notified(pending.id);
  return { token, id: pending.id, pending };
}

/** The ephemeral text Slack shows only to the clicking user. */
function ephemeralText(response: { status: number; json<T>(): T; text: string }): string {
  expect(response.status, response.text).toBe(200);
  const body = response.json<{ response_type?: string; replace_original?: boolean; text?: string }>();
  expect(body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  return body.text ?? '';
}

/** Decisions and refusals recorded for a request, after its events settle. */
async function requestEvents(id: string) {
  return t.events(`request/${id}`);
}

describe('Slack approve', () => {
  it('answers 202 pending, posts the buttons to C0SRE, and an approve click grants the request with a working /token', async () => {
    const token = await t.token('ci:slack-approve');

    const pending = await t.requestPending(token, SENSITIVE_BODY);

    expect(pending).toMatchObject({
      status: 'pending',
      approvalGroups: [{ name: 'sre', quorum: 1 }],
      pollUrl: `/v1/access-requests/${pending.id}`,
    });
    await t.notified(pending.id);
    const post = t.slack.postFor(pending.id, SRE_CHANNEL)!;
    expect(post.authorization).toBe(`Bearer ${SLACK_BOT_TOKEN}`);
    const buttons = JSON.stringify(post.blocks);
    expect(buttons).toContain('"action_id":"gatehouse_approve"');
    expect(buttons).toContain('"action_id":"gatehouse_deny"');
    expect(buttons).toContain(`"value":"${pending.id}"`);
    expect(post.text).toContain('dev');

    const clicked = await t.click(SLACK_USERS.alice, pending.id, 'approve');
    expect(clicked.status, clicked.text).toBe(200);
    expect(clicked.json()).toEqual({});

    const settled = await t.poll(pending.id, token);
    expect(settled.status).toBe('granted');
    expect(settled.approval).toMatchObject({
      status: 'approved',
      groups: [{ name: 'sre', quorum: 1 }],
      decisions: [{ approverId: 'alice', decision: 'approve', channel: 'slack' }],
    });
    expect(settled.grant?.status).toBe('active');
    const issued = await t.call('POST', `/v1/access-requests/${pending.id}/token`, { token });
    expect(issued.status, issued.text).toBe(200);
    expect(issued.json<ExecCredential>().status.token).toMatch(/^k8s-aws-v1\./);
  });

  it('updates the Slack message in place with who approved, without buttons', async () => {
    const { id } = await pendingSensitive('ci:slack-update');
    const post = t.slack.postFor(id, SRE_CHANNEL)!;

    await t.click(SLACK_USERS.bob, id, 'approve');

    const update = await eventually(async () =>
      t.slack
        .callsOf('chat.update', SRE_CHANNEL)
        .find((c) => c.ts === post.ts && JSON.stringify(c.blocks).includes('<@U0BOB>')),
    );
    const blocks = JSON.stringify(update.blocks);
    expect(blocks).not.toContain('gatehouse_approve');
    expect(blocks.toLowerCase()).toContain('approved');
    expect(update.authorization).toBe(`Bearer ${SLACK_BOT_TOKEN}`);
  });

  it('records approval.requested, approval.decided and approval.concluded in the request chain, intact', async () => {
    const { token, id } = await pendingSensitive('ci:slack-events');

    await t.click(SLACK_USERS.alice, id, 'approve');
    await t.poll(id, token);

    const events = await requestEvents(id);
    const types = typesOf(events);
    expect(types.indexOf('approval.requested')).toBeGreaterThan(-1);
    expect(types.indexOf('approval.decided')).toBeGreaterThan(types.indexOf('approval.requested'));
    expect(types.indexOf('approval.concluded')).toBeGreaterThan(types.indexOf('approval.decided'));
    const decided = events.find((e) => e.type === 'approval.decided')!;
    expect(decided.actor.id).toBe('approver:alice');
    expect(decided.details).toMatchObject({ approverId: 'alice', decision: 'approve', channel: 'slack' });
    expect(events.find((e) => e.type === 'approval.concluded')!.details).toMatchObject({
      status: 'approved',
      approvedBy: ['alice'],
    });
    expect(verifyChain(events)).toEqual([]);
  });
});

describe('Slack deny and quorum', () => {
  it('a deny click ends the request denied, with no grant and the message showing the denial', async () => {
    const { token, id } = await pendingSensitive('ci:slack-deny');
    const post = t.slack.postFor(id, SRE_CHANNEL)!;

    const clicked = await t.click(SLACK_USERS.bob, id, 'deny');

    expect(clicked.status).toBe(200);
    const settled = await t.poll(id, token);
    expect(settled.status).toBe('denied');
    expect(settled.approval).toMatchObject({
      status: 'denied',
      decisions: [{ approverId: 'bob', decision: 'deny', channel: 'slack' }],
    });
    expect(settled.grant).toBeUndefined();
    const issued = await t.call('POST', `/v1/access-requests/${id}/token`, { token });
    expect(issued.status).toBeGreaterThanOrEqual(400);
    const update = await eventually(async () =>
      t.slack
        .callsOf('chat.update', SRE_CHANNEL)
        .find((c) => c.ts === post.ts && /denied/i.test(JSON.stringify(c.blocks))),
    );
    expect(JSON.stringify(update.blocks)).not.toContain('gatehouse_approve');
  });

  it('pair (quorum 2): one approve leaves the request pending, the second grants it', async () => {
    const token = await t.token('ci:slack-quorum');
    const pending = await t.requestPending(token, PAYMENTS_BODY);
    expect(pending.approvalGroups).toEqual([{ name: 'pair', quorum: 2 }]);
    await t.notified(pending.id, PAIR_CHANNEL);

    expect((await t.click(SLACK_USERS.alice, pending.id, 'approve', PAIR_CHANNEL)).json()).toEqual({});
    const halfway = await t.poll(pending.id, token, 1);
    expect(halfway.status).toBe('pending');
    expect(halfway.approval).toMatchObject({ status: 'pending', decisions: [{ approverId: 'alice' }] });

    expect((await t.click(SLACK_USERS.bob, pending.id, 'approve', PAIR_CHANNEL)).json()).toEqual({});
    const settled = await t.poll(pending.id, token);
    expect(settled.status).toBe('granted');
    expect(settled.approval?.decisions.map((d) => d.approverId)).toEqual(['alice', 'bob']);
  });
});

describe('Slack clicks that decide nothing', () => {
  it('refuses self-approval: alice cannot approve a job she triggered (GitHub actor alice)', async () => {
    const token = await t.githubToken('repo:acme/patient-portal:ref:refs/heads/main', 'alice');
    const pending = await t.requestPending(token, SENSITIVE_BODY);
    await t.notified(pending.id);

    const text = ephemeralText(await t.click(SLACK_USERS.alice, pending.id, 'approve'));

    expect(text).toBe('You cannot approve your own request.');
    const state = await t.poll(pending.id, token, 0);
    expect(state.status).toBe('pending');
    expect(state.approval?.decisions).toEqual([]);
    const refused = (await requestEvents(pending.id)).find((e) => e.type === 'approval.refused');
    expect(refused?.details).toMatchObject({ reason: 'self-approval', channel: 'slack' });
    // Bob may still approve it.
    await t.click(SLACK_USERS.bob, pending.id, 'approve');
    expect((await t.poll(pending.id, token)).status).toBe('granted');
  });

  it('refuses a Slack user who is no approver, and a configured person outside the required group', async () => {
    const { token, id } = await pendingSensitive('ci:slack-stranger');

    const stranger = ephemeralText(await t.click(SLACK_USERS.stranger, id, 'approve'));
    const carol = ephemeralText(await t.click(SLACK_USERS.carol, id, 'approve'));

    expect(stranger).toBe('You are not an approver of this request.');
    expect(carol).toBe('You are not an approver of this request.');
    expect((await t.poll(id, token, 0)).approval?.decisions).toEqual([]);
    const reasons = (await requestEvents(id))
      .filter((e) => e.type === 'approval.refused')
      .map((e) => [e.actor.id, e.details?.reason]);
    expect(reasons).toEqual([
      ['slack:U0MALLORY', 'unknown-approver'],
      ['approver:carol', 'not-in-required-group'],
    ]);
  });

  it('refuses a double click: a second click of the same approver, and any click after the request is decided', async () => {
    const token = await t.token('ci:slack-double');
    const pending = await t.requestPending(token, PAYMENTS_BODY);
    await t.notified(pending.id, PAIR_CHANNEL);

    await t.click(SLACK_USERS.alice, pending.id, 'approve', PAIR_CHANNEL);
    const again = ephemeralText(await t.click(SLACK_USERS.alice, pending.id, 'deny', PAIR_CHANNEL));
    expect(again).toBe('You have already decided on this request.');
    expect((await t.poll(pending.id, token, 0)).approval?.decisions).toHaveLength(1);

    await t.click(SLACK_USERS.bob, pending.id, 'approve', PAIR_CHANNEL);
    expect((await t.poll(pending.id, token)).status).toBe('granted');
    const late = ephemeralText(await t.click(SLACK_USERS.bob, pending.id, 'deny', PAIR_CHANNEL));
    expect(late).toBe('This request is no longer waiting for approval.');
    const settled = await t.poll(pending.id, token, 0);
    expect(settled.approval?.status).toBe('approved');
    expect(settled.approval?.decisions.map((d) => `${d.approverId}:${d.decision}`)).toEqual([
      'alice:approve',
      'bob:approve',
    ]);
  });

  it('answers 401 to forged, stale, body-tampered and unsigned requests, records each, and decides nothing', async () => {
    const { token, id } = await pendingSensitive('ci:slack-forged');
    const body = slackClickBody({ userId: SLACK_USERS.alice, requestId: id, action: 'approve' });
    const signed = (await import('../../shared/slack/signature.ts')).signSlackRequest;
    const genuine = signed({ signingSecret: await t.signingSecret(), rawBody: body, at: new Date() });
    const forged = signed({ signingSecret: 'not-the-signing-secret', rawBody: body, at: new Date() });
    const day = new Date().toISOString().slice(0, 10);
    const before = (await t.events(`slack/${day}`)).length;

    const attempts = {
      forged: await t.slackPost(body, { sign: false, headers: forged.headers }),
      stale: await t.slackPost(body, { at: new Date(Date.now() - 6 * 60_000) }),
      tampered: await t.slackPost(body.replace('gatehouse_approve', 'gatehouse_deny'), {
        sign: false,
        headers: genuine.headers,
      }),
      missing: await t.slackPost(body, { sign: false }),
      noTimestamp: await t.slackPost(body, {
        sign: false,
        headers: { [SLACK_SIGNATURE_HEADER]: genuine.signature },
      }),
      noSignature: await t.slackPost(body, {
        sign: false,
        headers: { [SLACK_TIMESTAMP_HEADER]: genuine.timestamp },
      }),
    };

    for (const [name, response] of Object.entries(attempts)) {
      expect(response.status, `${name}: ${response.text}`).toBe(401);
      expect(problemOf(response)).toMatchObject({ status: 401, title: 'Request signature not valid' });
    }
    const refusals = (await t.events(`slack/${day}`)).slice(before).map((e) => e.details?.reason);
    expect(refusals).toEqual([
      'signature-mismatch',
      'signature-stale',
      'signature-mismatch',
      'signature-missing',
      'signature-missing',
      'signature-missing',
    ]);
    const state = await t.poll(id, token, 0);
    expect(state.status).toBe('pending');
    expect(state.approval).toMatchObject({ status: 'pending', decisions: [] });
    expect(typesOf(await requestEvents(id))).not.toContain('approval.decided');
  });
});
