/**
 * POST /v1/access-requests/{id}/token: a fresh ExecCredential while the grant is active, for the requester only: an EKS
 * token for a direct grant, a relay credential for a relay grant.
 */
import { kmsRelayCredentialSigner, stsTokenMinter } from './lib/aws-adapters.ts';
import { apiHandler, json, pathId } from './lib/http.ts';

export const handler = apiHandler(
  async (event, context) => {
    const credential = await context.runtime.service.issueToken(context.principal, pathId(event, 'req'));
    return json(200, credential);
  },
  { adapters: { minter: stsTokenMinter, relaySigner: kmsRelayCredentialSigner } },
);
