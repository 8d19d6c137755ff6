/**
 * Block Kit approval messages: structure (header, who, what, purpose, buttons), the decided variants, and that nothing a
 * requester wrote can ping a channel, hide a link, or break Slack's limits.
 */
import { describe, expect, it } from 'vitest';
import type { AccessRequest, Principal } from '../../shared/model.ts';
import {
  APPROVE_ACTION_ID,
  DECISION_BLOCK_ID,
  DENY_ACTION_ID,
  SLACK_LIMITS,
  SlackMessageError,
  approvalDecidedMessage,
  approvalRequestMessage,
  bounded,
  escapeMrkdwn,
  fallbackText,
  formatDuration,
} from '../../shared/slack/messages.ts';
import type { SlackBlock, SlackButton, SlackMessage, SlackMrkdwn } from '../../shared/slack/messages.ts';

const GITHUB_PRINCIPAL: Principal = {
  id: 'github:repo:octo-org/octo-repo:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:octo-org/octo-repo:ref:refs/heads/main',
  groups: ['ci'],
  ci: {
    provider: 'github-actions',
    repository: 'octo-org/octo-repo',
    ref: 'refs/heads/main',
    workflow: 'deploy',
    runId: '9876543210',
    actor: 'octocat',
    environment: 'production',
  },
};

const GITLAB_PRINCIPAL: Principal = {
  id: 'gitlab:project_path:acme/payments:ref_type:branch:ref:main',
  issuer: 'https://gitlab.example.com',
  issuerName: 'gitlab',
  subject: 'project_path:acme/payments:ref_type:branch:ref:main',
  groups: [],
  ci: { provider: 'gitlab', repository: 'acme/payments', ref: 'main', pipelineId: '424242', userLogin: 'jdoe' },
};

function accessRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: 'req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D',
    principal: GITHUB_PRINCIPAL,
    status: 'pending',
    cluster: 'prod-eu',
    namespaces: ['payments', 'billing'],
    access: 'edit',
    durationSeconds: 5400,
    purpose: 'Roll back the payments deployment after INC-42',
    ticket: 'INC-42',
    via: 'direct',
    createdAt: '2026-03-02T09:30:00.000Z',
    updatedAt: '2026-03-02T09:30:00.000Z',
    decision: { effect: 'approval', policies: ['prod-needs-approval'], reason: 'production' },
    ...overrides,
  };
}

const EXPIRES_AT = '2026-03-02T10:30:00.000Z';
const EXPIRES_EPOCH = Date.parse(EXPIRES_AT) / 1000;

function pendingMessage(request = accessRequest()): SlackMessage {
  return approvalRequestMessage({
    request,
    approvalGroups: ['platform-oncall', 'security'],
    quorum: { required: 2, received: 0, everyGroup: true },
    expiresAt: EXPIRES_AT,
  });
}

/** Every mrkdwn or plain text in the message, with the block it came from. */
function texts(message: SlackMessage): string[] {
  const out: string[] = [message.text];
  for (const block of message.blocks) {
    if (block.type === 'header') out.push(block.text.text);
    if (block.type === 'section') {
      if (block.text) out.push(block.text.text);
      for (const field of block.fields ?? []) out.push(field.text);
    }
    if (block.type === 'context') out.push(...block.elements.map((element) => element.text));
  }
  return out;
}

function mrkdwnObjects(message: SlackMessage): SlackMrkdwn[] {
  return message.blocks.flatMap((block) => {
    if (block.type === 'section') return [...(block.text ? [block.text] : []), ...(block.fields ?? [])];
    if (block.type === 'context') return block.elements;
    return [];
  });
}

function buttons(message: SlackMessage): SlackButton[] {
  return message.blocks.flatMap((block) => (block.type === 'actions' ? block.elements : []));
}

function allText(message: SlackMessage): string {
  return texts(message).join('\n');
}

