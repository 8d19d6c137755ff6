/**
 * A Kubernetes API server of our own for tests: enough of the apiserver's documented behaviour
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/) that the real kubectl and @kubernetes/client-node work
 * against it — discovery, an in-memory store with resourceVersions, list paging and selectors, Table output, watch,
 * create/update/patch/apply/delete, pod logs (followed), exec/attach over WebSocket in a per-pod sandbox, and
 * SelfSubjectAccessReview — while recording every request (headers, Impersonate-*, Accept) for assertions.
 *
 * ```ts
 * const api = await startK8sApiServer();
 * await api.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' },
 *   spec: { containers: [{ name: 'app', image: 'nginx' }] } });
 * const kubeconfig = api.writeKubeconfig(dir);
 * // kubectl --kubeconfig <kubeconfig> get pods
 * api.appendLog('default', 'web', 'hello');
 * expect(api.requests.some((r) => r.impersonateUser === 'alice')).toBe(true);
 * await api.close();
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { parse as parseYaml } from 'yaml';
import { applyDefaults, containerNames, validateObject } from './k8s-api-server/defaults.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './k8s-api-server/patch.ts';
import {
  serveStream,
  spawnExec,
  STREAM_PROTOCOLS,
  type StreamHandler,
  type StreamRecord,
  type StreamResult,
} from './k8s-api-server/remotecommand.ts';
import {
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  findResource,
  groupVersion,
  resourceForKind,
  RESOURCES,
  type ResourceDef,
} from './k8s-api-server/resources.ts';
import { openApiGroupVersion, openApiIndex } from './k8s-api-server/openapi.ts';
import { decodeProtobuf } from './k8s-api-server/protobuf.ts';
import { parseFieldSelector, parseLabelSelector } from './k8s-api-server/selectors.ts';
import {
  alreadyExists,
  ApiStatusError,
  badRequest,
  conflict,
  notFound,
  pathNotFound,
  qualifiedResource,
} from './k8s-api-server/status.ts';
import { meta, ObjectStore, resourceKey, type KubeObject, type WatchEvent } from './k8s-api-server/store.ts';
import { toTable, wantsTable, type IncludeObject } from './k8s-api-server/table.ts';

export type { KubeObject, WatchEvent } from './k8s-api-server/store.ts';
export type { StreamHandler, StreamRecord, StreamResult, StreamSession } from './k8s-api-server/remotecommand.ts';
export { ApiStatusError } from './k8s-api-server/status.ts';

type Obj = Record<string, unknown>;

/** Who a request acts as: the token's user, or the impersonated one. */
export interface UserInfo {
  username: string;
  groups: string[];
}

/** What an authorization decision is asked about, as the apiserver's authorizer attributes. */
export interface AuthorizationAttributes {
  user: string;
  groups: string[];
  verb: string;
  /** Empty for non-resource requests. */
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  apiGroup: string;
  /** Set for non-resource requests (`/version`…). */
  path?: string;
}

/** Allowed or not; `true`/`false` or with a reason. */
export type Authorizer = (attributes: AuthorizationAttributes) => boolean | { allowed: boolean; reason?: string };

/** One HTTP request as the server received it. */
export interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case header names; repeated headers joined by `, ` as Node does. */
  headers: Record<string, string | string[] | undefined>;
  accept: string | undefined;
  contentType: string | undefined;
  hasAuthorization: boolean;
  /** The bearer token matched a known one. */
  authenticated: boolean;
  impersonateUser: string | undefined;
  impersonateGroups: string[];
  /** `Impersonate-Extra-*` headers, by the key after the prefix. */
  impersonateExtra: Record<string, string[]>;
  /** The effective user, once authenticated. */
  user: UserInfo | undefined;
  /** `websocket`, `SPDY/3.1`… for upgrade requests. */
  upgrade: string | undefined;
  /** The request body as text, once read. */
  body?: string;
  /** The response status, once sent (101 for an accepted upgrade). */
  status?: number;
}

/**
 * A test's own handling of a request, asked before the server's: return true when it answered (wrote `res`), false to
 * let the server answer.
 */
export type RequestHook = (
  req: IncomingMessage,
  res: ServerResponse,
  request: RecordedRequest,
) => boolean | Promise<boolean>;

export interface K8sApiServerOptions {
  /** The bearer token accepted as the admin user. Default: random. */
  token?: string;
  /** The user the token authenticates as. Default `test-admin` in `system:masters`. */
  tokenUser?: UserInfo;
  /** More tokens and their users. */
  users?: Record<string, UserInfo>;
  /** Authenticates a bearer token no fixed token matches (an EKS token, checked as aws-iam-authenticator would). */
  authenticateToken?: (token: string) => UserInfo | undefined;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Answers SelfSubjectAccessReviews (and every request when `enforceAuthorization`). Default: allow all. */
  authorize?: Authorizer;
  /** Also refuse resource requests the authorizer denies, with 403 Forbidden. Default false. */
  enforceAuthorization?: boolean;
  /** Namespaces that exist at start. Default `default`, `kube-system`, `kube-public`. */
  namespaces?: string[];
  /** `/version`'s gitVersion. Default `v1.32.0`. */
  gitVersion?: string;
  /** How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK. Default 5 s. */
  bookmarkIntervalMs?: number;
}

