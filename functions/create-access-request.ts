/**
 * POST /v1/access-requests: authenticate, validate, decide with Cedar; grant now and answer 201 with the first credential,
 * or answer 202 while the approvers are asked.
 */
import { accessRequestBodySchema } from '#shared/access/request-schema.ts';
import {
  eksAccessEntries,
  kmsRelayCredentialSigner,
  sfnLifecycleScheduler,
  stsTokenMinter,
} from './lib/aws-adapters.ts';
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
    const outcome = key
      ? await requestAccessOnce(runtime, context, principal, key, body)
      : await runtime.service.requestAccess(principal, body);
    const self = `/v1/access-requests/${outcome.requestId}`;
    if (outcome.status === 'pending') {
      return json(
        202,
        {
          id: outcome.requestId,
          status: 'pending',
          approvalGroups: outcome.approvalGroups,
          approvalExpiresAt: outcome.approvalExpiresAt,
          pollUrl: self,
          links: { self, token: `${self}/token` },
        },
        { Location: self },
      );
    }
    const credential = await runtime.service.issueToken(principal, outcome.requestId);
    return json(
      201,
      {
        id: outcome.requestId,
        status: 'granted',
        grantId: outcome.grantId,
        cluster: outcome.cluster,
        namespaces: outcome.namespaces,
        access: outcome.access,
        expiresAt: outcome.expiresAt,
        credential,
        links: { self, token: `${self}/token`, revoke: `/v1/grants/${outcome.grantId}/revoke` },
      },
      { Location: self },
    );
  },
  {
    adapters: {
      minter: stsTokenMinter,
      relaySigner: kmsRelayCredentialSigner,
      entries: eksAccessEntries,
      scheduler: sfnLifecycleScheduler,
    },
  },
);