describe('approvalRequestMessage', () => {
  it('leads with a header and ends with the Approve and Deny buttons carrying the request id', () => {
    const message = pendingMessage();
    const first = message.blocks[0] as SlackBlock;
    const last = message.blocks.at(-1) as SlackBlock;
    expect(first).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Access request awaiting approval', emoji: true },
    });
    expect(last.type).toBe('actions');
    expect(last.block_id).toBe(DECISION_BLOCK_ID);

    const [approve, deny] = buttons(message);
    expect(approve).toMatchObject({
      type: 'button',
      action_id: APPROVE_ACTION_ID,
      style: 'primary',
      value: 'req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D',
      text: { type: 'plain_text', text: 'Approve' },
    });
    expect(approve?.confirm).toBeUndefined();
    expect(deny).toMatchObject({
      type: 'button',
      action_id: DENY_ACTION_ID,
      style: 'danger',
      value: 'req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D',
      text: { type: 'plain_text', text: 'Deny' },
    });
    expect(deny?.confirm).toMatchObject({
      title: { type: 'plain_text' },
      confirm: { type: 'plain_text', text: 'Deny' },
      deny: { type: 'plain_text', text: 'Cancel' },
      style: 'danger',
    });
    expect(buttons(message)).toHaveLength(2);
  });

  it('shows who asks: the principal id and the GitHub repository, ref, workflow and run', () => {
    const who = sectionFields(pendingMessage(), 1);
    expect(who).toEqual([
      '*Requester*\ngithub:repo:octo-org/octo-repo:ref:refs/heads/main',
      '*Repository*\nocto-org/octo-repo',
      '*Ref*\nrefs/heads/main',
      '*Workflow*\ndeploy',
      '*Run*\n9876543210',
      '*Environment*\nproduction',
      '*Triggered by*\noctocat',
    ]);
  });

  it('shows a GitLab project, ref and pipeline', () => {
    const who = sectionFields(pendingMessage(accessRequest({ principal: GITLAB_PRINCIPAL })), 1);
    expect(who).toEqual([
      '*Requester*\ngitlab:project_path:acme/payments:ref_type:branch:ref:main',
      '*Project*\nacme/payments',
      '*Ref*\nmain',
      '*Pipeline*\n424242',
      '*Triggered by*\njdoe',
    ]);
  });

  it('shows only the requester for a token without CI claims', () => {
    const principal: Principal = { ...GITHUB_PRINCIPAL, ci: undefined };
    expect(sectionFields(pendingMessage(accessRequest({ principal })), 1)).toEqual([
      `*Requester*\n${GITHUB_PRINCIPAL.id}`,
    ]);
  });

  it('shows what is asked: cluster, access, namespaces, duration, ticket and the expiry as a Slack date', () => {
    expect(sectionFields(pendingMessage(), 2)).toEqual([
      '*Cluster*\nprod-eu',
      '*Access*\nedit',
      '*Namespaces*\npayments, billing',
      '*Duration*\n1 h 30 min',
      '*Ticket*\nINC-42',
      `*Expires*\n<!date^${EXPIRES_EPOCH}^{date_short_pretty} at {time}|2026-03-02 10:30 UTC>`,
    ]);
    const purpose = pendingMessage().blocks[3];
    expect(purpose).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: '*Purpose*\nRoll back the payments deployment after INC-42', verbatim: true },
    });
  });

  it('names the request, the approver groups and the quorum in the context line', () => {
    const context = pendingMessage().blocks[4];
    expect(context?.type).toBe('context');
    expect(context?.type === 'context' && context.elements[0]?.text).toBe(
      'Request req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D · Approvers: platform-oncall, security · ' +
        '0 of 2 approvals, every group must approve',
    );
  });

  it('shows a dash for a request without a ticket', () => {
    expect(sectionFields(pendingMessage(accessRequest({ ticket: undefined })), 2)).toContain('*Ticket*\n—');
  });

  it('lists the approvals so far and keeps the buttons while the quorum is not met', () => {
    const message = approvalRequestMessage({
      request: accessRequest(),
      approvalGroups: ['platform-oncall'],
      quorum: { required: 2, received: 1 },
      expiresAt: EXPIRES_AT,
      decisions: [
        {
          approverId: 'alice',
          slackUserId: 'U012AB3CD',
          decision: 'approve',
          at: '2026-03-02T09:31:00Z',
          via: 'slack',
        },
      ],
    });
    expect(allText(message)).toContain(
      `:white_check_mark: *Approved* by <@U012AB3CD> in Slack <!date^${Date.parse('2026-03-02T09:31:00Z') / 1000}^`,
    );
    expect(allText(message)).toContain('1 of 2 approvals');
    expect(buttons(message)).toHaveLength(2);
  });

  it('sets every mrkdwn text verbatim, so Slack links nothing it was not told to', () => {
    const objects = mrkdwnObjects(pendingMessage());
    expect(objects.length).toBeGreaterThan(10);
    for (const object of objects) expect(object.verbatim).toBe(true);
  });

  it('gives notification text naming the request, requester, access and state', () => {
    expect(pendingMessage().text).toBe(
      'Access request req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D from github:repo:octo-org/octo-repo:ref:refs/heads/main: ' +
        'edit on prod-eu (payments, billing) for 1 h 30 min: awaiting approval',
    );
  });

  it('refuses a request id a button could not carry intact', () => {
    expect(() => pendingMessage(accessRequest({ id: 'x'.repeat(SLACK_LIMITS.buttonValue + 1) }))).toThrow(
      SlackMessageError,
    );
    expect(() => pendingMessage(accessRequest({ id: 'req_1|<!channel>' }))).toThrow(SlackMessageError);
    expect(() => pendingMessage(accessRequest({ id: '' }))).toThrow(SlackMessageError);
  });

  it('refuses an invalid expiry date', () => {
    expect(() =>
      approvalRequestMessage({
        request: accessRequest(),
        approvalGroups: [],
        quorum: { required: 1, received: 0 },
        expiresAt: 'not a date',
      }),
    ).toThrow(SlackMessageError);
  });
});

