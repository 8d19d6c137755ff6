/** GET /healthz: liveness, with the versions of the configuration and policies this instance loaded. */
import { apiHandler, json } from './lib/http.ts';

export const handler = apiHandler(
  async (_event, context) => {
    const { loaded, policy } = context.runtime;
    return json(200, {
      status: 'ok',
      versions: { config: loaded.versions.config, policies: policy.version },
      policies: policy.policyIds.length,
      clusters: loaded.config.clusters.map((cluster) => cluster.name),
    });
  },
  { authenticate: false },
);
