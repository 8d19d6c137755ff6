/** The Lambda handlers the local runtime serves: the very modules the CDK app bundles. */
import { handler as approvalClose } from '../functions/approval-close.ts';
import { handler as approvalHeartbeat } from '../functions/approval-heartbeat.ts';
import { handler as approvalLinkDecide } from '../functions/approval-link-decide.ts';
import { handler as approvalLinkPage } from '../functions/approval-link-page.ts';
import { handler as approvalNotify } from '../functions/approval-notify.ts';
import { handler as approvalSlack } from '../functions/approval-slack.ts';
import { handler as createAccessRequest } from '../functions/create-access-request.ts';
import { handler as getAccessRequest } from '../functions/get-access-request.ts';
import { handler as getEvidence } from '../functions/get-evidence.ts';
import { handler as healthz } from '../functions/healthz.ts';
import { handler as issueToken } from '../functions/issue-token.ts';
import { handler as listEvents } from '../functions/list-events.ts';
import { handler as lifecycleGrant } from '../functions/lifecycle-grant.ts';
import { handler as lifecycleRevoke } from '../functions/lifecycle-revoke.ts';
import { handler as revokeGrant } from '../functions/revoke-grant.ts';
import type { Route } from './api-server.ts';

export { approvalClose, approvalHeartbeat, approvalNotify, lifecycleGrant, lifecycleRevoke };

/** The API Gateway routes of infra/control-plane-stack.ts. */
export const routes: Route[] = [
  { method: 'POST', resource: '/v1/access-requests', handler: createAccessRequest },
  { method: 'GET', resource: '/v1/access-requests/{id}', handler: getAccessRequest },
  { method: 'POST', resource: '/v1/access-requests/{id}/token', handler: issueToken },
  { method: 'POST', resource: '/v1/grants/{id}/revoke', handler: revokeGrant },
  { method: 'POST', resource: '/v1/approvals/slack', handler: approvalSlack },
  { method: 'GET', resource: '/v1/approvals/{approvalId}', handler: approvalLinkPage },
  { method: 'POST', resource: '/v1/approvals/{approvalId}', handler: approvalLinkDecide },
  { method: 'GET', resource: '/v1/events', handler: listEvents },
  { method: 'GET', resource: '/v1/evidence', handler: getEvidence },
  { method: 'GET', resource: '/healthz', handler: healthz },
];
