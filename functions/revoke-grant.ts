/** POST /v1/grants/{id}/revoke: immediate revocation by the requester or an admin. */
import * as z from 'zod';
import { eksAccessEntries } from './lib/aws-adapters.ts';
import { apiHandler, json, parseJsonBody, pathId } from './lib/http.ts';

const RevokeBodySchema = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();

export const handler = apiHandler(
  async (event, context) => {
    const { runtime, principal } = context;
    const { reason } = parseJsonBody(event, RevokeBodySchema, runtime.loaded.config.api.maxBodyBytes, {
      optional: true,
    });
    const grant = await runtime.service.revokeGrant(principal, pathId(event, 'grt'), reason);
    return json(200, { id: grant.id, status: grant.status, revokedAt: grant.revokedAt, revokedBy: grant.revokedBy });
  },
  { adapters: { entries: eksAccessEntries } },
);
