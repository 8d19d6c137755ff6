/**
 * GET /v1/evidence?from&to&cursor: the evidence of a range for auditors, page by page: every event, then the signed
 * digests that cover them (their exact stored bytes) and the public keys they name. `gatehouse evidence` walks the
 * pages and writes the bundle. Each page read is recorded (`evidence.exported`).
 */
import { s3ArchiveStore } from './lib/archive-store.ts';
import { apiHandler, json } from './lib/http.ts';

export const handler = apiHandler(
  async (event, context) => {
    const { runtime, principal } = context;
    const answer = await runtime.auditors.exportEvidence(principal, event.queryStringParameters ?? {});
    return json(200, answer);
  },
  { adapters: { archive: s3ArchiveStore } },
);
