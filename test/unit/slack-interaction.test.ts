/**
 * Slack interaction payloads as Slack sends them to the interactivity URL (form-encoded `payload=<json>`), shaped after
 * the block_actions payload reference, parsed into a Gatehouse button click; everything else is refused by name.
 */
import { describe, expect, it } from 'vitest';
import { SlackPayloadError, parseSlackInteraction } from '../../shared/slack/interaction.ts';
import type { SlackPayloadFailureReason } from '../../shared/slack/interaction.ts';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, approvalRequestMessage } from '../../shared/slack/messages.ts';
import { signSlackRequest, slackSignatureHeaders, verifySlackSignature } from '../../shared/slack/signature.ts';

const REQUEST_ID = 'req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D';
const VERIFICATION_TOKEN = 'Shh_its_a_seekrit_xyzz0WbapA4vBCDEFasx0q6G';
const RESPONSE_URL = 'https://hooks.slack.com/actions/T0CAG4B0R/6543210987654/AbCdEfGhIjKlMnOpQrStUvWx';

type Json = Record<string, unknown>;

/** A click on the Approve button of a Gatehouse message in #platform-approvals, as Slack delivers it. */
function blockActions(overrides: Json = {}, action: Json = {}): Json {
  return {
    type: 'block_actions',
    user: { id: 'U012AB3CD', username: 'alice', name: 'alice', team_id: 'T0CAG4B0R' },
    api_app_id: 'A06GATEHSE',
    token: VERIFICATION_TOKEN,
    container: { type: 'message', message_ts: '1772443800.000200', channel_id: 'C0APPROVAL', is_ephemeral: false },
    trigger_id: '6543210987654.1234567890123.0a1b2c3d4e5f60718293a4b5c6d7e8f9',
    team: { id: 'T0CAG4B0R', domain: 'acme' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: 'C0APPROVAL', name: 'platform-approvals' },
    message: {
      type: 'message',
      subtype: 'bot_message',
      text: 'Access request awaiting approval',
      ts: '1772443800.000200',
      bot_id: 'B06GATEHSE',
      blocks: [],
    },
    state: { values: {} },
    response_url: RESPONSE_URL,
    actions: [
      {
        action_id: APPROVE_ACTION_ID,
        block_id: 'gatehouse_decision',
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value: REQUEST_ID,
        style: 'primary',
        type: 'button',
        action_ts: '1772443812.345678',
        ...action,
      },
    ],
    ...overrides,
  };
}

function formBody(payload: unknown): string {
  return new URLSearchParams({ payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }).toString();
}

function expectRefused(body: string, reason: SlackPayloadFailureReason, fields?: string[]): SlackPayloadError {
  let caught: unknown;
  try {
    parseSlackInteraction(body);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SlackPayloadError);
  const error = caught as SlackPayloadError;
  expect(error.name).toBe('SlackPayloadError');
  expect(error.reason).toBe(reason);
  if (fields) expect(error.fields).toEqual(fields);
  expect(error.message).not.toContain(VERIFICATION_TOKEN);
  return error;
}

