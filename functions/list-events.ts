/**
 * GET /v1/events: audit events for auditors, by time range (`from`, `to`; the last day by default, at most 31 days),
 * `actor`, `cluster`, `namespace`, `grantId` and `type`, `limit` per page (100 by default, 1000 at most), and the
 * `cursor` of the page before. The read itself is recorded (`audit.queried`); a non-auditor is refused and recorded.
 */
import { apiHandler, json } from './lib/http.ts';

export const handler = apiHandler(async (event, context) => {
  const { runtime, principal } = context;
  const answer = await runtime.auditors.queryEvents(principal, event.queryStringParameters ?? {});
  return json(200, answer);
});
