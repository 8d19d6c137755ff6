/**
 * The PATCH content types the apiserver accepts
 * (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/):
 * JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch, whose lists of objects merge by a key
 * (containers by name…) and which carries `$patch`, `$retainKeys`, `$setElementOrder/…` and
 * `$deleteFromPrimitiveList/…` directives
 * (https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md).
 */
import { badRequest, ApiStatusError } from './status.ts';

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Obj = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointerParts(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer ${pointer}`);
  return pointer.slice(1).split('/').map(unescapePointer);
}

function parentOf(doc: unknown, parts: string[]): { parent: unknown; key: string } {
  let node = doc;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(part)];
    else if (isObject(node)) node = node[part];
    else node = undefined;
    if (node === undefined) throw unprocessable(`doc is missing path: /${parts.join('/')}`);
  }
  return { parent: node, key: parts[parts.length - 1] as string };
}

function unprocessable(message: string): ApiStatusError {
  return new ApiStatusError(422, 'Invalid', message);
}

function getPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const part of pointerParts(pointer)) {
    if (Array.isArray(node)) node = node[Number(part)];
    else if (isObject(node)) node = node[part];
    else node = undefined;
    if (node === undefined) throw unprocessable(`doc is missing path: ${pointer}`);
  }
  return node;
}

function removePointer(doc: unknown, pointer: string): unknown {
  const { parent, key } = parentOf(doc, pointerParts(pointer));
  if (Array.isArray(parent)) {
    const index = Number(key);
    if (!(index >= 0 && index < parent.length)) throw unprocessable(`doc is missing path: ${pointer}`);
    return parent.splice(index, 1)[0];
  }
  if (!isObject(parent) || !(key in parent)) throw unprocessable(`doc is missing path: ${pointer}`);
  const value = parent[key];
  delete parent[key];
  return value;
}

function addPointer(doc: unknown, pointer: string, value: unknown, replace: boolean): unknown {
  const parts = pointerParts(pointer);
  if (parts.length === 0) return structuredClone(value);
  const { parent, key } = parentOf(doc, parts);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!(index >= 0 && index <= parent.length)) throw unprocessable(`doc is missing path: ${pointer}`);
    if (replace) parent[index] = structuredClone(value);
    else parent.splice(index, 0, structuredClone(value));
  } else if (isObject(parent)) {
    if (replace && !(key in parent)) throw unprocessable(`doc is missing path: ${pointer}`);
    parent[key] = structuredClone(value);
  } else {
    throw unprocessable(`doc is missing path: ${pointer}`);
  }
  return doc;
}

/** RFC 6902. */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json patch must be an array of operations');
  let doc = structuredClone(target);
  for (const op of operations as Obj[]) {
    const path = String(op.path ?? '');
    switch (op.op) {
      case 'add':
        doc = addPointer(doc, path, op.value, false);
        break;
      case 'replace':
        doc = addPointer(doc, path, op.value, true);
        break;
      case 'remove':
        removePointer(doc, path);
        break;
      case 'move': {
        const value = removePointer(doc, String(op.from));
        doc = addPointer(doc, path, value, false);
        break;
      }
      case 'copy':
        doc = addPointer(doc, path, getPointer(doc, String(op.from)), false);
        break;
      case 'test':
        if (JSON.stringify(getPointer(doc, path)) !== JSON.stringify(op.value)) {
          throw unprocessable(`testing value ${path} failed`);
        }
        break;
      default:
        throw badRequest(`unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

/**
 * The patchMergeKey of the lists that merge rather than replace, by field name. The real table comes from the Go
 * struct tags of each kind; field names are distinct enough across the kinds served here to key on the name alone.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
  conditions: 'type',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
};
/** Lists of primitives that merge (as sets) rather than replace. */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, value: unknown[]): string | undefined {
  if (field === 'ports') {
    // Container ports merge on containerPort, service ports on port.
    const first = value.find(isObject);
    return first && 'containerPort' in first ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
}

function strategicList(field: string, original: unknown, patch: unknown[], deletions: unknown[]): unknown[] {
  const base = Array.isArray(original) ? structuredClone(original) : [];
  if (MERGED_PRIMITIVE_LISTS.has(field) && patch.every((v) => !isObject(v))) {
    const out = base.filter((v) => !deletions.includes(v));
    for (const v of patch) if (!out.includes(v)) out.push(v);
    return out;
  }
  if (deletions.length > 0) {
    return base.filter((v) => !deletions.includes(v));
  }
  const key = mergeKeyFor(field, patch);
  if (!key) {
    if (patch.some((v) => isObject(v) && v.$patch === 'replace')) return [];
    return structuredClone(patch.filter((v) => !(isObject(v) && '$patch' in v)));
  }
  if (patch.some((v) => isObject(v) && v.$patch === 'replace')) {
    return structuredClone(patch.filter((v) => !(isObject(v) && v.$patch === 'replace')));
  }
  let out = base;
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = out.findIndex((v) => isObject(v) && v[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) out = out.filter((_, i) => i !== index);
      continue;
    }
    if (index >= 0) out[index] = strategicMergePatch(out[index], item);
    else out.push(strategicMergePatch({}, item));
  }
  return out;
}

function orderBy(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const position = (v: unknown): number => {
    const id = key && isObject(v) ? v[key] : v;
    const i = order.findIndex((o) => (key && isObject(o) ? o[key] : o) === id);
    return i < 0 ? order.length : i;
  };
  return [...list].sort((a, b) => position(a) - position(b));
}

/** Strategic merge patch of one object. */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'delete') return undefined;
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return structuredClone(rest);
  }
  let out: Obj = isObject(target) ? { ...target } : {};
  const retainKeys = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : undefined;
  const orders: Record<string, unknown[]> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith('$setElementOrder/')) {
      orders[key.slice('$setElementOrder/'.length)] = value as unknown[];
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      out[field] = strategicList(field, out[field], [], value as unknown[]);
      continue;
    }
    if (value === null) {
      delete out[key];
    } else if (Array.isArray(value)) {
      out[key] = strategicList(key, out[key], value, []);
    } else if (isObject(value)) {
      const merged = strategicMergePatch(out[key], value);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  for (const [field, order] of Object.entries(orders)) {
    if (Array.isArray(out[field])) out[field] = orderBy(out[field] as unknown[], order, mergeKeyFor(field, order));
  }
  if (retainKeys) {
    out = Object.fromEntries(Object.entries(out).filter(([k]) => retainKeys.includes(k)));
  }
  return out;
}