describe('parseSlackInteraction', () => {
  it('parses a click on Approve', () => {
    expect(parseSlackInteraction(formBody(blockActions()))).toEqual({
      type: 'block_actions',
      userId: 'U012AB3CD',
      teamId: 'T0CAG4B0R',
      actionId: 'gatehouse_approve',
      requestId: REQUEST_ID,
      channelId: 'C0APPROVAL',
      messageTs: '1772443800.000200',
      responseUrl: RESPONSE_URL,
    });
  });

  it('parses a click on Deny, from a body given as bytes', () => {
    const body = Buffer.from(formBody(blockActions({}, { action_id: DENY_ACTION_ID, style: 'danger' })), 'utf8');
    expect(parseSlackInteraction(body)).toMatchObject({ actionId: 'gatehouse_deny', requestId: REQUEST_ID });
  });

  it('round-trips the button that approvalRequestMessage built', () => {
    const message = approvalRequestMessage({
      request: {
        id: REQUEST_ID,
        principal: { id: 'dev:ci', issuer: 'http://127.0.0.1', issuerName: 'dev', subject: 'ci', groups: [] },
        status: 'pending',
        cluster: 'prod',
        namespaces: ['default'],
        access: 'view',
        durationSeconds: 900,
        purpose: 'debug',
        via: 'direct',
        createdAt: '2026-03-02T09:30:00Z',
        updatedAt: '2026-03-02T09:30:00Z',
      },
      approvalGroups: ['oncall'],
      quorum: { required: 1, received: 0 },
      expiresAt: '2026-03-02T10:30:00Z',
    });
    const actions = message.blocks.find((block) => block.type === 'actions');
    const deny = actions?.type === 'actions' ? actions.elements[1] : undefined;
    expect(deny).toBeDefined();
    const payload = blockActions({}, { ...deny, block_id: actions?.block_id });
    expect(parseSlackInteraction(formBody(payload))).toMatchObject({ actionId: DENY_ACTION_ID, requestId: REQUEST_ID });
  });

  it('parses a body only after it verifies as Slack signs it, and the same body tampered does not verify', () => {
    const signingSecret = 'interaction-test-signing-secret';
    const at = new Date('2026-03-02T09:30:12Z');
    const body = formBody(blockActions());
    const { headers } = signSlackRequest({ signingSecret, rawBody: body, at });

    const verified = verifySlackSignature({ signingSecret, ...slackSignatureHeaders(headers), rawBody: body, now: at });
    expect(verified).toEqual({ ok: true });
    expect(parseSlackInteraction(body).actionId).toBe(APPROVE_ACTION_ID);

    // An attacker swapping Approve for Deny (or the request id) in a captured body breaks the signature.
    const tampered = body.replace(APPROVE_ACTION_ID, DENY_ACTION_ID);
    expect(parseSlackInteraction(tampered).actionId).toBe(DENY_ACTION_ID);
    expect(
      verifySlackSignature({ signingSecret, ...slackSignatureHeaders(headers), rawBody: tampered, now: at }),
    ).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('takes the team from the user when an org-wide install sends team: null', () => {
    const payload = blockActions({
      team: null,
      is_enterprise_install: true,
      enterprise: { id: 'E0ACME', name: 'Acme' },
    });
    expect(parseSlackInteraction(formBody(payload)).teamId).toBe('T0CAG4B0R');
  });

  it('accepts a payload without the optional channel object', () => {
    const { channel: _channel, ...payload } = blockActions();
    expect(parseSlackInteraction(formBody(payload)).channelId).toBe('C0APPROVAL');
  });

  it('accepts a loopback response_url only when the local runtime allows its host', () => {
    const payload = formBody(blockActions({ response_url: 'http://127.0.0.1:4555/slack/response/1' }));
    expectRefused(payload, 'invalid_payload', ['response_url']);
    expect(parseSlackInteraction(payload, { responseUrlHosts: ['127.0.0.1'] }).responseUrl).toBe(
      'http://127.0.0.1:4555/slack/response/1',
    );
  });

  describe('refuses', () => {
    it('a JSON body (Slack sends interactions form-encoded)', () => {
      expectRefused(JSON.stringify(blockActions()), 'not_form_encoded');
    });

    it('a form without a payload field, or with two', () => {
      expectRefused('token=abc&user_id=U012AB3CD', 'missing_payload');
      expectRefused('', 'missing_payload');
      const one = formBody(blockActions());
      expectRefused(`${one}&${one}`, 'missing_payload');
    });

    it('a payload that is not a JSON object', () => {
      expectRefused('payload=%7Bnot-json', 'invalid_json');
      expectRefused(formBody('[1,2]'), 'invalid_json');
      expectRefused(formBody('"block_actions"'), 'invalid_json');
      expectRefused(formBody('null'), 'invalid_json');
    });

    it.each(['view_submission', 'view_closed', 'shortcut', 'message_action', 'interactive_message'])(
      'a %s interaction',
      (type) => {
        expectRefused(formBody(blockActions({ type })), 'unsupported_type', ['type']);
      },
    );

    it('a click in a modal', () => {
      const payload = blockActions({ container: { type: 'view', view_id: 'V0123456' } });
      expectRefused(formBody(payload), 'unsupported_type', ['container.type']);
    });

    it('a button that is not ours, or an element that is not a button', () => {
      expectRefused(formBody(blockActions({}, { action_id: 'approve' })), 'unknown_action');
      expectRefused(formBody(blockActions({}, { type: 'static_select' })), 'unknown_action');
    });

    it('more than one action, or none', () => {
      const action = (blockActions().actions as Json[])[0];
      expectRefused(formBody(blockActions({ actions: [action, action] })), 'invalid_payload', ['actions']);
      expectRefused(formBody(blockActions({ actions: [] })), 'invalid_payload', ['actions']);
    });

    it('a button without a request id, or with one no Gatehouse message carries', () => {
      expectRefused(formBody(blockActions({}, { value: undefined })), 'invalid_payload', ['actions.0.value']);
      expectRefused(formBody(blockActions({}, { value: 'req_1 <!channel>' })), 'invalid_payload', ['actions.0.value']);
      expectRefused(formBody(blockActions({}, { value: 'r'.repeat(129) })), 'invalid_payload', ['actions.0.value']);
    });

    it('a payload without a user, or with a malformed user id', () => {
      const { user: _user, ...noUser } = blockActions();
      expectRefused(formBody(noUser), 'invalid_payload', ['user']);
      expectRefused(formBody(blockActions({ user: { id: 'alice' } })), 'invalid_payload', ['user.id']);
    });

    it('a payload with no team anywhere', () => {
      expectRefused(formBody(blockActions({ team: null, user: { id: 'U012AB3CD' } })), 'invalid_payload', ['team.id']);
    });

    it('a payload without the message timestamp or channel', () => {
      const container = { type: 'message', is_ephemeral: false };
      expectRefused(formBody(blockActions({ container })), 'invalid_payload', [
        'container.message_ts',
        'container.channel_id',
      ]);
    });

    it('a channel object that disagrees with the container', () => {
      expectRefused(formBody(blockActions({ channel: { id: 'C0ELSEWHRE' } })), 'invalid_payload', ['channel.id']);
    });

    it.each([
      ['another host', 'https://evil.example/actions/T0CAG4B0R/1/x'],
      ['a look-alike host', 'https://hooks.slack.com.evil.example/actions/1'],
      ['plain http to Slack', 'http://hooks.slack.com/actions/T0CAG4B0R/1/x'],
      ['credentials in the URL', 'https://user:pass@hooks.slack.com/actions/1'],
      ['not a URL', 'hooks.slack.com/actions'],
    ])('a response_url to %s', (_name, url) => {
      expectRefused(formBody(blockActions({ response_url: url })), 'invalid_payload', ['response_url']);
    });

    it('without repeating what the payload held', () => {
      const error = expectRefused(
        formBody(blockActions({ user: { id: '<!channel> secret-value' } })),
        'invalid_payload',
      );
      expect(error.message).toBe('the interaction payload lacks a required field (user.id)');
    });
  });
});
