/**
 * The in-memory object store: one resourceVersion counter for every object (as etcd's revision is), uid and
 * creationTimestamp on create, a history of changes so a watch can start at a resourceVersion, and the watchers that are
 * told of each change (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
 */
import { randomUUID } from 'node:crypto';
import type { ResourceDef } from './resources.ts';
import { groupVersion } from './resources.ts';

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
};

/** A watch event as sent on the wire. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

interface Change {
  resourceVersion: number;
  resource: string;
  namespace: string;
  event: WatchEvent;
}

/** A function told of every change to one resource. */
export interface Watcher {
  resource: string;
  onEvent: (event: WatchEvent, namespace: string) => void;
}

/** `group/resource`, the store's key for a resource. */
export const resourceKey = (def: Pick<ResourceDef, 'group' | 'name'>): string => `${def.group}/${def.name}`;
const objectKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The metadata of an object, made present. */
export function meta(object: KubeObject): Record<string, unknown> {
  object.metadata ??= {};
  return object.metadata;
}

export class ObjectStore {
  private revision = 1;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();

  /** The latest resourceVersion, as a number. */
  get currentRevision(): number {
    return this.revision;
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(resource, bucket);
    }
    return bucket;
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    const found = this.bucket(resource).get(objectKey(namespace, name));
    return found && structuredClone(found);
  }

  /** Every object of a resource (in one namespace when given), sorted by namespace then name. */
  list(resource: string, namespace?: string): KubeObject[] {
    return [...this.bucket(resource).entries()]
      .filter(([, o]) => namespace === undefined || (meta(o).namespace ?? '') === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  /** Store a new object: uid, creationTimestamp, resourceVersion and generation are set here. */
  create(def: ResourceDef, object: KubeObject): KubeObject {
    const m = meta(object);
    m.uid = randomUUID();
    m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    // Only kinds with a spec track generations (ConfigMaps and Secrets carry none).
    if ('spec' in object) m.generation = 1;
    return this.write(def, object, 'ADDED');
  }

  /** Replace a stored object with a new resourceVersion. */
  update(def: ResourceDef, object: KubeObject): KubeObject {
    return this.write(def, object, 'MODIFIED');
  }

  delete(def: ResourceDef, namespace: string, name: string): KubeObject | undefined {
    const key = objectKey(namespace, name);
    const existing = this.bucket(resourceKey(def)).get(key);
    if (!existing) return undefined;
    this.bucket(resourceKey(def)).delete(key);
    const gone = structuredClone(existing);
    meta(gone).resourceVersion = String(++this.revision);
    this.record(resourceKey(def), namespace, { type: 'DELETED', object: gone });
    return structuredClone(gone);
  }

  private write(def: ResourceDef, object: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    const m = meta(object);
    object.apiVersion = groupVersion(def);
    object.kind = def.kind;
    m.resourceVersion = String(++this.revision);
    const namespace = def.namespaced ? String(m.namespace) : '';
    if (!def.namespaced) delete m.namespace;
    const stored = structuredClone(object);
    this.bucket(resourceKey(def)).set(objectKey(namespace, String(m.name)), stored);
    this.record(resourceKey(def), namespace, { type, object: structuredClone(stored) });
    return structuredClone(stored);
  }

  private record(resource: string, namespace: string, event: WatchEvent): void {
    this.history.push({ resourceVersion: this.revision, resource, namespace, event });
    for (const watcher of this.watchers) {
      if (watcher.resource === resource) watcher.onEvent(structuredClone(event), namespace);
    }
  }

  /** Changes to a resource after a resourceVersion, oldest first. */
  changesSince(resource: string, resourceVersion: number): { event: WatchEvent; namespace: string }[] {
    return this.history
      .filter((c) => c.resource === resource && c.resourceVersion > resourceVersion)
      .map((c) => ({ event: structuredClone(c.event), namespace: c.namespace }));
  }

  watch(watcher: Watcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }
}
