/**
 * A minimal OpenAPI v3 tree (https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3): the `/openapi/v3`
 * index of group versions, and per group version one PATCH operation per resource tagged with
 * `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter. That is what kubectl's QueryParamVerifierV3
 * looks for before `apply`/`create` with `--validate=strict` (the default): finding it, kubectl leaves validation to the
 * server (`?fieldValidation=Strict`) instead of downloading `/openapi/v2` in protobuf to validate itself. No schemas are
 * served, so client-side apply computes its strategic merge patch from kubectl's built-in types.
 */
import { groupVersion, RESOURCES } from './resources.ts';

const HASH = 'k8s-api-server-test';

function prefix(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** `/openapi/v3`. */
export function openApiIndex(): unknown {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const r of RESOURCES) {
    const p = prefix(r.group, r.version);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${HASH}` };
  }
  return { paths };
}

/** `/openapi/v3/<api/v1 | apis/group/version>`, or undefined when not served. */
export function openApiGroupVersion(path: string): unknown {
  const defs = RESOURCES.filter((r) => prefix(r.group, r.version) === path);
  if (defs.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const r of defs) {
    const base = `/${path}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}/{name}`;
    paths[base] = {
      patch: {
        description: `partially update the specified ${r.kind}`,
        operationId: `patch${r.kind}`,
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
        ],
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas: {} },
    'x-group-version': groupVersion(defs[0] as { group: string; version: string }),
  };
}
