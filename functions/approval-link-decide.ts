/** POST /v1/approvals/{approvalId}: the approver's button on the confirmation page; the link works once. */
import { parseDecisionForm } from '#shared/approvals/confirmation-page.ts';
import { secretsManagerSecrets, slackMessenger } from './lib/approval-channel-adapters.ts';
import { sfnTaskCallbacks } from './lib/aws-adapters.ts';
import { approvalChannels } from './lib/approval-channels.ts';
import { apiHandler, html, readRawBody } from './lib/http.ts';

export const handler = apiHandler(
  async (event, context) => {
    const linkId = event.pathParameters?.approvalId ?? '';
    const token = event.queryStringParameters?.t ?? '';
    const form = parseDecisionForm(readRawBody(event, 8192).toString('utf8'));
    const page = await approvalChannels(context.runtime).links.decide(linkId, token, form);
    return html(page.status, page.html);
  },
  {
    authenticate: false,
    adapters: { secrets: secretsManagerSecrets, callbacks: sfnTaskCallbacks, slack: slackMessenger },
  },
);
