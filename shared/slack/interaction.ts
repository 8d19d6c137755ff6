/**
 * Slack's interaction request (a button click), as Slack POSTs it to the interactivity URL:
 * `application/x-www-form-urlencoded` with one field, `payload`, holding JSON
 * (https://docs.slack.dev/interactivity/handling-user-interaction#payloads, and the `block_actions` payload reference).
 *
 * Parse only after the signature verified (shared/slack/signature.ts). Only a click on a Gatehouse Approve or Deny button
 * in a channel message is accepted; anything else is a {@link SlackPayloadError} whose message names the problem and never
 * repeats what the payload held (it carries Slack's verification token, and user text).
 */
import * as z from 'zod';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, REQUEST_ID_PATTERN } from './messages.ts';
import type { GatehouseActionId } from './messages.ts';

/** A Gatehouse button click, reduced to what the decision needs. */
export interface SlackBlockAction {
  type: 'block_actions';
  /** The Slack user who clicked, to be mapped to an approver. */
  userId: string;
  /** Their workspace: a user id is unique only within it. */
  teamId: string;
  actionId: GatehouseActionId;
  /** The button's value: the access request id. */
  requestId: string;
  channelId: string;
  /** The message's `ts`, for chat.update. */
  messageTs: string;
  /** Where Slack accepts a reply for 30 minutes (up to five uses). */
  responseUrl: string;
}

/** Why an interaction was refused. */
export type SlackPayloadFailureReason =
  'not_form_encoded' | 'missing_payload' | 'invalid_json' | 'unsupported_type' | 'unknown_action' | 'invalid_payload';

const MESSAGES: Record<SlackPayloadFailureReason, string> = {
  not_form_encoded: 'the interaction body is not application/x-www-form-urlencoded',
  missing_payload: 'the interaction body has no single payload field',
  invalid_json: 'the interaction payload is not JSON',
  unsupported_type: 'the interaction is not a button click on a message',
  unknown_action: 'the interaction is not a Gatehouse Approve or Deny button',
  invalid_payload: 'the interaction payload lacks a required field',
};

/** An interaction Gatehouse does not handle, or a malformed one. `fields` names the offending paths, never values. */
export class SlackPayloadError extends Error {
  override name = 'SlackPayloadError';
  readonly reason: SlackPayloadFailureReason;
  readonly fields: string[];

  constructor(reason: SlackPayloadFailureReason, fields: string[] = []) {
    super(fields.length > 0 ? `${MESSAGES[reason]} (${fields.join(', ')})` : MESSAGES[reason]);
    this.reason = reason;
    this.fields = fields;
  }
}

export interface ParseSlackInteractionOptions {
  /**
   * Hosts a `response_url` may point at. Slack's are hooks.slack.com and, on GovSlack, hooks.slack-gov.com; the local
   * runtime adds its own when it plays Slack. Anything else is refused, so a reply is never sent elsewhere.
   * @default ['hooks.slack.com', 'hooks.slack-gov.com']
   */
  responseUrlHosts?: string[];
}

export const DEFAULT_RESPONSE_URL_HOSTS = ['hooks.slack.com', 'hooks.slack-gov.com'];

/** Slack ids: an upper-case letter (U/W users, T/E teams, C/G/D conversations) then upper-case letters and digits. */
const slackId = (prefixes: string) => z.string().regex(new RegExp(`^[${prefixes}][A-Z0-9]{2,30}$`));
/** A message timestamp, `1700000000.123456`. */
const messageTs = z.string().regex(/^\d{9,12}\.\d{1,9}$/);

const BlockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: slackId('UW'), team_id: slackId('TE').optional() }),
  team: z.object({ id: slackId('TE') }).nullish(),
  container: z.object({
    type: z.literal('message'),
    message_ts: messageTs,
    channel_id: slackId('CGD'),
  }),
  channel: z.object({ id: slackId('CGD') }).optional(),
  response_url: z.string().url(),
  actions: z
    .array(
      z.object({
        type: z.string(),
        action_id: z.string(),
        value: z.string().optional(),
      }),
    )
    .length(1),
});

/** Parses the raw body of Slack's interaction POST into a Gatehouse button click. */
export function parseSlackInteraction(
  rawBody: string | Uint8Array,
  options: ParseSlackInteractionOptions = {},
): SlackBlockAction {
  const body = typeof rawBody === 'string' ? rawBody : new TextDecoder('utf-8', { fatal: false }).decode(rawBody);
  if (body.trimStart().startsWith('{')) throw new SlackPayloadError('not_form_encoded');
  const form = new URLSearchParams(body);
  const payloads = form.getAll('payload');
  if (payloads.length !== 1) throw new SlackPayloadError('missing_payload');

  let json: unknown;
  try {
    json = JSON.parse(payloads[0] as string);
  } catch {
    throw new SlackPayloadError('invalid_json');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SlackPayloadError('invalid_json');

  const { type, container, actions } = json as Record<string, unknown>;
  // Other interaction kinds (view_submission, shortcut, message_action, ...) and clicks in a modal or on the App Home
  // are someone else's business, and say so before the field checks.
  if (type !== 'block_actions') throw new SlackPayloadError('unsupported_type', ['type']);
  if (
    typeof container === 'object' &&
    container !== null &&
    (container as Record<string, unknown>).type !== 'message'
  ) {
    throw new SlackPayloadError('unsupported_type', ['container.type']);
  }
  if (Array.isArray(actions) && actions.length === 1) {
    const action = actions[0] as Record<string, unknown> | null;
    const actionId = action?.action_id;
    if (action?.type !== 'button' || (actionId !== APPROVE_ACTION_ID && actionId !== DENY_ACTION_ID)) {
      throw new SlackPayloadError('unknown_action', ['actions.0.action_id']);
    }
  }

  const parsed = BlockActionsSchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(root)'))];
    throw new SlackPayloadError('invalid_payload', fields);
  }
  const payload = parsed.data;
  const action = payload.actions[0] as (typeof payload.actions)[number];

  const requestId = action.value;
  if (requestId === undefined || !REQUEST_ID_PATTERN.test(requestId)) {
    throw new SlackPayloadError('invalid_payload', ['actions.0.value']);
  }

  // Org-wide (Enterprise Grid) installs may send `team: null`; the user's own team id then names the workspace.
  const teamId = payload.team?.id ?? payload.user.team_id;
  if (teamId === undefined) throw new SlackPayloadError('invalid_payload', ['team.id']);

  if (payload.channel !== undefined && payload.channel.id !== payload.container.channel_id) {
    throw new SlackPayloadError('invalid_payload', ['channel.id']);
  }

  const hosts = options.responseUrlHosts ?? DEFAULT_RESPONSE_URL_HOSTS;
  if (!isAllowedResponseUrl(payload.response_url, hosts)) {
    throw new SlackPayloadError('invalid_payload', ['response_url']);
  }

  return {
    type: 'block_actions',
    userId: payload.user.id,
    teamId,
    actionId: action.action_id as GatehouseActionId,
    requestId,
    channelId: payload.container.channel_id,
    messageTs: payload.container.message_ts,
    responseUrl: payload.response_url,
  };
}

/** https on an allowed host; plain http only on loopback, where the local runtime and tests play Slack. */
function isAllowedResponseUrl(value: string, hosts: string[]): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (!hosts.includes(url.hostname)) return false;
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
}