/** A running test API server. */
export interface K8sApiServer {
  /** `http://127.0.0.1:<port>` or `https://…`. */
  url: string;
  /** The admin bearer token. */
  token: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** Every exec and attach session, oldest first. */
  streams: StreamRecord[];
  /** Stores an object as a client's create would (defaults, uid, resourceVersion); a given status is kept. */
  create(object: KubeObject): KubeObject;
  /** A stored object, or undefined. */
  get(apiVersion: string, kind: string, namespace: string, name: string): KubeObject | undefined;
  /** Stored objects of a kind, in one namespace when given. */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** Replaces a stored object (new resourceVersion; watchers see MODIFIED). */
  update(object: KubeObject): KubeObject;
  /** Deletes a stored object (watchers see DELETED). */
  remove(apiVersion: string, kind: string, namespace: string, name: string): KubeObject | undefined;
  /** Appends text to a container's log; each line ends with a newline. Default container: the pod's first. */
  appendLog(namespace: string, pod: string, text: string, container?: string): void;
  /** Ends a container's log: followers get the end of their stream. */
  endLog(namespace: string, pod: string, container?: string): void;
  /** The pod's sandbox directory, where exec runs (created on first use). */
  sandbox(namespace: string, pod: string): string;
  /** Answer requests first (undefined to remove). */
  setHandler(hook: RequestHook | undefined): void;
  /** Replace the exec behaviour (undefined restores spawning the real command). */
  setExecHandler(handler: StreamHandler | undefined): void;
  /** Replace the attach behaviour (undefined restores the default). */
  setAttachHandler(handler: StreamHandler | undefined): void;
  /** Replace the authorizer. */
  setAuthorizer(authorize: Authorizer): void;
  /** A kubeconfig (YAML) for this server with the admin token, or the token and impersonation given. */
  kubeconfig(options?: {
    token?: string;
    namespace?: string;
    impersonate?: string;
    impersonateGroups?: string[];
  }): string;
  /** Writes `kubeconfig()` to `<dir>/kubeconfig` and returns the path. */
  writeKubeconfig(dir: string, options?: Parameters<K8sApiServer['kubeconfig']>[0]): string;
  /** Ends every watch, follow and stream session, and stops listening. */
  close(): Promise<void>;
}

interface LogStream {
  lines: { time: string; text: string }[];
  ended: boolean;
  followers: Set<(line?: { time: string; text: string }) => void>;
}

/** A parsed resource path, as the apiserver's RequestInfo. */
interface ResourceRequest {
  def: ResourceDef;
  namespace: string;
  name: string;
  subresource: string;
  watchPrefix: boolean;
}

const READ_VERBS: Record<string, string> = { GET: 'get', HEAD: 'get' };

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function mediaTypes(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase() ?? '')
    .filter((t) => t !== '');
}

/** JSON is acceptable unless the Accept header names only other types (protobuf, say). */
function acceptsJson(accept: string | undefined): boolean {
  const types = mediaTypes(accept);
  return (
    types.length === 0 ||
    types.some((t) => t === 'application/json' || t === '*/*' || t === 'application/*' || t === 'application/json-seq')
  );
}

function parseResourcePath(path: string): ResourceRequest | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1] as string;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] as string;
    version = parts[2] as string;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace = '';
  // As RequestInfo: namespaces/<ns> alone or with status/finalize is the Namespace object itself.
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = rest[1] as string;
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  const [resource, name = '', subresource = '', ...extra] = rest;
  if (!resource || extra.length > 0) return undefined;
  const def = findResource(group, version, resource);
  if (!def) return undefined;
  if (def.kind === 'Namespace') return { def, namespace: '', name, subresource, watchPrefix };
  if (def.namespaced === false && namespace !== '') return undefined;
  return { def, namespace, name, subresource, watchPrefix };
}

