/**
 * The relay's HTTPS server (issue 6): every Kubernetes request goes through the gate (authenticate, parse, scope,
 * guardrails), is forwarded with the relay's own credential and the principal's impersonation, and its response is
 * masked before one byte reaches the agent: JSON read whole (up to `relay.maxResponseBytes`), watches and logs masked
 * as they stream. One `relay.request` or `relay.denied` event per request. Exec and attach WebSockets are handed to
 * the session proxy after the same gate.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuditEventInput } from '#shared/audit/event.ts';
import type { ClusterConfig, RelayConfig } from '#shared/config/schema.ts';
import type { Masker } from '#shared/masking/masker.ts';
import type { MaskingRecord } from '#shared/masking/model.ts';
import { createTextMasker, createWatchMasker, type ChunkMasker } from '#shared/masking/streams.ts';
import type { PolicyEngine } from '#shared/policy/policy-engine.ts';
import type { Clock } from '#shared/ports.ts';
import { negotiateSubprotocol } from '#shared/k8s/exec-protocol.ts';
import { failureStatus, type KubernetesStatus } from '#shared/relay/kubernetes-status.ts';
import { responseFormat } from '#shared/relay/response-format.ts';
import { negotiateAccept, upstreamRequestHeaders, type Impersonation } from '#shared/relay/upstream-headers.ts';
import type { CredentialVerifier, RelayCredentialIdentity } from './credentials.ts';
import type { RelayEventWriter } from './event-writer.ts';
import type { ActiveGrant, GrantDirectory } from './grant-directory.ts';
import { RequestGate, type AdmittedRequest, type Refusal } from './request-gate.ts';
import type { SessionProxy } from './session-proxy.ts';
import type { Upstream } from './upstream.ts';

export interface RelayServerDeps {
  cluster: ClusterConfig;
  relay: RelayConfig;
  credentials: CredentialVerifier;
  grants: GrantDirectory;
  policy: PolicyEngine;
  upstream: Upstream;
  masker: Masker;
  events: RelayEventWriter;
  clock: Clock;
  /** This relay process, in event streams (`relay/<grant>/<instance>/<shard>`) so tasks never contend on a chain. */
  instanceId: string;
  /** Exec and attach; without it, WebSocket upgrades are refused. */
  sessions?: SessionProxy;
  /** TLS for the listener; plain HTTP only for tests that do not use kubectl. */
  tls?: { key: string; cert: string };
  /** Structured log lines (JSON): requests, denials, errors; never tokens, bodies or masked values. */
  log?: (entry: Record<string, unknown>) => void;
  /** Largest request header block in bytes (Node answers 431 above it). @default 16384 */
  maxHeaderBytes?: number;
  /** Called once per request, for metrics (requests, denials, masked values, latency). */
  observe?: (observation: RelayObservation) => void;
  /** Whether the task's other relay processes are ready too (relay/workers.ts): `/readyz` answers for the task. */
  peersReady?: () => boolean;
}

/** One request as metrics see it: no names, paths or values. */
export interface RelayObservation {
  outcome: 'forwarded' | 'denied';
  /** The stage that refused a denied request. */
  stage?: Refusal['stage'];
  status: number;
  latencyMs: number;
  masked: number;
}

/** Streams (watches, followed logs, exec sessions) by grant: ended when their grant is revoked, drained on shutdown. */
export interface OpenStream {
  grantId: string;
  end(reason: string): void;
}

const EVENT_SHARDS = 8;
const DEFAULT_MAX_HEADER_BYTES = 16_384;
const JSON_CONTENT_TYPE = 'application/json';

export class RelayServer {
  readonly server: Server;
  readonly #deps: RelayServerDeps;
  readonly #gate: RequestGate;
  readonly #open = new Set<OpenStream>();
  #shard = 0;
  #ready = true;
  #revocationTimer: NodeJS.Timeout | undefined;