describe('untrusted text in approval messages', () => {
  const hostile = accessRequest({
    purpose: 'urgent <!channel> please, see <https://evil.example/login|the runbook> & <@U0ADMIN> <#C0SECRET>',
    ticket: '<!here>',
    principal: {
      ...GITHUB_PRINCIPAL,
      id: 'github:<!everyone>',
      ci: {
        provider: 'github-actions',
        repository: 'octo/<https://evil.example|repo>',
        ref: 'refs/heads/<!subteam^S0123>',
        workflow: 'deploy\n*Approved by the CISO*',
        runId: '1',
      },
    },
  });
  const message = approvalDecidedMessage({
    request: hostile,
    approvalGroups: ['platform-oncall'],
    quorum: { required: 1, received: 0 },
    expiresAt: EXPIRES_AT,
    outcome: 'denied',
    decidedAt: '2026-03-02T09:40:00Z',
    decisions: [
      {
        approverId: 'mallory<!channel>',
        decision: 'deny',
        at: '2026-03-02T09:40:00Z',
        reason: 'no <https://evil.example|click here> & <!here>',
      },
    ],
  });
  const pending = pendingMessage(hostile);

  it.each([
    ['the decided message', message],
    ['the pending message', pending],
  ])('neutralises channel pings, user and channel mentions and disguised links in %s', (_name, built) => {
    const text = allText(built);
    for (const token of [
      '<!channel>',
      '<!here>',
      '<!everyone>',
      '<!subteam',
      '<https://',
      '<@U0ADMIN>',
      '<#C0SECRET>',
    ]) {
      expect(text).not.toContain(token);
    }
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('&lt;https://evil.example/login|the runbook&gt;');
    expect(text).toContain('&amp; &lt;@U0ADMIN&gt; &lt;#C0SECRET&gt;');
    // Every `<` left in the text opens a token this module built: a Slack date, or nothing else.
    for (const match of text.matchAll(/<([^>]*)>/g)) expect(match[1]).toMatch(/^!date\^\d+\^/);
  });

  it('keeps a single-line value on one line, so it cannot forge a line of its own', () => {
    const who = sectionFields(pending, 1);
    expect(who).toContain('*Workflow*\ndeploy *Approved by the CISO*');
  });

  it('shows an approver without a well-formed Slack id by escaped name, never as markup', () => {
    expect(allText(message)).toContain(':no_entry: *Denied* by mallory&lt;!channel&gt;');
    const spoofed = approvalDecidedMessage({
      request: accessRequest(),
      approvalGroups: [],
      quorum: { required: 1, received: 1 },
      expiresAt: EXPIRES_AT,
      outcome: 'approved',
      decidedAt: '2026-03-02T09:40:00Z',
      decisions: [{ approverId: 'eve', slackUserId: 'U1> <!channel', decision: 'approve', at: '2026-03-02T09:40:00Z' }],
    });
    expect(allText(spoofed)).toContain('*Approved* by eve ');
    expect(allText(spoofed)).not.toContain('<!channel');
  });

  it('drops control and bidirectional-override characters', () => {
    expect(escapeMrkdwn('a\u202Eb\u0000c\u2066d\u0007e\nf\tg')).toBe('abcde\nf\tg');
  });

  it('escapes & before < and >, so escapes are not doubled', () => {
    expect(escapeMrkdwn('<a & b>')).toBe('&lt;a &amp; b&gt;');
    expect(escapeMrkdwn('&lt;')).toBe('&amp;lt;');
  });
});

