/**
 * The server-side printing kubectl asks for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables): a `meta.k8s.io/v1` Table
 * with column definitions per kind (after the apiserver's printers in pkg/printers/internalversion) and one row per
 * object, whose `object` is a PartialObjectMetadata, the full object or absent per `includeObject`.
 */
type Obj = Record<string, unknown>;

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority?: number;
  cell: (object: Obj, now: number) => unknown;
}

const get = (object: unknown, path: string): unknown => {
  let value: unknown = object;
  for (const part of path.split('.')) value = value && typeof value === 'object' ? (value as Obj)[part] : undefined;
  return value;
};
const str = (v: unknown, fallback = '<none>'): string =>
  v === undefined || v === null || v === '' ? fallback : String(v);
const count = (v: unknown): number => (v && typeof v === 'object' ? Object.keys(v).length : 0);

/** k8s.io/apimachinery's duration.HumanDuration, as the AGE column shows it. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0) return '<invalid>';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

const since = (timestamp: unknown, now: number): string =>
  typeof timestamp === 'string' ? humanDuration(now - Date.parse(timestamp)) : '<unknown>';

const NAME: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (o) => get(o, 'metadata.name'),
};
const AGE: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => since(get(o, 'metadata.creationTimestamp'), now),
};

function podReady(o: Obj): string {
  const containers = (get(o, 'spec.containers') as unknown[] | undefined) ?? [];
  const statuses = (get(o, 'status.containerStatuses') as Obj[] | undefined) ?? [];
  return `${statuses.filter((s) => s.ready === true).length}/${containers.length}`;
}

function podRestarts(o: Obj): number {
  const statuses = (get(o, 'status.containerStatuses') as Obj[] | undefined) ?? [];
  return statuses.reduce((sum, s) => sum + (typeof s.restartCount === 'number' ? s.restartCount : 0), 0);
}

function servicePorts(o: Obj): string {
  const ports = (get(o, 'spec.ports') as Obj[] | undefined) ?? [];
  if (ports.length === 0) return '<none>';
  return ports
    .map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${str(p.protocol, 'TCP')}`)
    .join(',');
}

function selectorText(selector: unknown): string {
  if (!selector || typeof selector !== 'object') return '<none>';
  const labels = ((selector as Obj).matchLabels ?? selector) as Record<string, string>;
  const text = Object.entries(labels)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return text || '<none>';
}

const containerField = (field: string) => (o: Obj) =>
  (((get(o, 'spec.template.spec.containers') as Obj[] | undefined) ?? []).map((c) => c[field]) as string[]).join(',');

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      description: 'The aggregate readiness state of this pod for accepting traffic.',
      cell: podReady,
    },
    {
      name: 'Status',
      type: 'string',
      description: 'The aggregate status of the containers in this pod.',
      cell: (o) => (get(o, 'metadata.deletionTimestamp') ? 'Terminating' : str(get(o, 'status.phase'), 'Pending')),
    },
    {
      name: 'Restarts',
      type: 'string',
      description: 'The number of times the containers in this pod have been restarted.',
      cell: (o) => String(podRestarts(o)),
    },
    AGE,
    {
      name: 'IP',
      type: 'string',
      priority: 1,
      description: 'IP address allocated to the pod.',
      cell: (o) => str(get(o, 'status.podIP')),
    },
    {
      name: 'Node',
      type: 'string',
      priority: 1,
      description: 'Name of the Node this pod is assigned to.',
      cell: (o) => str(get(o, 'spec.nodeName')),
    },
    {
      name: 'Nominated Node',
      type: 'string',
      priority: 1,
      description: 'Nominated node name.',
      cell: (o) => str(get(o, 'status.nominatedNodeName')),
    },
    { name: 'Readiness Gates', type: 'string', priority: 1, description: 'Readiness gates.', cell: () => '<none>' },
  ],
  Namespace: [
    NAME,
    {
      name: 'Status',
      type: 'string',
      description: 'The status of the namespace',
      cell: (o) => str(get(o, 'status.phase'), 'Active'),
    },
    AGE,
  ],
  ConfigMap: [
    NAME,
    {
      name: 'Data',
      type: 'string',
      description: 'Number of data keys.',
      cell: (o) => String(count(o.data) + count(o.binaryData)),
    },
    AGE,
  ],
  Secret: [
    NAME,
    { name: 'Type', type: 'string', description: 'The type of the secret', cell: (o) => str(o.type, 'Opaque') },
    { name: 'Data', type: 'string', description: 'The number of data keys.', cell: (o) => String(count(o.data)) },
    AGE,
  ],
  Service: [
    NAME,
    {
      name: 'Type',
      type: 'string',
      description: 'The type of service.',
      cell: (o) => str(get(o, 'spec.type'), 'ClusterIP'),
    },
    { name: 'Cluster-IP', type: 'string', description: 'The cluster IP.', cell: (o) => str(get(o, 'spec.clusterIP')) },
    {
      name: 'External-IP',
      type: 'string',
      description: 'External IPs.',
      cell: (o) => str((get(o, 'spec.externalIPs') as string[] | undefined)?.join(',')),
    },
    { name: 'Port(s)', type: 'string', description: 'Ports of the service.', cell: servicePorts },
    AGE,
    {
      name: 'Selector',
      type: 'string',
      priority: 1,
      description: 'The selector of the service.',
      cell: (o) => selectorText(get(o, 'spec.selector')),
    },
  ],
  Event: [
    {
      name: 'Last Seen',
      type: 'string',
      description: 'Time since the event was last seen.',
      cell: (o, now) => since(o.lastTimestamp ?? o.eventTime ?? get(o, 'metadata.creationTimestamp'), now),
    },
    { name: 'Type', type: 'string', description: 'Type of this event.', cell: (o) => str(o.type, 'Normal') },
    { name: 'Reason', type: 'string', description: 'Why the event happened.', cell: (o) => str(o.reason, '') },
    {
      name: 'Object',
      type: 'string',
      description: 'The object this event is about.',
      cell: (o) =>
        `${String(get(o, 'involvedObject.kind') ?? '').toLowerCase()}/${str(get(o, 'involvedObject.name'), '')}`,
    },
    { name: 'Message', type: 'string', description: 'A description of the event.', cell: (o) => str(o.message, '') },
  ],
  Deployment: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      description: 'Number of the pod with ready state.',
      cell: (o) => `${Number(get(o, 'status.readyReplicas') ?? 0)}/${Number(get(o, 'spec.replicas') ?? 1)}`,
    },
    {
      name: 'Up-to-date',
      type: 'integer',
      description: 'Updated replicas.',
      cell: (o) => Number(get(o, 'status.updatedReplicas') ?? 0),
    },
    {
      name: 'Available',
      type: 'integer',
      description: 'Available replicas.',
      cell: (o) => Number(get(o, 'status.availableReplicas') ?? 0),
    },
    AGE,
    {
      name: 'Containers',
      type: 'string',
      priority: 1,
      description: 'Names of each container.',
      cell: containerField('name'),
    },
    {
      name: 'Images',
      type: 'string',
      priority: 1,
      description: 'Images of each container.',
      cell: containerField('image'),
    },
    {
      name: 'Selector',
      type: 'string',
      priority: 1,
      description: 'Label selector.',
      cell: (o) => selectorText(get(o, 'spec.selector')),
    },
  ],
  Job: [
    NAME,
    {
      name: 'Status',
      type: 'string',
      description: 'Status of the job.',
      cell: (o) =>
        Number(get(o, 'status.succeeded') ?? 0) >= Number(get(o, 'spec.completions') ?? 1) ? 'Complete' : 'Running',
    },
    {
      name: 'Completions',
      type: 'string',
      description: 'The desired number of successfully finished pods the job should be run with.',
      cell: (o) => `${Number(get(o, 'status.succeeded') ?? 0)}/${Number(get(o, 'spec.completions') ?? 1)}`,
    },
    {
      name: 'Duration',
      type: 'string',
      description: 'Time required to complete the job.',
      cell: (o, now) => since(get(o, 'status.startTime'), now),
    },
    AGE,
  ],
};

function columnsFor(kind: string): Column[] {
  return COLUMNS[kind] ?? [NAME, { ...AGE, name: 'Created At', type: 'date' }];
}

/** `includeObject`: None, Metadata (the default) or Object. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(object: Obj, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

/** A Table of these objects of one kind. */
export function toTable(
  kind: string,
  objects: Obj[],
  include: IncludeObject,
  listMetadata: Obj = {},
  now = Date.now(),
): Record<string, unknown> {
  const columns = columnsFor(kind);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMetadata,
    columnDefinitions: columns.map(({ name, type, format, description, priority }) => ({
      name,
      type,
      format: format ?? '',
      description,
      priority: priority ?? 0,
    })),
    rows: objects.map((object) => ({
      cells: columns.map((c) => c.cell(object, now)),
      ...(include === 'None' ? {} : { object: rowObject(object, include) }),
    })),
  };
}

/** True when the Accept header asks for a meta.k8s.io Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some(
      (part) => /;\s*as=Table/.test(part) && /;\s*g=meta\.k8s\.io/.test(part) && /;\s*v=v1(;|$|\s)/.test(part + ';'),
    );
}
