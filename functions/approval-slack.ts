/**
 * POST /v1/approvals/slack: Slack's interactivity endpoint. The signature over the raw body is checked before anything
 * else (constant time, five-minute window); the clicking Slack user is mapped to an approver at decision time.
 */
import {
  AlreadyDecidedError,
  ApprovalClosedError,
  ApprovalNotFoundError,
  NotAnApproverError,
  SelfApprovalError,
} from '#shared/approvals/errors.ts';
import { NotAvailableError, RequestValidationError } from '#shared/access/errors.ts';
import { parseSlackInteraction, SlackPayloadError } from '#shared/slack/interaction.ts';
import { APPROVE_ACTION_ID } from '#shared/slack/messages.ts';
import { slackSignatureHeaders, verifySlackSignature } from '#shared/slack/signature.ts';
import { secretsManagerSecrets, slackMessenger } from './lib/approval-channel-adapters.ts';
import { sfnTaskCallbacks } from './lib/aws-adapters.ts';
import { apiHandler, json, readRawBody } from './lib/http.ts';
import { approvalChannels } from './lib/approval-channels.ts';

/** A request that Slack did not sign, or signed too long ago: answered 401, recorded, and nothing decided. */
export class SlackSignatureError extends Error {
  override name = 'SlackSignatureError';
}

/** Slack interaction payloads are a few kilobytes; anything much larger is not Slack. */
const MAX_SLACK_BODY_BYTES = 64 * 1024;

/** What the clicking approver is told when their click decided nothing (Slack shows it only to them). */
const REFUSALS: [new (...args: never[]) => Error, string][] = [
  [AlreadyDecidedError, 'You have already decided on this request.'],
  [ApprovalClosedError, 'This request is no longer waiting for approval.'],
  [ApprovalNotFoundError, 'This request is no longer waiting for approval.'],
  [SelfApprovalError, 'You cannot approve your own request.'],
  [NotAnApproverError, 'You are not an approver of this request.'],
];

export const handler = apiHandler(
  async (event, context) => {
    const { runtime } = context;
    const raw = readRawBody(event, MAX_SLACK_BODY_BYTES);
    const signingSecret = await runtime.secrets.slackSigningSecret();
    if (!signingSecret) throw new NotAvailableError('Slack approvals are not configured');
    const verdict = verifySlackSignature({
      signingSecret,
      ...slackSignatureHeaders(event.headers),
      rawBody: raw,
      now: new Date(),
    });
    if (!verdict.ok) {
      await runtime.audit.append({
        type: 'approval.refused',
        stream: `slack/${new Date().toISOString().slice(0, 10)}`,
        actor: { id: 'slack' },
        details: { reason: `signature-${verdict.reason}`, channel: 'slack' },
      });
      throw new SlackSignatureError(`the Slack request signature is ${verdict.reason}`);
    }
    let action;
    try {
      action = parseSlackInteraction(raw);
    } catch (error) {
      if (error instanceof SlackPayloadError)
        throw new RequestValidationError(`not a Gatehouse button: ${error.reason}`);
      throw error;
    }
    try {
      await runtime.approvals.decide({
        requestId: action.requestId,
        identity: { slackUserId: action.userId },
        decision: action.actionId === APPROVE_ACTION_ID ? 'approve' : 'deny',
        channel: 'slack',
      });
    } catch (error) {
      const refusal = REFUSALS.find(([kind]) => error instanceof kind);
      if (!refusal) throw error;
      return json(200, { response_type: 'ephemeral', replace_original: false, text: refusal[1] });
    }
    const request = await runtime.service.requestOf(action.requestId);
    if (request) await approvalChannels(runtime).refreshSlack(request);
    return json(200, {});
  },
  {
    authenticate: false,
    adapters: { secrets: secretsManagerSecrets, callbacks: sfnTaskCallbacks, slack: slackMessenger },
  },
);