describe("Slack's length limits", () => {
  const long = accessRequest({
    purpose: '&'.repeat(5000),
    ticket: 'T'.repeat(3000),
    namespaces: Array.from({ length: 400 }, (_, index) => `namespace-${index}`),
    principal: { ...GITHUB_PRINCIPAL, id: `github:${'<'.repeat(2500)}` },
  });

  it('cuts every text to its limit, with an ellipsis, without splitting an escape', () => {
    const message = pendingMessage(long);
    for (const block of message.blocks) {
      if (block.type === 'section') {
        if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        expect(block.fields?.length ?? 0).toBeLessThanOrEqual(SLACK_LIMITS.sectionFields);
        for (const field of block.fields ?? [])
          expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionField);
      }
      if (block.type === 'context') {
        for (const element of block.elements) expect(element.text.length).toBeLessThanOrEqual(SLACK_LIMITS.contextText);
      }
      if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    }
    expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);

    const purpose = message.blocks[3];
    const purposeText = purpose?.type === 'section' ? (purpose.text?.text ?? '') : '';
    expect(purposeText.endsWith('&amp;…')).toBe(true);
    expect(purposeText.replace('*Purpose*\n', '').replace('…', '')).toMatch(/^(&amp;)+$/);
  });

  it('bounded() leaves short text alone and never splits a surrogate pair', () => {
    expect(bounded('short', 10)).toBe('short');
    const rockets = '\u{1F680}'.repeat(10);
    const cut = bounded(rockets, 6);
    expect(cut).toBe('\u{1F680}\u{1F680}…');
    expect(cut.length).toBeLessThanOrEqual(6);
  });

  it('keeps whole decision lines and counts the ones that do not fit', () => {
    const decisions = Array.from({ length: 40 }, (_, index) => ({
      approverId: `approver-${index}`,
      decision: 'approve' as const,
      at: '2026-03-02T09:40:00Z',
      reason: 'r'.repeat(400),
    }));
    const message = approvalDecidedMessage({
      request: accessRequest(),
      approvalGroups: ['big'],
      quorum: { required: 40, received: 40 },
      expiresAt: EXPIRES_AT,
      outcome: 'approved',
      decidedAt: '2026-03-02T09:40:00Z',
      decisions,
    });
    const outcome = message.blocks.at(-1);
    const text = outcome?.type === 'section' ? (outcome.text?.text ?? '') : '';
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(text).toMatch(/…and \d+ more$/);
    // Every kept decision line is whole: it ends its date token and carries its full reason line.
    const kept = text.split('\n').filter((line) => line.startsWith(':white_check_mark:'));
    expect(kept.length).toBeGreaterThan(0);
    expect(Number(/and (\d+) more/.exec(text)?.[1]) + kept.length).toBe(40);
  });

  it('cuts a long decision reason', () => {
    const message = approvalDecidedMessage({
      request: accessRequest(),
      approvalGroups: [],
      quorum: { required: 1, received: 0 },
      expiresAt: EXPIRES_AT,
      outcome: 'denied',
      decidedAt: '2026-03-02T09:40:00Z',
      decisions: [{ approverId: 'bob', decision: 'deny', at: '2026-03-02T09:40:00Z', reason: 'x'.repeat(5000) }],
    });
    const reason = /Reason: (.*)$/.exec(allText(message))?.[1] ?? '';
    expect(reason.length).toBe(500);
    expect(reason.endsWith('…')).toBe(true);
  });
});

