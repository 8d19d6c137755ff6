/** POST /v1/access-requests: authenticate, validate, decide with Cedar, grant now, answer with the first credential. */
import { accessRequestBodySchema } from '#shared/access/request-schema.ts';
import { eksAccessEntries, sfnLifecycleScheduler, stsTokenMinter } from './lib/aws-adapters.ts';
import { apiHandler, json, parseJsonBody } from './lib/http.ts';
import { requestAccessOnce } from './lib/idempotency.ts';

export const handler = apiHandler(
  async (event, context) => {
    const { runtime, principal } = context;
    const { api } = runtime.loaded.config;
    const body = await runtime.service.recordRejections(principal, () =>
      parseJsonBody(event, accessRequestBodySchema(api), api.maxBodyBytes),
    );
    const key = event.headers['idempotency-key'];
    const granted = key
      ? await requestAccessOnce(runtime, context, principal, key, body)
      : await runtime.service.requestAccess(principal, body);
    const credential = await runtime.service.issueToken(principal, granted.requestId);
    const self = `/v1/access-requests/${granted.requestId}`;
    return json(
      201,
      {
        id: granted.requestId,
        status: 'granted',
        grantId: granted.grantId,
        cluster: granted.cluster,
        namespaces: granted.namespaces,
        access: granted.access,
        expiresAt: granted.expiresAt,
        credential,
        links: { self, token: `${self}/token`, revoke: `/v1/grants/${granted.grantId}/revoke` },
      },
      { Location: self },
    );
  },
  { adapters: { minter: stsTokenMinter, entries: eksAccessEntries, scheduler: sfnLifecycleScheduler } },
);