  constructor(deps: RelayServerDeps) {
    this.#deps = deps;
    this.#gate = new RequestGate({
      cluster: deps.cluster,
      credentials: deps.credentials,
      grants: deps.grants,
      policy: deps.policy,
      podLabels: (admitted, namespace, name) => this.#podLabels(admitted, namespace, name),
    });
    // Node would answer a request without Host with a bare 400 before any handler ran: the relay answers it itself,
    // with a Status and an event.
    const options = { maxHeaderSize: deps.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES, requireHostHeader: false };
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.server = deps.tls
      ? createHttpsServer({ ...options, key: deps.tls.key, cert: deps.tls.cert, minVersion: 'TLSv1.2' }, handler)
      : createHttpServer(options, handler);
    this.server.on(
      'upgrade',
      (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head),
    );
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.#clientError(error, socket));
    // Node drops headers past the 1000th without a word (a second Authorization could hide there): it keeps them all,
    // and checkHeaderBlock refuses a block over the size bound, counting every byte.
    this.server.maxHeadersCount = 0;
    // Watches and exec sessions are long: the server's own request timeout must not cut them.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 30_000;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, host, resolve));
    const interval = this.#deps.relay.revocationCheckSeconds * 1000;
    this.#revocationTimer = setInterval(() => void this.#endRevokedStreams(), interval);
    this.#revocationTimer.unref();
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  /** Graceful shutdown: not ready, no new connections, open streams ended, events flushed. */
  async close(drainMs = 10_000): Promise<void> {
    this.#ready = false;
    clearInterval(this.#revocationTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = Date.now() + drainMs;
    while (this.#open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const stream of this.#open) stream.end('the relay is shutting down');
    this.server.closeAllConnections();
    await closed;
    await this.#deps.events.flush();
    await this.#deps.upstream.close();
  }

  /** Registers a long stream; returns the function that unregisters it. */
  track(stream: OpenStream): () => void {
    this.#open.add(stream);
    return () => this.#open.delete(stream);
  }

  get openStreams(): number {
    return this.#open.size;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    if (req.url === '/healthz' || req.url === '/readyz') return this.#health(req, res);
    const malformed = this.#checkHeaderBlock(req);
    if (malformed) return this.#refuse(req, res, started, malformed);
    if (!this.#deps.events.accepting) {
      return this.#refuse(req, res, started, {
        stage: 'audit',
        status: failureStatus('ServiceUnavailable', 'the relay cannot record requests right now, so it refuses them'),
      });
    }
    let gate;
    try {
      gate = await this.#gate.admit(req);
    } catch (error) {
      this.#log({ level: 'error', message: 'gate failed', error: errorName(error) });
      return this.#refuse(req, res, started, {
        stage: 'authenticate',
        status: failureStatus('InternalError', 'the relay could not check the request'),
      });
    }
    if (!gate.admitted) return this.#refuse(req, res, started, gate.refusal);
    if (req.headers.upgrade) {
      return this.#refuse(req, res, started, {
        ...gate.request,
        stage: 'negotiate',
        status: failureStatus('BadRequest', 'upgrades are answered on exec and attach only'),
      });
    }
    await this.#forward(req, res, started, gate.request);
  }

  async #forward(req: IncomingMessage, res: ServerResponse, started: number, admitted: AdmittedRequest): Promise<void> {
    const accept = negotiateAccept(req.headers.accept);
    if (!accept) {
      return this.#refuse(req, res, started, {
        ...admitted,
        stage: 'negotiate',
        status: failureStatus(
          'NotAcceptable',
          'the relay answers in JSON only (it must read a response to mask it); accept application/json',
        ),
      });
    }
    const abort = new AbortController();
    // A finished response has read its upstream to the end: aborting then would only build an AbortError.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let upstream;
    try {
      upstream = await this.#deps.upstream.request({
        method: req.method ?? 'GET',
        path: admitted.target,
        headers: upstreamRequestHeaders(req.headers, this.#impersonation(admitted.identity, admitted.active), accept),
        body: hasBody(req) ? req : undefined,
        signal: abort.signal,
      });
    } catch (error) {
      this.#log({ level: 'warn', message: 'upstream request failed', error: errorName(error) });
      return this.#refuse(req, res, started, {
        ...admitted,
        stage: 'upstream',
        status: failureStatus('ServiceUnavailable', 'the Kubernetes API server could not be reached'),
      });
    }
    const format = responseFormat(admitted.info, req.method ?? 'GET', upstream.statusCode, upstream.headers);
    const record = await this.#respond(req, res, admitted, upstream, format, abort);
    if (record.refused) {
      return this.#refuse(
        req,
        res,
        started,
        { ...admitted, stage: 'upstream', status: record.refused },
        upstream.statusCode,
      );
    }
    const event = this.#requestEvent(req, admitted, upstream.statusCode, started, record.bytes, record.masking);
    this.#observe(event, { outcome: 'forwarded', status: upstream.statusCode, masked: record.masking?.total ?? 0 });
    await this.#record(event);
  }

  /** Writes the masked response; returns what was written, or the Status to answer instead when nothing was. */
  async #respond(
    req: IncomingMessage,
    res: ServerResponse,
    admitted: AdmittedRequest,
    upstream: Awaited<ReturnType<Upstream['request']>>,
    format: ReturnType<typeof responseFormat>,
    abort: AbortController,
  ): Promise<{ bytes: number; masking?: MaskingRecord; refused?: KubernetesStatus }> {
    const headers = responseHeaders(upstream.headers);
    switch (format.kind) {
      case 'refuse':
        await upstream.body.dump().catch(() => {});
        return { bytes: 0, refused: failureStatus('InternalError', format.reason) };
      case 'empty':
        await upstream.body.dump().catch(() => {});
        res.writeHead(upstream.statusCode, headers).end();
        return { bytes: 0 };
      case 'json': {
        const body = await readBounded(upstream.body, this.#deps.relay.maxResponseBytes);
        if (!body) {
          abort.abort();
          return {
            bytes: 0,
            refused: failureStatus(
              'RequestEntityTooLarge',
              `the response is larger than the relay's bound of ${this.#deps.relay.maxResponseBytes} bytes; ask for less (kubectl --chunk-size, or limit=)`,
            ),
          };
        }
        const pieces: string[] = [];
        let masking: MaskingRecord;
        try {
          masking = this.#deps.masker.maskJsonText(body, (piece) => pieces.push(piece), this.#maskContext(admitted));
        } catch {
          return {
            bytes: 0,
            refused: failureStatus('InternalError', 'the API server answered with JSON the relay could not parse'),
          };
        }
        const out = Buffer.from(pieces.join(''), 'utf8');
        res.writeHead(upstream.statusCode, {
          ...headers,
          'content-type': JSON_CONTENT_TYPE,
          'content-length': String(out.length),
        });
        res.end(out);
        return { bytes: out.length, masking };
      }
      case 'watch':
      case 'text': {
        const context = this.#maskContext(admitted);
        const masker =
          format.kind === 'watch'
            ? createWatchMasker(this.#deps.masker, { context })
            : createTextMasker(this.#deps.masker, { context });
        res.writeHead(upstream.statusCode, headers);
        const untrack = this.track({
          grantId: admitted.active.grant.id,
          end: () => {
            abort.abort();
            res.destroy();
          },
        });
        try {
          const bytes = await pipeMasked(upstream.body, masker, res);
          return { bytes, masking: masker.record };
        } catch (error) {
          // Cut mid-stream (client gone, revoked, or a stream the masker refused): never passed through unmasked.
          this.#log({ level: 'info', message: 'stream ended early', error: errorName(error) });
          res.destroy();
          return { bytes: 0, masking: masker.record };
        } finally {
          untrack();
        }
      }
    }
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const deny = (refusal: Refusal) => {
      writeRawStatus(socket, refusal.status);
      void this.#record(this.#deniedEvent(req, refusal, started));
    };
    const malformed = this.#checkHeaderBlock(req);
    if (malformed) return deny(malformed);
    if (!this.#deps.events.accepting) {
      return deny({
        stage: 'audit',
        status: failureStatus('ServiceUnavailable', 'the relay cannot record sessions right now, so it refuses them'),
      });
    }
    // The gate runs first, whatever the protocol: kubectl falls back from a refused WebSocket upgrade to SPDY, and
    // the agent should then read why the first attempt was refused, not only that SPDY is unsupported.
    const gate = await this.#gate.admit(req).catch(() => undefined);
    if (!gate)
      return deny({
        stage: 'authenticate',
        status: failureStatus('InternalError', 'the relay could not check the request'),
      });
    if (!gate.admitted) return deny(gate.refusal);
    if (!/^websocket$/i.test(String(req.headers.upgrade ?? ''))) {
      return deny({
        ...gate.request,
        stage: 'negotiate',
        status: failureStatus(
          'BadRequest',
          'SPDY is not supported by the relay: use WebSocket (kubectl 1.30 and later do by default; unset KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)',
        ),
      });
    }
    const admitted = gate.request;
    const isSession = admitted.info.resource === 'pods' && ['exec', 'attach'].includes(admitted.info.subresource);
    const subprotocol = negotiateSubprotocol(String(req.headers['sec-websocket-protocol'] ?? '').split(','));
    if (isSession && !subprotocol) {
      return deny({
        ...admitted,
        stage: 'negotiate',
        status: failureStatus(
          'BadRequest',
          'exec and attach through the relay need the v5.channel.k8s.io or v4.channel.k8s.io WebSocket subprotocol',
        ),
      });
    }
    if (!isSession || !this.#deps.sessions || !subprotocol) {
      return deny({
        ...admitted,
        stage: 'negotiate',
        status: failureStatus('BadRequest', 'the relay accepts WebSocket upgrades for exec and attach only'),
      });
    }
    await this.#deps.sessions.proxy({
      req,
      socket,
      head,
      admitted,
      subprotocol,
      impersonation: this.#impersonation(admitted.identity, admitted.active),
      context: this.#maskContext(admitted),
      track: (stream) => this.track(stream),
      record: (event) => this.#record(event),
      requestEvent: (status, bytes, masking) => this.#requestEvent(req, admitted, status, started, bytes, masking),
    });
  }

  async #podLabels(
    admitted: { identity: RelayCredentialIdentity; active: ActiveGrant },
    namespace: string,
    name: string,
  ): Promise<Record<string, string>> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
    const response = await this.#deps.upstream.request({
      method: 'GET',
      path,
      headers: upstreamRequestHeaders({}, this.#impersonation(admitted.identity, admitted.active), JSON_CONTENT_TYPE),
    });
    const body = (await response.body.json()) as { metadata?: { labels?: Record<string, string> } };
    if (response.statusCode === 404) return {};
    if (response.statusCode !== 200) throw new Error(`pod read answered ${response.statusCode}`);
    return body.metadata?.labels ?? {};
  }

  #impersonation(identity: RelayCredentialIdentity, active: ActiveGrant): Impersonation {
    return {
      user: active.grant.username,
      groups: active.grant.groups,
      extra: { 'gatehouse.io/grant': active.grant.id, 'gatehouse.io/principal': identity.principalId },
    };
  }

  #maskContext(admitted: AdmittedRequest) {
    const kind = kindOf(admitted.info.resource);
    return { namespace: admitted.info.namespace || undefined, ...(kind ? { kind } : {}) };
  }

  #stream(grantId: string): string {
    this.#shard = (this.#shard + 1) % EVENT_SHARDS;
    return `relay/${grantId}/${this.#deps.instanceId}/${this.#shard}`;
  }

  /** Refusals with no grant to chain them to: one stream per relay process and day. */
  #unauthenticatedStream(): string {
    return `relay-unauthenticated/${this.#deps.instanceId}/${this.#deps.clock.now().toISOString().slice(0, 10)}`;
  }

  #requestEvent(
    req: IncomingMessage,
    admitted: AdmittedRequest,
    status: number,
    started: number,
    bytes: number,
    masking: MaskingRecord | undefined,
  ): AuditEventInput {
    const { identity, active, info, decision } = admitted;
    return {
      type: 'relay.request',
      stream: this.#stream(active.grant.id),
      actor: actorOf(active),
      subject: {
        cluster: active.grant.cluster,
        namespace: info.namespace || undefined,
        resource: info.resource || info.path,
      },
      requestId: active.grant.requestId,
      grantId: active.grant.id,
      details: {
        method: req.method,
        verb: info.verb,
        apiGroup: info.apiGroup,
        resource: info.resource,
        subresource: info.subresource || undefined,
        name: info.name || undefined,
        path: info.path,
        status,
        bytes,
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
        credential: identity.fingerprint,
        decision: { policies: decision.policies, reason: decision.reason },
        ...(admitted.strippedImpersonation ? { strippedImpersonation: true } : {}),
        ...(masking ? { masking: { total: masking.total, entries: masking.entries } } : {}),
      },
    };
  }

  #deniedEvent(req: IncomingMessage, refusal: Refusal, started: number): AuditEventInput {
    const grant = refusal.active?.grant;
    return {
      type: 'relay.denied',
      stream: grant ? this.#stream(grant.id) : this.#unauthenticatedStream(),
      actor: refusal.active
        ? actorOf(refusal.active)
        : { id: refusal.identity ? refusal.identity.principalId : 'anonymous' },
      subject: {
        cluster: this.#deps.cluster.name,
        namespace: refusal.info?.namespace || undefined,
        resource: refusal.info?.resource || undefined,
      },
      ...(grant ? { grantId: grant.id, requestId: grant.requestId } : {}),
      details: {
        stage: refusal.stage,
        method: req.method,
        // The raw target may carry an attacker's payload: only its length and the parsed path (when it parsed).
        targetLength: (req.url ?? '').length,
        ...(refusal.info
          ? { verb: refusal.info.verb, path: refusal.info.path, subresource: refusal.info.subresource || undefined }
          : {}),
        status: refusal.status.code,
        reason: refusal.status.message,
        ...(refusal.identity ? { credential: refusal.identity.fingerprint } : {}),
        ...(refusal.decision ? { policies: refusal.decision.policies } : {}),
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      },
    };
  }

  async #refuse(
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
    refusal: Refusal,
    upstreamStatus?: number,
  ): Promise<void> {
    if (!res.headersSent) {
      const body = JSON.stringify(refusal.status);
      res.writeHead(refusal.status.code, {
        'content-type': JSON_CONTENT_TYPE,
        'content-length': Buffer.byteLength(body),
        // A request the relay could not parse as it should leaves nothing on the connection worth keeping.
        ...(refusal.stage === 'parse' ? { connection: 'close' } : {}),
      });
      res.end(body);
    } else {
      res.destroy();
    }
    // Drain what the client sent, so the connection can be reused.
    req.resume();
    const event = this.#deniedEvent(req, refusal, started);
    if (upstreamStatus !== undefined) (event.details as Record<string, unknown>).upstreamStatus = upstreamStatus;
    this.#log({
      level: 'info',
      message: 'refused',
      stage: refusal.stage,
      status: refusal.status.code,
      reason: refusal.status.message,
    });
    this.#observe(event, { outcome: 'denied', stage: refusal.stage, status: refusal.status.code, masked: 0 });
    await this.#record(event);
  }

  /** Metrics for a request, with the latency its event recorded. */
  #observe(event: AuditEventInput, observation: Omit<RelayObservation, 'latencyMs'>): void {
    this.#deps.observe?.({ ...observation, latencyMs: (event.details as { latencyMs: number }).latencyMs });
  }

  async #record(event: AuditEventInput): Promise<void> {
    await this.#deps.events.record(event);
  }

  /** A request without Host, or whose header block is over the bound however many headers it splits into. */
  #checkHeaderBlock(req: IncomingMessage): Refusal | undefined {
    const limit = this.#deps.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    let bytes = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
    for (let index = 0; index < req.rawHeaders.length; index += 2) {
      bytes += req.rawHeaders[index]!.length + req.rawHeaders[index + 1]!.length + 4;
    }
    if (bytes > limit) {
      return {
        stage: 'parse',
        status: { ...failureStatus('BadRequest', 'the request header block is too large'), code: 431 },
      };
    }
    if (!req.headers.host)
      return { stage: 'parse', status: failureStatus('BadRequest', 'the request has no Host header') };
    return undefined;
  }

  /** Serving: not draining, and audit writes accepted (fail closed: no audit record, no access). */
  get ready(): boolean {
    return this.#ready && this.#deps.events.accepting;
  }

  #health(req: IncomingMessage, res: ServerResponse): void {
    const ready = req.url === '/healthz' || (this.ready && (this.#deps.peersReady?.() ?? true));
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'not ready\n');
  }

  #clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    // Malformed HTTP (smuggling attempts such as CL.TE and duplicate Content-Length, oversized headers): Node's parser
    // refused it before any handler ran. Answer with a Status and record it; nothing was forwarded.
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = failureStatus(
      'BadRequest',
      tooLarge
        ? 'the request header block is too large'
        : `malformed HTTP request refused (${error.code ?? 'parse error'})`,
    );
    if (socket.writable) writeRawStatus(socket, { ...status, code: tooLarge ? 431 : 400 });
    else socket.destroy();
    void this.#record({
      type: 'relay.denied',
      stream: this.#unauthenticatedStream(),
      actor: { id: 'anonymous' },
      subject: { cluster: this.#deps.cluster.name },
      details: { stage: 'parse', status: tooLarge ? 431 : 400, reason: status.message },
    });
  }

  async #endRevokedStreams(): Promise<void> {
    const grants = new Set([...this.#open].map((stream) => stream.grantId));
    for (const grantId of grants) {
      const lookup = await this.#deps.grants.lookup(grantId);
      if (lookup.active) continue;
      for (const stream of [...this.#open]) if (stream.grantId === grantId) stream.end(lookup.reason);
    }
  }

  #log(entry: Record<string, unknown>): void {
    this.#deps.log?.({ time: this.#deps.clock.now().toISOString(), component: 'relay', ...entry });
  }
}

function actorOf(active: ActiveGrant) {
  const principal = active.grant.principal;
  return { id: principal.id, issuer: principal.issuer, groups: principal.groups };
}

/** The kind of a resource's objects, for masking rules keyed by kind (`pods` → Pod); undefined when unknown. */
const KINDS: Record<string, string> = {
  pods: 'Pod',
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  deployments: 'Deployment',
  jobs: 'Job',
  events: 'Event',
  services: 'Service',
  statefulsets: 'StatefulSet',
  daemonsets: 'DaemonSet',
  cronjobs: 'CronJob',
  replicasets: 'ReplicaSet',
};

function kindOf(resource: string): string | undefined {
  return KINDS[resource];
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined
    ? req.headers['content-length'] !== '0'
    : req.headers['transfer-encoding'] !== undefined;
}

/** Response headers passed to the client: the content type and the API server's audit id, nothing about encodings. */
function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of [
    'content-type',
    'audit-id',
    'x-kubernetes-pf-flowschema-uid',
    'x-kubernetes-pf-prioritylevel-uid',
    'cache-control',
  ]) {
    const value = headers[name];
    if (typeof value === 'string') kept[name] = value;
  }
  return kept;
}

/** The whole body, or undefined as soon as it passes `limit` bytes (the rest is never read). */
async function readBounded(body: AsyncIterable<Uint8Array>, limit: number): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Streams `body` through `masker` into `res`, waiting on `res` when it is full; returns the bytes written. */
async function pipeMasked(body: AsyncIterable<Uint8Array>, masker: ChunkMasker, res: ServerResponse): Promise<number> {
  let bytes = 0;
  const write = async (pieces: Uint8Array[]) => {
    for (const piece of pieces) {
      bytes += piece.length;
      if (!res.write(piece))
        await new Promise<void>((resolve, reject) => {
          res.once('drain', resolve);
          res.once('close', () => reject(new Error('client closed')));
        });
    }
  };
  for await (const chunk of body) await write(masker.push(chunk));
  await write(masker.end());
  res.end();
  return bytes;
}

function writeRawStatus(socket: Duplex, status: KubernetesStatus): void {
  const body = JSON.stringify(status);
  socket.end(
    `HTTP/1.1 ${status.code} ${status.reason}\r\ncontent-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}
