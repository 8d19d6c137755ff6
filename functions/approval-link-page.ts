/** GET /v1/approvals/{approvalId}: the email link's confirmation page. It shows the request and decides nothing. */
import { secretsManagerSecrets } from './lib/approval-channel-adapters.ts';
import { approvalChannels } from './lib/approval-channels.ts';
import { apiHandler, html } from './lib/http.ts';

export const handler = apiHandler(
  async (event, context) => {
    const linkId = event.pathParameters?.approvalId ?? '';
    const token = event.queryStringParameters?.t ?? '';
    // The form posts back to this very link, token included. requestContext.path is the path the browser used (with
    // API Gateway's stage prefix, e.g. /live/v1/approvals/...); event.path lacks the stage.
    const action = `${event.requestContext.path}?t=${encodeURIComponent(token)}`;
    const page = await approvalChannels(context.runtime).links.page(linkId, token, action);
    return html(page.status, page.html);
  },
  { authenticate: false, adapters: { secrets: secretsManagerSecrets } },
);