function encodeContinue(resourceVersion: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: resourceVersion, start })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv: number; start: string };
    if (typeof parsed.start !== 'string') throw new Error('no start');
    return parsed;
  } catch {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

function generateSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

const itemKey = (o: KubeObject): string => `${String(meta(o).namespace ?? '')}/${String(meta(o).name)}`;

/** Starts the server on 127.0.0.1, a free port. */
export async function startK8sApiServer(options: K8sApiServerOptions = {}): Promise<K8sApiServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const users = new Map<string, UserInfo>(Object.entries(options.users ?? {}));
  users.set(token, options.tokenUser ?? { username: 'test-admin', groups: ['system:masters', 'system:authenticated'] });
  let authorize: Authorizer = options.authorize ?? (() => true);
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 5000;
  const store = new ObjectStore();
  const logs = new Map<string, LogStream>();
  const requests: RecordedRequest[] = [];
  const streams: StreamRecord[] = [];
  const sandboxRoot = mkdtempSync(join(tmpdir(), 'k8s-api-sandbox-'));
  const shutdown = new AbortController();
  const sockets = new Set<Socket | Duplex>();
  let hook: RequestHook | undefined;
  let execHandler: StreamHandler = spawnExec;
  let attachHandler: StreamHandler | undefined;

  const def = (apiVersion: string, kind: string): ResourceDef => {
    const found = resourceForKind(apiVersion, kind);
    if (!found || found.virtual) throw new Error(`the test API server does not serve ${apiVersion} ${kind}`);
    return found;
  };
  const namespaceDef = def('v1', 'Namespace');
  const podDef = def('v1', 'Pod');

  // ---- logs -------------------------------------------------------------------------------------------------------
  const logKey = (namespace: string, pod: string, container: string): string => `${namespace}/${pod}/${container}`;
  const logStream = (namespace: string, pod: string, container: string): LogStream => {
    const key = logKey(namespace, pod, container);
    let stream = logs.get(key);
    if (!stream) {
      stream = { lines: [], ended: false, followers: new Set() };
      logs.set(key, stream);
    }
    return stream;
  };
  const defaultContainer = (namespace: string, pod: string): string => {
    const object = store.get(resourceKey(podDef), namespace, pod);
    if (!object) throw new Error(`no pod ${namespace}/${pod}`);
    const annotated = (meta(object).annotations as Record<string, string> | undefined)?.[
      'kubectl.kubernetes.io/default-container'
    ];
    return annotated ?? containerNames(object)[0] ?? '';
  };
  const appendLog = (namespace: string, pod: string, text: string, container?: string): void => {
    const stream = logStream(namespace, pod, container ?? defaultContainer(namespace, pod));
    const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    for (const line of lines) {
      const entry = { time: new Date().toISOString(), text: `${line}\n` };
      stream.lines.push(entry);
      for (const follower of stream.followers) follower(entry);
    }
  };
  const endLog = (namespace: string, pod: string, container?: string): void => {
    const stream = logStream(namespace, pod, container ?? defaultContainer(namespace, pod));
    stream.ended = true;
    for (const follower of stream.followers) follower(undefined);
  };
  const endPodLogs = (namespace: string, pod: string): void => {
    for (const [key, stream] of logs) {
      if (key.startsWith(`${namespace}/${pod}/`)) {
        stream.ended = true;
        for (const follower of stream.followers) follower(undefined);
        logs.delete(key);
      }
    }
  };
  const sandbox = (namespace: string, pod: string): string => {
    const dir = join(sandboxRoot, namespace, pod);
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    return dir;
  };

  // ---- store operations shared by HTTP and the test helpers ---------------------------------------------------------
  const ensureNamespace = (resource: ResourceDef, namespace: string): void => {
    if (resource.namespaced && !store.get(resourceKey(namespaceDef), '', namespace)) {
      throw notFound('', 'namespaces', namespace);
    }
  };
  const createObject = (resource: ResourceDef, object: KubeObject, keepStatus: boolean, dryRun = false): KubeObject => {
    const m = meta(object);
    if (!m.name && typeof m.generateName === 'string') m.name = `${m.generateName}${generateSuffix()}`;
    delete m.resourceVersion;
    validateObject(resource, object);
    const namespace = resource.namespaced ? String(m.namespace ?? '') : '';
    ensureNamespace(resource, namespace);
    if (store.get(resourceKey(resource), namespace, String(m.name))) {
      throw alreadyExists(resource.group, resource.name, String(m.name));
    }
    applyDefaults(resource, object, keepStatus ? (object.status as Obj | undefined) : undefined);
    if (dryRun) {
      m.uid = '00000000-0000-0000-0000-000000000000';
      m.creationTimestamp = now();
      return { ...object, apiVersion: groupVersion(resource), kind: resource.kind };
    }
    const created = store.create(resource, object);
    // Pods are running as soon as they exist here; their status carries the creation time.
    return created;
  };
  const deleteObject = (resource: ResourceDef, namespace: string, name: string): KubeObject | undefined => {
    const gone = store.delete(resource, namespace, name);
    if (!gone) return undefined;
    if (resource.kind === 'Pod') endPodLogs(namespace, name);
    if (resource.kind === 'Namespace') {
      for (const r of RESOURCES) {
        if (!r.namespaced || r.virtual) continue;
        for (const o of store.list(resourceKey(r), name)) deleteObject(r, name, String(meta(o).name));
      }
    }
    return gone;
  };

  for (const name of options.namespaces ?? ['default', 'kube-system', 'kube-public']) {
    createObject(namespaceDef, { metadata: { name } }, false);
  }

  // ---- request plumbing -----------------------------------------------------------------------------------------
  const record = (req: IncomingMessage): RecordedRequest => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const distinct = req.headersDistinct;
    const extra: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(distinct)) {
      if (name.startsWith('impersonate-extra-') && values) extra[name.slice('impersonate-extra-'.length)] = values;
    }
    const authorization = req.headers.authorization;
    const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
    const tokenUser = bearer !== undefined ? (users.get(bearer) ?? options.authenticateToken?.(bearer)) : undefined;
    const impersonateUser = req.headers['impersonate-user'] as string | undefined;
    const impersonateGroups = (distinct['impersonate-group'] ?? []).flatMap((g) => g.split(',').map((s) => s.trim()));
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      path: url.pathname,
      query: url.searchParams,
      headers: { ...req.headers },
      accept: req.headers.accept,
      contentType: req.headers['content-type'],
      hasAuthorization: authorization !== undefined,
      authenticated: tokenUser !== undefined,
      impersonateUser,
      impersonateGroups,
      impersonateExtra: extra,
      user:
        tokenUser === undefined
          ? undefined
          : impersonateUser !== undefined
            ? { username: impersonateUser, groups: [...impersonateGroups, 'system:authenticated'] }
            : tokenUser,
      upgrade: req.headers.upgrade,
    };
    requests.push(entry);
    return entry;
  };

  const readBody = async (req: IncomingMessage, entry: RecordedRequest): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    entry.body = body.toString('utf8');
    return body;
  };

  const send = (res: ServerResponse, entry: RecordedRequest, status: number, body: unknown): void => {
    entry.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const authorizeRequest = (
    entry: RecordedRequest,
    attributes: Omit<AuthorizationAttributes, 'user' | 'groups'>,
  ): void => {
    if (!options.enforceAuthorization || !entry.user) return;
    const decision = authorize({ ...attributes, user: entry.user.username, groups: entry.user.groups });
    const allowed = typeof decision === 'boolean' ? decision : decision.allowed;
    if (allowed) return;
    const what = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
    const where = attributes.namespace ? ` in the namespace "${attributes.namespace}"` : ' at the cluster scope';
    throw new ApiStatusError(
      403,
      'Forbidden',
      `${qualifiedResource(attributes.apiGroup, what)}${attributes.name ? ` "${attributes.name}"` : ''} is forbidden: User "${entry.user.username}" cannot ${attributes.verb} resource "${what}" in API group "${attributes.apiGroup}"${where}`,
      {
        ...(attributes.name ? { name: attributes.name } : {}),
        ...(attributes.apiGroup ? { group: attributes.apiGroup } : {}),
        kind: attributes.resource,
      },
    );
  };

  const parseBody = (body: Buffer, contentType: string | undefined): unknown => {
    const type = mediaTypes(contentType)[0] ?? 'application/json';
    if (type === 'application/vnd.kubernetes.protobuf') {
      const decoded = decodeProtobuf(body);
      if (!decoded.unsupported) return decoded;
    }
    const text = body.toString('utf8');
    if (type.includes('protobuf')) {
      throw new ApiStatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
      );
    }
    try {
      return type.includes('yaml') ? parseYaml(text) : JSON.parse(text);
    } catch (error) {
      throw badRequest(`the body of the request could not be decoded: ${(error as Error).message}`);
    }
  };

  // ---- resource handlers -------------------------------------------------------------------------------------------
  const filtered = (r: ResourceRequest, query: URLSearchParams): KubeObject[] => {
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'));
    return store
      .list(resourceKey(r.def), r.def.namespaced && r.namespace ? r.namespace : undefined)
      .filter((o) => labels(o) && fields(o));
  };

  const present = (
    r: ResourceRequest,
    entry: RecordedRequest,
    objects: KubeObject[],
    single: boolean,
    listMeta: Obj,
  ): unknown => {
    if (wantsTable(entry.accept)) {
      const include = (entry.query.get('includeObject') ?? 'Metadata') as IncludeObject;
      return toTable(r.def.kind, objects, include, listMeta);
    }
    if (single) return objects[0];
    return {
      kind: `${r.def.kind}List`,
      apiVersion: groupVersion(r.def),
      metadata: listMeta,
      // As the apiserver encodes typed lists: items carry no apiVersion/kind of their own.
      items: objects.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
    };
  };

  const list = (r: ResourceRequest, entry: RecordedRequest): unknown => {
    const query = entry.query;
    let items = filtered(r, query);
    const limit = Number(query.get('limit') ?? 0);
    const cont = query.get('continue');
    if (cont) {
      const { start } = decodeContinue(cont);
      items = items.filter((o) => itemKey(o) >= start);
    }
    const listMeta: Obj = { resourceVersion: String(store.currentRevision) };
    if (limit > 0 && items.length > limit) {
      const next = items[limit] as KubeObject;
      listMeta.continue = encodeContinue(store.currentRevision, itemKey(next));
      if (!query.get('labelSelector') && !query.get('fieldSelector'))
        listMeta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    return present(r, entry, items, false, listMeta);
  };

  const watch = (r: ResourceRequest, req: IncomingMessage, res: ServerResponse, entry: RecordedRequest): void => {
    const query = entry.query;
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'));
    const fieldName = r.name ? parseFieldSelector(`metadata.name=${r.name}`) : () => true;
    const matches = (o: KubeObject, namespace: string): boolean =>
      (!r.def.namespaced || !r.namespace || namespace === r.namespace) && labels(o) && fields(o) && fieldName(o);
    const table = wantsTable(entry.accept);
    const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    const bookmarks = query.get('allowWatchBookmarks') === 'true' || query.get('allowWatchBookmarks') === '1';
    entry.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const write = (event: WatchEvent): void => {
      if (res.writableEnded) return;
      const object =
        table && event.type !== 'BOOKMARK' && event.type !== 'ERROR'
          ? toTable(r.def.kind, [event.object], include, { resourceVersion: meta(event.object).resourceVersion })
          : event.object;
      res.write(`${JSON.stringify({ type: event.type, object })}\n`);
    };
    const bookmark = (annotations?: Record<string, string>): void =>
      write({
        type: 'BOOKMARK',
        object: {
          kind: r.def.kind,
          apiVersion: groupVersion(r.def),
          metadata: { resourceVersion: String(store.currentRevision), ...(annotations ? { annotations } : {}) },
        },
      });
    const rv = query.get('resourceVersion');
    const initial = query.get('sendInitialEvents') === 'true';
    if (initial || !rv || rv === '0') {
      for (const o of store.list(resourceKey(r.def))) {
        if (matches(o, String(meta(o).namespace ?? ''))) write({ type: 'ADDED', object: o });
      }
      if (initial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const from = Number(rv);
      if (!Number.isInteger(from)) {
        write({ type: 'ERROR', object: badRequest(`invalid resource version: ${rv}`).toStatus() });
        res.end();
        return;
      }
      for (const { event, namespace } of store.changesSince(resourceKey(r.def), from)) {
        if (matches(event.object, namespace)) write(event);
      }
    }
    const unwatch = store.watch({
      resource: resourceKey(r.def),
      onEvent: (event, namespace) => {
        if (matches(event.object, namespace)) write(event);
      },
    });
    const timers: NodeJS.Timeout[] = [];
    if (bookmarks) timers.push(setInterval(() => bookmark(), bookmarkIntervalMs));
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const finish = (): void => {
      unwatch();
      timers.forEach((t) => clearTimeout(t));
      shutdown.signal.removeEventListener('abort', finish);
      if (!res.writableEnded) res.end();
    };
    if (timeout > 0) timers.push(setTimeout(finish, timeout * 1000));
    shutdown.signal.addEventListener('abort', finish);
    req.on('close', finish);
    res.on('close', finish);
  };

  const readPod = (r: ResourceRequest): KubeObject => {
    const pod = store.get(resourceKey(podDef), r.namespace, r.name);
    if (!pod) throw notFound('', 'pods', r.name);
    return pod;
  };

  const podContainer = (pod: KubeObject, requested: string | null): string => {
    const names = containerNames(pod);
    const name = String(meta(pod).name);
    if (requested) {
      if (!names.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
      return requested;
    }
    const annotated = (meta(pod).annotations as Record<string, string> | undefined)?.[
      'kubectl.kubernetes.io/default-container'
    ];
    if (annotated && names.includes(annotated)) return annotated;
    if (names.length === 1) return names[0] as string;
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`);
  };

  const podLog = (r: ResourceRequest, req: IncomingMessage, res: ServerResponse, entry: RecordedRequest): void => {
    const pod = readPod(r);
    const query = entry.query;
    const container = podContainer(pod, query.get('container'));
    if (query.get('previous') === 'true') {
      throw badRequest(`previous terminated container "${container}" in pod "${r.name}" not found`);
    }
    const stream = logStream(r.namespace, r.name, container);
    const timestamps = query.get('timestamps') === 'true';
    const format = (line: { time: string; text: string }): string =>
      timestamps ? `${line.time.replace(/Z$/, '000000Z')} ${line.text}` : line.text;
    const tail = query.get('tailLines');
    let lines = stream.lines;
    if (tail !== null) lines = Number(tail) <= 0 ? [] : lines.slice(-Number(tail));
    let budget = query.get('limitBytes') ? Number(query.get('limitBytes')) : Infinity;
    entry.status = 200;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    const write = (text: string): boolean => {
      if (budget <= 0) return false;
      const bytes = Buffer.from(text, 'utf8');
      const part = bytes.length > budget ? bytes.subarray(0, budget) : bytes;
      budget -= part.length;
      res.write(part);
      return budget > 0;
    };
    let open = true;
    for (const line of lines) open = write(format(line)) && open;
    const follow = query.get('follow') === 'true';
    if (!follow || stream.ended || !open) {
      res.end();
      return;
    }
    res.flushHeaders();
    const follower = (line?: { time: string; text: string }): void => {
      if (line === undefined || !write(format(line))) finish();
    };
    const finish = (): void => {
      stream.followers.delete(follower);
      shutdown.signal.removeEventListener('abort', finish);
      if (!res.writableEnded) res.end();
    };
    stream.followers.add(follower);
    shutdown.signal.addEventListener('abort', finish);
    req.on('close', finish);
  };

  const review = (r: ResourceRequest, body: Obj, entry: RecordedRequest): unknown => {
    const user = entry.user as UserInfo;
    const spec = (body.spec ?? {}) as Obj;
    const base = { apiVersion: groupVersion(r.def), kind: r.def.kind, metadata: { creationTimestamp: null } };
    if (r.def.kind === 'SelfSubjectReview') {
      return { ...base, status: { userInfo: { username: user.username, groups: user.groups } } };
    }
    if (r.def.kind === 'SelfSubjectRulesReview') {
      return { ...base, spec, status: { resourceRules: [], nonResourceRules: [], incomplete: true } };
    }
    const subject =
      r.def.kind === 'SelfSubjectAccessReview'
        ? user
        : { username: String(spec.user ?? ''), groups: (spec.groups as string[] | undefined) ?? [] };
    const resourceAttributes = spec.resourceAttributes as Obj | undefined;
    const nonResource = spec.nonResourceAttributes as Obj | undefined;
    const attributes: AuthorizationAttributes = resourceAttributes
      ? {
          user: subject.username,
          groups: subject.groups,
          verb: String(resourceAttributes.verb ?? ''),
          resource: String(resourceAttributes.resource ?? ''),
          subresource: String(resourceAttributes.subresource ?? ''),
          namespace:
            r.def.kind === 'LocalSubjectAccessReview' ? r.namespace : String(resourceAttributes.namespace ?? ''),
          name: String(resourceAttributes.name ?? ''),
          apiGroup: String(resourceAttributes.group ?? ''),
        }
      : {
          user: subject.username,
          groups: subject.groups,
          verb: String(nonResource?.verb ?? ''),
          resource: '',
          subresource: '',
          namespace: '',
          name: '',
          apiGroup: '',
          path: String(nonResource?.path ?? ''),
        };
    const decision = authorize(attributes);
    const allowed = typeof decision === 'boolean' ? decision : decision.allowed;
    const reason = typeof decision === 'boolean' ? undefined : decision.reason;
    return { ...base, spec, status: { allowed, ...(reason ? { reason } : {}) } };
  };

  const checkIdentity = (r: ResourceRequest, body: unknown): KubeObject => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw badRequest('the body of the request was not a JSON object');
    }
    const object = body as KubeObject;
    if (object.apiVersion !== undefined && object.apiVersion !== groupVersion(r.def)) {
      throw badRequest(
        `the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${groupVersion(r.def)})`,
      );
    }
    if (object.kind !== undefined && object.kind !== r.def.kind) {
      throw badRequest(
        `the kind in the data (${String(object.kind)}) does not match the expected kind (${r.def.kind})`,
      );
    }
    const m = meta(object);
    if (r.def.namespaced) {
      if (m.namespace !== undefined && m.namespace !== '' && m.namespace !== r.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      m.namespace = r.namespace;
    }
    return object;
  };

  /** PUT semantics shared by update, patch and apply: immutable metadata kept, resourceVersion checked. */
  const replace = (r: ResourceRequest, existing: KubeObject, next: KubeObject, dryRun: boolean): KubeObject => {
    const m = meta(next);
    const old = meta(existing);
    if (m.name !== undefined && m.name !== r.name) {
      throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${r.name})`);
    }
    if (m.resourceVersion !== undefined && m.resourceVersion !== '' && m.resourceVersion !== old.resourceVersion) {
      throw conflict(
        r.def.group,
        r.def.name,
        r.name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    m.name = r.name;
    if (r.def.namespaced) m.namespace = r.namespace;
    m.uid = old.uid;
    m.creationTimestamp = old.creationTimestamp;
    if (old.generation === undefined) delete m.generation;
    else m.generation = old.generation;
    if (r.subresource === 'status') {
      next = { ...existing, status: next.status };
    } else {
      if (old.generation !== undefined && JSON.stringify(next.spec) !== JSON.stringify(existing.spec)) {
        meta(next).generation = Number(old.generation ?? 1) + 1;
      }
      const kept = existing.status as Obj | undefined;
      applyDefaults(r.def, next, r.def.kind === 'Deployment' ? undefined : kept);
    }
    validateObject(r.def, next);
    if (dryRun) return { ...next, apiVersion: groupVersion(r.def), kind: r.def.kind };
    return store.update(r.def, next);
  };

  const scaleOf = (deployment: KubeObject): Obj => {
    const m = meta(deployment);
    const spec = deployment.spec as Obj;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
        creationTimestamp: m.creationTimestamp,
      },
      spec: { replicas: spec.replicas },
      status: { replicas: (deployment.status as Obj | undefined)?.replicas ?? 0, selector: '' },
    };
  };

  const handleResource = async (
    r: ResourceRequest,
    req: IncomingMessage,
    res: ServerResponse,
    entry: RecordedRequest,
  ): Promise<void> => {
    const method = entry.method;
    const query = entry.query;
    const isWatch = r.watchPrefix || query.get('watch') === 'true' || query.get('watch') === '1';
    const dryRun = query.getAll('dryRun').includes('All');
    const verb =
      method === 'GET' || method === 'HEAD'
        ? isWatch
          ? 'watch'
          : r.name
            ? (READ_VERBS[method] as string)
            : 'list'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : method === 'DELETE'
                ? r.name
                  ? 'delete'
                  : 'deletecollection'
                : method.toLowerCase();
    const subresourceVerb = r.subresource === 'exec' || r.subresource === 'attach' ? 'create' : verb;
    authorizeRequest(entry, {
      verb: r.subresource ? subresourceVerb : verb,
      resource: r.def.name,
      subresource: r.subresource,
      namespace: r.namespace,
      name: r.name,
      apiGroup: r.def.group,
    });
    if (!r.def.verbs.includes(verb) && !r.subresource) {
      throw new ApiStatusError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      );
    }
    const key = resourceKey(r.def);
    if (r.def.namespaced && !r.namespace && r.name) throw pathNotFound();
    if (r.def.namespaced && !r.namespace && verb !== 'list' && verb !== 'watch') throw pathNotFound();

    if (r.subresource) {
      if (r.subresource === 'log' && r.def.kind === 'Pod' && method === 'GET') return podLog(r, req, res, entry);
      if (
        (r.subresource === 'exec' || r.subresource === 'attach' || r.subresource === 'portforward') &&
        r.def.kind === 'Pod'
      ) {
        readPod(r);
        throw badRequest('Upgrade request required');
      }
      if (r.subresource === 'scale' && r.def.kind === 'Deployment') {
        const existing = store.get(key, r.namespace, r.name);
        if (!existing) throw notFound(r.def.group, r.def.name, r.name);
        if (method === 'GET') return send(res, entry, 200, scaleOf(existing));
        const body = parseBody(await readBody(req, entry), entry.contentType) as Obj;
        const type = mediaTypes(entry.contentType)[0];
        const current = scaleOf(existing);
        const next =
          method === 'PUT'
            ? body
            : type === 'application/json-patch+json'
              ? (jsonPatch(current, body) as Obj)
              : (mergePatch(current, body) as Obj);
        const replicas = (next.spec as Obj | undefined)?.replicas;
        const updated = replace(
          { ...r, subresource: '' },
          existing,
          { ...existing, spec: { ...(existing.spec as Obj), replicas } },
          dryRun,
        );
        return send(res, entry, 200, scaleOf(updated));
      }
      if (r.subresource !== 'status' || !r.def.subresources.some((s) => s.name === 'status')) throw pathNotFound();
    }

    if (r.def.virtual) {
      if (method !== 'POST')
        throw new ApiStatusError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
      const body = parseBody(await readBody(req, entry), entry.contentType) as Obj;
      return send(res, entry, 201, review(r, body, entry));
    }

    switch (verb) {
      case 'get': {
        const object = store.get(key, r.namespace, r.name);
        if (!object) throw notFound(r.def.group, r.def.name, r.name);
        return send(
          res,
          entry,
          200,
          present(r, entry, [object], true, { resourceVersion: meta(object).resourceVersion }),
        );
      }
      case 'list':
        return send(res, entry, 200, list(r, entry));
      case 'watch':
        return watch(r, req, res, entry);
      case 'create': {
        if (r.name)
          throw new ApiStatusError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        const object = checkIdentity(r, parseBody(await readBody(req, entry), entry.contentType));
        if (r.def.kind === 'Namespace') delete meta(object).namespace;
        return send(res, entry, 201, createObject(r.def, object, false, dryRun));
      }
      case 'update': {
        const object = checkIdentity(r, parseBody(await readBody(req, entry), entry.contentType));
        const existing = store.get(key, r.namespace, r.name);
        if (!existing) throw notFound(r.def.group, r.def.name, r.name);
        return send(res, entry, 200, replace(r, existing, object, dryRun));
      }
      case 'patch': {
        const type = mediaTypes(entry.contentType)[0] ?? '';
        const body = parseBody(await readBody(req, entry), entry.contentType);
        const existing = store.get(key, r.namespace, r.name);
        if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+cbor') {
          if (!query.get('fieldManager')) {
            throw badRequest('PATCH requests with apply-patch content type require fieldManager to be set');
          }
          const applied = checkIdentity(r, body);
          if (!existing) {
            meta(applied).name ??= r.name;
            return send(res, entry, 201, createObject(r.def, applied, false, dryRun));
          }
          // Server-side apply without field ownership: the applied configuration merges over the live object.
          const { resourceVersion: _rv, ...appliedMeta } = meta(applied);
          const merged = strategicMergePatch(existing, { ...applied, metadata: appliedMeta }) as KubeObject;
          return send(res, entry, 200, replace(r, existing, merged, dryRun));
        }
        if (!existing) throw notFound(r.def.group, r.def.name, r.name);
        let patched: unknown;
        if (type === 'application/json-patch+json') patched = jsonPatch(existing, body);
        else if (type === 'application/merge-patch+json') patched = mergePatch(existing, body);
        else if (type === 'application/strategic-merge-patch+json') patched = strategicMergePatch(existing, body);
        else {
          throw new ApiStatusError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
          );
        }
        return send(res, entry, 200, replace(r, existing, checkIdentity(r, patched), dryRun));
      }
      case 'delete': {
        const existing = store.get(key, r.namespace, r.name);
        if (!existing) throw notFound(r.def.group, r.def.name, r.name);
        const text = await readBody(req, entry);
        const options = text.length > 0 ? (parseBody(text, entry.contentType) as Obj) : {};
        const preconditions = (options.preconditions ?? {}) as Obj;
        const m = meta(existing);
        if (preconditions.uid && preconditions.uid !== m.uid) {
          throw conflict(
            r.def.group,
            r.def.name,
            r.name,
            `Precondition failed: UID in precondition: ${String(preconditions.uid)}, UID in object meta: ${String(m.uid)}`,
          );
        }
        if (preconditions.resourceVersion && preconditions.resourceVersion !== m.resourceVersion) {
          throw conflict(
            r.def.group,
            r.def.name,
            r.name,
            `Precondition failed: ResourceVersion in precondition: ${String(preconditions.resourceVersion)}, ResourceVersion in object meta: ${String(m.resourceVersion)}`,
          );
        }
        const gone = dryRun || options.dryRun ? existing : deleteObject(r.def, r.namespace, r.name);
        if (r.def.kind === 'Pod' || r.def.kind === 'Namespace') {
          // Graceful kinds answer with the object, marked for deletion.
          const object = gone as KubeObject;
          meta(object).deletionTimestamp = now();
          if (r.def.kind === 'Pod') meta(object).deletionGracePeriodSeconds = 0;
          if (r.def.kind === 'Namespace') object.status = { phase: 'Terminating' };
          return send(res, entry, 200, object);
        }
        return send(res, entry, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: r.name, ...(r.def.group ? { group: r.def.group } : {}), kind: r.def.name, uid: m.uid },
        });
      }
      case 'deletecollection': {
        const items = filtered(r, query);
        if (!dryRun) for (const o of items) deleteObject(r.def, String(meta(o).namespace ?? ''), String(meta(o).name));
        return send(
          res,
          entry,
          200,
          present(r, { ...entry, accept: undefined }, items, false, { resourceVersion: String(store.currentRevision) }),
        );
      }
      default:
        throw new ApiStatusError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
    }
  };

  const serverAddress = (): string => {
    const address = server.address() as AddressInfo;
    return `127.0.0.1:${address.port}`;
  };

  const handleNonResource = (path: string): unknown => {
    if (path === '/version') {
      const gitVersion = options.gitVersion ?? 'v1.32.0';
      const [, major = '1', minor = '32'] = /^v(\d+)\.(\d+)/.exec(gitVersion) ?? [];
      return {
        major,
        minor,
        gitVersion,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2025-01-01T00:00:00Z',
        goVersion: 'go1.23.0',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    }
    if (path === '/api') return apiVersions(serverAddress());
    if (path === '/openapi/v3') return openApiIndex();
    if (path.startsWith('/openapi/v3/')) return openApiGroupVersion(path.slice('/openapi/v3/'.length));
    if (path === '/apis') return apiGroupList();
    const parts = path.split('/').filter((p) => p !== '');
    if (parts[0] === 'api' && parts.length === 2) return apiResourceList('', parts[1] as string);
    if (parts[0] === 'apis' && parts.length === 2) return apiGroupDocument(parts[1] as string);
    if (parts[0] === 'apis' && parts.length === 3) return apiResourceList(parts[1] as string, parts[2] as string);
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const entry = record(req);
    try {
      if (!entry.authenticated) {
        throw new ApiStatusError(401, 'Unauthorized', 'Unauthorized');
      }
      if (hook && (await hook(req, res, entry))) {
        entry.status ??= res.statusCode;
        return;
      }
      if (!acceptsJson(entry.accept)) {
        throw new ApiStatusError(
          406,
          'NotAcceptable',
          `only the following media types are accepted: application/json, application/json;stream=watch`,
        );
      }
      if (['/healthz', '/livez', '/readyz'].includes(entry.path)) {
        entry.status = 200;
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      const nonResource = req.method === 'GET' ? handleNonResource(entry.path.replace(/\/$/, '')) : undefined;
      if (nonResource !== undefined) return send(res, entry, 200, nonResource);
      const r = parseResourcePath(entry.path);
      if (!r) throw pathNotFound();
      await handleResource(r, req, res, entry);
    } catch (error) {
      const status =
        error instanceof ApiStatusError
          ? error
          : new ApiStatusError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`);
      if (res.headersSent) {
        res.end();
        return;
      }
      send(res, entry, status.code, status.toStatus());
    }
  };

  // ---- exec / attach upgrades --------------------------------------------------------------------------------------
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => STREAM_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });

  const refuseUpgrade = (socket: Duplex, entry: RecordedRequest, error: ApiStatusError): void => {
    entry.status = error.code;
    const body = JSON.stringify(error.toStatus());
    socket.end(
      `HTTP/1.1 ${error.code} ${error.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const defaultAttach: StreamHandler = (session) =>
    new Promise<StreamResult>((resolve) => {
      // The container's main process here echoes what it reads, so attach shows new log lines and its own input.
      const stream = logStream(session.namespace, session.pod, session.container);
      const follower = (line?: { time: string; text: string }): void => {
        if (line === undefined) done();
        else session.stdout?.write(line.text);
      };
      const done = (): void => {
        stream.followers.delete(follower);
        resolve({ exitCode: 0 });
      };
      if (stream.ended) {
        done();
        return;
      }
      stream.followers.add(follower);
      session.signal.addEventListener('abort', done);
      session.stdin?.on('data', (chunk: Buffer) =>
        appendLog(session.namespace, session.pod, chunk.toString('utf8'), session.container),
      );
      session.stdin?.on('end', done);
    });

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const entry = record(req);
    try {
      if (!entry.authenticated) throw new ApiStatusError(401, 'Unauthorized', 'Unauthorized');
      const r = parseResourcePath(entry.path);
      if (!r || r.def.kind !== 'Pod' || !['exec', 'attach', 'portforward'].includes(r.subresource))
        throw pathNotFound();
      authorizeRequest(entry, {
        verb: 'create',
        resource: 'pods',
        subresource: r.subresource,
        namespace: r.namespace,
        name: r.name,
        apiGroup: '',
      });
      const pod = readPod(r);
      if (entry.upgrade?.toLowerCase() !== 'websocket') {
        throw badRequest(
          `upgrade to ${entry.upgrade ?? 'nothing'} is not supported by this test server; use WebSocket (v5.channel.k8s.io)`,
        );
      }
      if (r.subresource === 'portforward') throw badRequest('port forwarding is not supported by this test server');
      const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      const protocol = STREAM_PROTOCOLS.find((p) => protocols.includes(p));
      if (!protocol) throw badRequest(`none of the offered subprotocols [${protocols.join(', ')}] is supported`);
      const phase = (pod.status as Obj | undefined)?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') {
        throw badRequest(
          `cannot ${r.subresource} into a container in a completed pod; current phase is ${String(phase)}`,
        );
      }
      const container = podContainer(pod, entry.query.get('container'));
      const command = entry.query.getAll('command');
      if (r.subresource === 'exec' && command.length === 0) {
        throw badRequest('you must specify at least one command for the container');
      }
      const kind = r.subresource as 'exec' | 'attach';
      const streamRecord: StreamRecord = {
        kind,
        namespace: r.namespace,
        pod: r.name,
        container,
        command,
        tty: entry.query.get('tty') === 'true',
        protocol,
        stdin: [],
        resizes: [],
      };
      streams.push(streamRecord);
      wss.handleUpgrade(req, socket, head, (ws) => {
        entry.status = 101;
        const handler = kind === 'exec' ? execHandler : (attachHandler ?? defaultAttach);
        void serveStream(
          ws,
          entry.query,
          { kind, namespace: r.namespace, pod: r.name, container, command, sandbox: sandbox(r.namespace, r.name) },
          handler,
          streamRecord,
          shutdown.signal,
        );
      });
    } catch (error) {
      refuseUpgrade(
        socket,
        entry,
        error instanceof ApiStatusError ? error : new ApiStatusError(500, 'InternalError', (error as Error).message),
      );
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => void handle(req, res);
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createHttpServer(listener);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', handleUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `${options.tls ? 'https' : 'http'}://${serverAddress()}`;

  const kubeconfig: K8sApiServer['kubeconfig'] = (o = {}) => {
    const cluster: Obj = { server: url };
    if (options.tls) cluster['certificate-authority-data'] = Buffer.from(options.tls.cert).toString('base64');
    const user: Obj = { token: o.token ?? token };
    if (o.impersonate) user.as = o.impersonate;
    if (o.impersonateGroups) user['as-groups'] = o.impersonateGroups;
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster }],
      users: [{ name: 'test', user }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test', namespace: o.namespace ?? 'default' } }],
      'current-context': 'test',
    });
  };

  return {
    url,
    token,
    requests,
    streams,
    create: (object) => {
      const resource = def(String(object.apiVersion), String(object.kind));
      return createObject(resource, structuredClone(object), true);
    },
    get: (apiVersion, kind, namespace, name) => store.get(resourceKey(def(apiVersion, kind)), namespace, name),
    list: (apiVersion, kind, namespace) => store.list(resourceKey(def(apiVersion, kind)), namespace),
    update: (object) => {
      const resource = def(String(object.apiVersion), String(object.kind));
      const m = meta(object);
      const namespace = resource.namespaced ? String(m.namespace ?? '') : '';
      if (!store.get(resourceKey(resource), namespace, String(m.name)))
        throw notFound(resource.group, resource.name, String(m.name));
      return store.update(resource, structuredClone(object));
    },
    remove: (apiVersion, kind, namespace, name) => deleteObject(def(apiVersion, kind), namespace, name),
    appendLog,
    endLog,
    sandbox,
    setHandler: (h) => {
      hook = h;
    },
    setExecHandler: (h) => {
      execHandler = h ?? spawnExec;
    },
    setAttachHandler: (h) => {
      attachHandler = h;
    },
    setAuthorizer: (a) => {
      authorize = a;
    },
    kubeconfig,
    writeKubeconfig: (dir, o) => {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, kubeconfig(o), { mode: 0o600 });
      return path;
    },
    close: async () => {
      shutdown.abort();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      wss.close();
      rmSync(sandboxRoot, { recursive: true, force: true });
    },
  };
}
