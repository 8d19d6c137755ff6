/**
 * The resources the test API server knows, and the discovery documents built from them (`/api`, `/apis`,
 * `/api/v1`, `/apis/<group>/<version>`), as the apiserver serves them for legacy (unaggregated) discovery:
 * https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api
 */

/** A subresource listed in discovery, e.g. `pods/log`. */
export interface SubresourceDef {
  name: string;
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
}

/** One resource of one group version. */
export interface ResourceDef {
  group: string;
  version: string;
  /** Plural, lower case: the URL segment (`pods`). */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources: SubresourceDef[];
  /** Review resources (SelfSubjectAccessReview…) are created and answered, never stored. */
  virtual?: boolean;
}

const CRUD = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS = (kind: string): SubresourceDef => ({ name: 'status', kind, verbs: ['get', 'patch', 'update'] });

/** Every resource served, in discovery order. */
export const RESOURCES: readonly ResourceDef[] = [
  {
    group: '',
    version: 'v1',
    name: 'namespaces',
    singularName: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
    subresources: [STATUS('Namespace')],
  },
  {
    group: '',
    version: 'v1',
    name: 'pods',
    singularName: 'pod',
    kind: 'Pod',
    namespaced: true,
    verbs: CRUD,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      STATUS('Pod'),
    ],
  },
  {
    group: '',
    version: 'v1',
    name: 'configmaps',
    singularName: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    verbs: CRUD,
    shortNames: ['cm'],
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    name: 'secrets',
    singularName: 'secret',
    kind: 'Secret',
    namespaced: true,
    verbs: CRUD,
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    name: 'services',
    singularName: 'service',
    kind: 'Service',
    namespaced: true,
    verbs: CRUD,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: [STATUS('Service')],
  },
  {
    group: '',
    version: 'v1',
    name: 'events',
    singularName: 'event',
    kind: 'Event',
    namespaced: true,
    verbs: CRUD,
    shortNames: ['ev'],
    subresources: [],
  },
  {
    group: 'apps',
    version: 'v1',
    name: 'deployments',
    singularName: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    verbs: CRUD,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [
      { name: 'scale', kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' },
      STATUS('Deployment'),
    ],
  },
  {
    group: 'batch',
    version: 'v1',
    name: 'jobs',
    singularName: 'job',
    kind: 'Job',
    namespaced: true,
    verbs: CRUD,
    categories: ['all'],
    subresources: [STATUS('Job')],
  },
  ...[
    ['selfsubjectaccessreviews', 'SelfSubjectAccessReview', false],
    ['selfsubjectrulesreviews', 'SelfSubjectRulesReview', false],
    ['subjectaccessreviews', 'SubjectAccessReview', false],
    ['localsubjectaccessreviews', 'LocalSubjectAccessReview', true],
  ].map(([name, kind, namespaced]): ResourceDef => ({
    group: 'authorization.k8s.io',
    version: 'v1',
    name: name as string,
    singularName: (name as string).replace(/s$/, ''),
    kind: kind as string,
    namespaced: namespaced as boolean,
    verbs: ['create'],
    subresources: [],
    virtual: true,
  })),
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    name: 'selfsubjectreviews',
    singularName: 'selfsubjectreview',
    kind: 'SelfSubjectReview',
    namespaced: false,
    verbs: ['create'],
    subresources: [],
    virtual: true,
  },
];

/** `apps/v1`, or `v1` for the core group. */
export function groupVersion(def: { group: string; version: string }): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** The resource served at group/version/plural, if any. */
export function findResource(group: string, version: string, name: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.name === name);
}

/** The resource whose objects have this apiVersion and kind. */
export function resourceForKind(apiVersion: string, kind: string): ResourceDef | undefined {
  return RESOURCES.find((r) => groupVersion(r) === apiVersion && r.kind === kind);
}

/** Named groups (not the core group), each with its versions. */
function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (r.group === '') continue;
    const versions = out.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    out.set(r.group, versions);
  }
  return out;
}

/** `/api`: the core group's versions. */
export function apiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] };
}

/** `/apis`: every named group. */
export function apiGroupList(): unknown {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups()].map(([name, versions]) => apiGroup(name, versions)),
  };
}

/** `/apis/<group>`: one group, or undefined when not served. */
export function apiGroupDocument(name: string): unknown {
  const versions = groups().get(name);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, versions) } : undefined;
}

/** `/api/v1`, `/apis/<group>/<version>`: the APIResourceList, or undefined when the group version is not served. */
export function apiResourceList(group: string, version: string): unknown {
  const defs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (defs.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const r of defs) {
    resources.push({
      name: r.name,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) {
      resources.push({
        name: `${r.name}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion({ group, version }), resources };
}
