/** GET /v1/access-requests/{id}: the request's status and its grant, for the requester or an admin. */
import { apiHandler, json, pathId } from './lib/http.ts';

export const handler = apiHandler(async (event, context) => {
  const { request, grant } = await context.runtime.service.getRequest(context.principal, pathId(event, 'req'));
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
    approvals: [],
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
