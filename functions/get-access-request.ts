/**
 * GET /v1/access-requests/{id}: the request's status, its approvals and its grant, for the requester or an admin.
 * `?waitSeconds=N&unlike=pending` long-polls: it answers as soon as the status is no longer `pending` (at most 20 s,
 * under API Gateway's 29 s limit).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestValidationError } from '#shared/access/errors.ts';
import { apiHandler, json, pathId } from './lib/http.ts';

const MAX_WAIT_SECONDS = 20;

export const handler = apiHandler(async (event, context) => {
  const { runtime, principal } = context;
  const id = pathId(event, 'req');
  const waitSeconds = Number(event.queryStringParameters?.waitSeconds ?? 0);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
    throw new RequestValidationError(`waitSeconds must be a whole number from 0 to ${MAX_WAIT_SECONDS}`);
  }
  const unlike = event.queryStringParameters?.unlike;
  const { request, grant } =
    waitSeconds > 0 && unlike
      ? await runtime.service.awaitRequestChange(principal, id, unlike, waitSeconds * 1000, (ms) => sleep(ms))
      : await runtime.service.getRequest(principal, id);
  const approval = await runtime.approvals.get(request.id);
  return json(200, {
    id: request.id,
    status: request.status,
    requester: request.principal.id,
    cluster: request.cluster,
    namespaces: request.namespaces,
    access: request.access,
    durationSeconds: request.durationSeconds,
    purpose: request.purpose,
    ticket: request.ticket,
    via: request.via,
    createdAt: request.createdAt,
    updatedAt: request.updatedAt,
    decision: request.decision,
    approval: approval && {
      status: approval.status,
      groups: approval.requirement.groups,
      expiresAt: approval.expiresAt,
      decisions: approval.decisions.map(({ approverId, decision, reason, channel, at }) => ({
        approverId,
        decision,
        reason,
        channel,
        at,
      })),
    },
    grant: grant && {
      id: grant.id,
      status: grant.status,
      createdAt: grant.createdAt,
      expiresAt: grant.expiresAt,
      revokedAt: grant.revokedAt,
      revokedBy: grant.revokedBy,
    },
  });
});