describe('approvalDecidedMessage', () => {
  const base = {
    request: accessRequest(),
    approvalGroups: ['platform-oncall'],
    expiresAt: EXPIRES_AT,
    decidedAt: '2026-03-02T09:45:00Z',
  };
  const decidedEpoch = Date.parse('2026-03-02T09:45:00Z') / 1000;

  it('replaces the buttons with who approved, where, when and why', () => {
    const message = approvalDecidedMessage({
      ...base,
      quorum: { required: 2, received: 2 },
      outcome: 'approved',
      decisions: [
        {
          approverId: 'alice',
          slackUserId: 'U012AB3CD',
          decision: 'approve',
          at: '2026-03-02T09:31:00Z',
          via: 'slack',
        },
        {
          approverId: 'bob',
          name: 'Bob Builder',
          decision: 'approve',
          at: '2026-03-02T09:45:00Z',
          via: 'email',
          reason: 'checked the runbook',
        },
      ],
    });
    expect(buttons(message)).toEqual([]);
    expect(message.blocks.some((block) => block.type === 'actions')).toBe(false);
    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { text: 'Access request approved' } });
    const outcome = message.blocks.at(-1);
    expect(outcome).toEqual({
      type: 'section',
      block_id: DECISION_BLOCK_ID,
      text: {
        type: 'mrkdwn',
        verbatim: true,
        text:
          `:white_check_mark: *Approved* by <@U012AB3CD> in Slack <!date^${Date.parse('2026-03-02T09:31:00Z') / 1000}` +
          '^{date_short_pretty} at {time}|2026-03-02 09:31 UTC>\n' +
          `:white_check_mark: *Approved* by Bob Builder by email <!date^${decidedEpoch}` +
          '^{date_short_pretty} at {time}|2026-03-02 09:45 UTC>\nReason: checked the runbook',
      },
    });
    // The summary is still there.
    expect(sectionFields(message, 2)).toContain('*Cluster*\nprod-eu');
    expect(message.text.endsWith(': approved')).toBe(true);
  });

  it('shows who denied and the reason', () => {
    const message = approvalDecidedMessage({
      ...base,
      quorum: { required: 1, received: 0 },
      outcome: 'denied',
      decisions: [
        {
          approverId: 'carol',
          slackUserId: 'W0CAROL1',
          decision: 'deny',
          at: '2026-03-02T09:45:00Z',
          via: 'local',
          reason: 'not during the freeze',
        },
      ],
    });
    expect(message.blocks[0]).toMatchObject({ text: { text: 'Access request denied' } });
    expect(allText(message)).toContain(
      `:no_entry: *Denied* by <@W0CAROL1> in the local inbox <!date^${decidedEpoch}^{date_short_pretty} at {time}|` +
        '2026-03-02 09:45 UTC>\nReason: not during the freeze',
    );
    expect(buttons(message)).toEqual([]);
    expect(message.text.endsWith(': denied')).toBe(true);
  });

  it('says a request expired, when, and how far the quorum got', () => {
    const message = approvalDecidedMessage({
      ...base,
      decidedAt: EXPIRES_AT,
      quorum: { required: 2, received: 1 },
      outcome: 'expired',
      decisions: [{ approverId: 'alice', slackUserId: 'U012AB3CD', decision: 'approve', at: '2026-03-02T09:31:00Z' }],
    });
    expect(message.blocks[0]).toMatchObject({ text: { text: 'Access request expired' } });
    const outcome = message.blocks.at(-1);
    const text = outcome?.type === 'section' ? (outcome.text?.text ?? '') : '';
    expect(text.split('\n')[0]).toBe(
      `:hourglass: *Expired* <!date^${EXPIRES_EPOCH}^{date_short_pretty} at {time}|2026-03-02 10:30 UTC> ` +
        'without a decision (1 of 2 approvals).',
    );
    expect(text).toContain(':white_check_mark: *Approved* by <@U012AB3CD>');
    expect(buttons(message)).toEqual([]);
    expect(message.text.endsWith(': expired')).toBe(true);
  });

  it('still says what happened when no decision is listed', () => {
    const message = approvalDecidedMessage({
      ...base,
      quorum: { required: 1, received: 0 },
      outcome: 'denied',
      decisions: [],
    });
    expect(allText(message)).toContain(`:no_entry: *Denied* <!date^${decidedEpoch}^`);
  });

  it('says where each approver answered', () => {
    const at = '2026-03-02T09:45:00Z';
    const message = approvalDecidedMessage({
      ...base,
      quorum: { required: 2, received: 2 },
      outcome: 'approved',
      decisions: [
        { approverId: 'dana', decision: 'approve', at, via: 'api' },
        { approverId: 'erin', decision: 'approve', at },
      ],
    });
    expect(allText(message)).toContain('*Approved* by dana through the API <!date^');
    expect(allText(message)).toContain('*Approved* by erin <!date^');
  });

  it('counts a single required approval in the singular', () => {
    const message = approvalDecidedMessage({
      ...base,
      decidedAt: EXPIRES_AT,
      quorum: { required: 1, received: 0 },
      outcome: 'expired',
      decisions: [],
    });
    expect(allText(message)).toContain('without a decision (0 of 1 approval).');
    expect(allText(message)).toContain('· 0 of 1 approval');
  });
});

describe('fallbackText and formatDuration', () => {
  it('escapes and flattens the notification text', () => {
    const text = fallbackText(
      accessRequest({ principal: { ...GITHUB_PRINCIPAL, id: 'github:<!channel>\nx' }, access: 'a&b' }),
      'pending',
    );
    expect(text).toContain('from github:&lt;!channel&gt; x: a&amp;b on prod-eu');
    expect(text).not.toContain('<');
  });

  it.each([
    [3600, '1 h'],
    [5400, '1 h 30 min'],
    [900, '15 min'],
    [45, '45 s'],
    [3725, '1 h 2 min 5 s'],
    [0, '0 s'],
  ])('formats %i seconds as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

/** The mrkdwn field texts of the section block at `index`. */
function sectionFields(message: SlackMessage, index: number): string[] {
  const block = message.blocks[index];
  if (block?.type !== 'section') throw new Error(`block ${index} is not a section`);
  return (block.fields ?? []).map((field) => field.text);
}
