/**
 * Exec and attach through the relay (issue 6, point 4): the agent's WebSocket (`v5.channel.k8s.io`, else v4) is
 * accepted after the request gate, a WebSocket to the API server is opened with the relay's credential and the
 * principal's impersonation, and frames are relayed channel by channel: stdout and stderr through a terminal masker
 * each (whole lines at once, an unfinished line's last words held until it ends or the idle timer fires), the error
 * channel's Status masked as text, stdin and resizes passed on. The session is recorded as asciicast v2 (what the agent
 * typed, what it was shown — masked — and resizes) to the evidence store, and `session.started`/`session.ended`
 * events carry its key and SHA-256.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { createAsciicastWriter, type AsciicastWriter } from '#shared/audit/asciicast.ts';
import type { AuditEventInput } from '#shared/audit/event.ts';
import {
  CHANNEL,
  decodeFrame,
  encodeFrame,
  parseResize,
  parseStatus,
  type ExecSubprotocol,
} from '#shared/k8s/exec-protocol.ts';
import type { Masker, MaskContext } from '#shared/masking/masker.ts';
import type { MaskingRecord } from '#shared/masking/model.ts';
import { MaskingRecorder } from '#shared/masking/record.ts';
import { StreamMaskingError } from '#shared/masking/streams.ts';
import { createTarMasker } from '#shared/masking/tar.ts';
import { createTerminalMasker, type TerminalMasker } from '#shared/masking/terminal.ts';
import type { Clock, Ids } from '#shared/ports.ts';
import { failureStatus } from '#shared/relay/kubernetes-status.ts';
import { upstreamRequestHeaders, type Impersonation } from '#shared/relay/upstream-headers.ts';
import type { AdmittedRequest } from './request-gate.ts';
import type { OpenStream } from './server.ts';
import type { Upstream } from './upstream.ts';

/** Where recordings go: the object-locked audit bucket in AWS, the local s3rver locally. */
export interface RecordingStore {
  /** Stores the recording under `key` once (write-once); returns when it is durable. */
  put(key: string, body: Uint8Array, sha256Hex: string): Promise<void>;
}

export interface SessionProxyDeps {
  upstream: Upstream;
  masker: Masker;
  recordings: RecordingStore;
  clock: Clock;
  ids: Ids;
  /** How long a held partial line waits for more output before it is masked and shown. @default 30 */
  idleFlushMs?: number;
  log?: (entry: Record<string, unknown>) => void;
}

export interface SessionRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  admitted: AdmittedRequest;
  /** The subprotocol negotiated with the client (the server refuses an upgrade that offers neither). */
  subprotocol: ExecSubprotocol;
  impersonation: Impersonation;
  context: MaskContext;
  track(stream: OpenStream): () => void;
  record(event: AuditEventInput): Promise<void>;
  requestEvent(status: number, bytes: number, masking: MaskingRecord | undefined): AuditEventInput;
}

const OUTPUT_CHANNELS = new Set<number>([CHANNEL.stdout, CHANNEL.stderr]);
/** How long a peer has to answer a close before its connection is cut. */
const CLOSE_GRACE_MS = 2000;

export class SessionProxy {
  readonly #server = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  constructor(private readonly deps: SessionProxyDeps) {}

  async proxy(request: SessionRequest): Promise<void> {
    const subprotocol = request.subprotocol;
    const upstreamSocket = await this.#connectUpstream(request, subprotocol).catch((error: unknown) => error as Error);
    if (upstreamSocket instanceof Error) {
      const status = failureStatus('ServiceUnavailable', 'the API server refused or could not open the session');
      request.socket.end(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(status)}`,
      );
      await request.record(request.requestEvent(503, 0, undefined));
      return;
    }
    const client = await new Promise<WebSocket>((resolve) =>
      this.#server.handleUpgrade(request.req, request.socket, request.head, resolve),
    );
    await this.#relay(request, client, upstreamSocket, subprotocol);
  }

  /** Opens the upstream WebSocket, with the same path and subprotocol; rejects when the API server refuses it. */
  #connectUpstream(request: SessionRequest, subprotocol: ExecSubprotocol): Promise<WebSocket> {
    const { upstream } = this.deps;
    return upstream.credentialHeaders().then(
      (credential) =>
        new Promise<WebSocket>((resolve, reject) => {
          const url = new URL(request.admitted.target, upstream.origin);
          url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
          const headers = upstreamRequestHeaders({}, request.impersonation, '*/*');
          const flat: Record<string, string> = { ...credential };
          for (const [name, value] of Object.entries(headers))
            flat[name] = Array.isArray(value) ? value.join(',') : value;
          delete flat['accept-encoding'];
          const socket = new WebSocket(url, [subprotocol], {
            headers: flat,
            ...upstream.tls,
            perMessageDeflate: false,
          });
          socket.once('open', () =>
            socket.protocol === subprotocol ? resolve(socket) : reject(new Error('subprotocol')),
          );
          socket.once('unexpected-response', (_req, res) => {
            res.resume();
            reject(new Error(`upstream answered ${res.statusCode}`));
          });
          socket.once('error', reject);
        }),
    );
  }

  async #relay(
    request: SessionRequest,
    client: WebSocket,
    upstream: WebSocket,
    subprotocol: ExecSubprotocol,
  ): Promise<void> {
    const { admitted } = request;
    const sessionId = this.deps.ids.next();
    const started = this.deps.clock.now();
    const query = new URL(admitted.target, 'https://relay').searchParams;
    const size = { width: 80, height: 24 };
    const recording: Uint8Array[] = [];
    const monotonic = { nowMs: () => performance.now() };
    const cast: AsciicastWriter = createAsciicastWriter(
      {
        ...size,
        timestamp: Math.floor(started.getTime() / 1000),
        title: `${admitted.info.subresource} ${admitted.info.namespace}/${admitted.info.name}`,
      },
      monotonic,
    );
    const keep = (lines: Uint8Array[]) => recording.push(...lines);
    keep(cast.start());
    const key = `sessions/${started.toISOString().slice(0, 10)}/${sessionId}.cast`;
    const base = {
      stream: `session/${sessionId}`,
      actor: { id: admitted.active.grant.principal.id, issuer: admitted.active.grant.principal.issuer },
      subject: {
        cluster: admitted.active.grant.cluster,
        namespace: admitted.info.namespace,
        resource: `pods/${admitted.info.name}/${admitted.info.subresource}`,
      },
      requestId: admitted.active.grant.requestId,
      grantId: admitted.active.grant.id,
      sessionId,
    };
    await request.record({
      ...base,
      type: 'session.started',
      details: {
        subresource: admitted.info.subresource,
        pod: admitted.info.name,
        container: query.get('container') ?? undefined,
        // The command's words are what the agent ran; arguments may hold values, so they are recorded as a count.
        command: query.getAll('command').slice(0, 1),
        arguments: Math.max(0, query.getAll('command').length - 1),
        tty: query.get('tty') === 'true' || query.get('tty') === '1',
        subprotocol,
        credential: admitted.identity.fingerprint,
      },
    });

    const tty = query.get('tty') === 'true' || query.get('tty') === '1';
    const maskers = new Map<number, TerminalMasker>(
      [...OUTPUT_CHANNELS].map((channel) => [
        channel,
        channel === CHANNEL.stdout && !tty && writesTarToStdout(query.getAll('command'))
          ? tarOutputMasker(this.deps.masker, request.context)
          : createTerminalMasker(this.deps.masker, { context: request.context }),
      ]),
    );
    const statusRecorder = new MaskingRecorder();
    let bytesToClient = 0;
    let exit: string | undefined;
    let idle: NodeJS.Timeout | undefined;
    const sendOutput = (channel: number, pieces: Uint8Array[]) => {
      for (const piece of pieces) {
        if (piece.length === 0) continue;
        keep(cast.output(piece));
        const frame = encodeFrame(channel, piece);
        bytesToClient += frame.length;
        if (client.readyState === WebSocket.OPEN) client.send(frame);
      }
    };
    const flushIdle = () => {
      idle = undefined;
      for (const [channel, masker] of maskers) sendOutput(channel, masker.flush().emit);
    };

    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(idle);
      for (const [channel, masker] of maskers) {
        try {
          sendOutput(channel, masker.end().emit);
        } catch {
          // A masker that already refused its stream has nothing more to send.
        }
      }
      exit ??= reason;
      // A close handshake lets the frames already queued (the final Status) reach the client; a peer that does not
      // answer it is cut off.
      for (const socket of [client, upstream]) {
        if (socket.readyState === WebSocket.OPEN) socket.close(1000);
        setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
      }
    };
    const untrack = request.track({ grantId: admitted.active.grant.id, end: (reason) => end(reason) });

    upstream.on('message', (data: Buffer) => {
      let frame;
      try {
        frame = decodeFrame(data);
      } catch {
        return end('the API server sent a frame the relay cannot read');
      }
      const masker = maskers.get(frame.channel);
      if (masker) {
        let output;
        try {
          output = masker.push(frame.payload);
        } catch (error) {
          // Output the relay cannot mask (a binary file in `kubectl cp`): the session ends, nothing unmasked is sent.
          const message = error instanceof StreamMaskingError ? error.message : 'output the relay cannot mask';
          const status = failureStatus('InternalError', `gatehouse relay: ${message}; the session was ended`);
          if (client.readyState === WebSocket.OPEN) client.send(encodeFrame(CHANNEL.error, JSON.stringify(status)));
          exit = 'refused: output could not be masked';
          return end(exit);
        }
        sendOutput(frame.channel, output.emit);
        if (masker.holding && !idle) idle = setTimeout(flushIdle, this.deps.idleFlushMs ?? 30);
        return;
      }
      if (frame.channel === CHANNEL.error) {
        // The final Status can quote the command's output: masked as text, and kept out of the events.
        const { value, record } = this.deps.masker.maskText(
          Buffer.from(frame.payload).toString('utf8'),
          request.context,
        );
        statusRecorder.addRecord(record);
        exit = exitOf(frame.payload);
        const out = encodeFrame(CHANNEL.error, value);
        bytesToClient += out.length;
        if (client.readyState === WebSocket.OPEN) client.send(out);
        return;
      }
      // v5 close signals and anything else the API server sends on a channel without content.
      if (frame.payload.length <= 1 && client.readyState === WebSocket.OPEN) client.send(data);
    });
    client.on('message', (data: Buffer) => {
      let frame;
      try {
        frame = decodeFrame(data);
      } catch {
        return end('the client sent a frame the relay cannot read');
      }
      if (frame.channel === CHANNEL.stdin) keep(cast.input(frame.payload));
      else if (frame.channel === CHANNEL.resize) {
        try {
          const resized = parseResize(frame.payload);
          keep(cast.resize(resized.width, resized.height));
        } catch {
          return end('the client sent a resize the relay cannot read');
        }
      } else if (!(subprotocol === 'v5.channel.k8s.io' && frame.channel === CHANNEL.close)) {
        return end(`the client wrote to channel ${frame.channel}`);
      }
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data);
    });
    const closed = Promise.all([
      new Promise<void>((resolve) => client.once('close', () => resolve())),
      new Promise<void>((resolve) => upstream.once('close', () => resolve())),
    ]);
    client.once('close', () => end('the client closed the session'));
    upstream.once('close', () => end('the session ended'));
    client.on('error', () => end('the client connection failed'));
    upstream.on('error', () => end('the API server connection failed'));
    await closed;
    untrack();

    keep(cast.end());
    const body = Buffer.concat(recording);
    const sha256 = cast.sha256Hex();
    const masking = mergeRecords([...[...maskers.values()].map((masker) => masker.record), statusRecorder.toRecord()]);
    let stored = true;
    try {
      await this.deps.recordings.put(key, body, sha256);
    } catch (error) {
      stored = false;
      this.deps.log?.({
        level: 'error',
        message: 'recording not stored',
        error: error instanceof Error ? error.name : 'UnknownError',
      });
    }
    await request.record({
      ...base,
      type: 'session.ended',
      details: {
        recording: stored ? { key, sha256, bytes: body.length } : { lost: true, sha256, bytes: body.length },
        ended: exit,
        durationMs: this.deps.clock.now().getTime() - started.getTime(),
        masking: { total: masking.total, entries: masking.entries },
      },
    });
    await request.record(request.requestEvent(101, bytesToClient, masking));
  }
}

/** `kubectl cp` from a pod runs `tar cf - PATH` (or `tar -cf -`, `tar czf -`…) and reads the archive on stdout. */
function writesTarToStdout(command: string[]): boolean {
  const [program, flags = '', file] = command;
  return /(^|\/)tar$/.test(program ?? '') && /^-?[a-zA-Z]*c[a-zA-Z]*f$/.test(flags) && file === '-';
}

/** The archive's files masked one by one (shared/masking/tar.ts), behind the terminal masker's interface. */
function tarOutputMasker(masker: Masker, context: MaskContext): TerminalMasker {
  const tar = createTarMasker(masker, { context });
  return {
    push: (bytes) => ({ emit: tar.push(bytes) }),
    flush: () => ({ emit: [] }),
    end: () => ({ emit: tar.end() }),
    holding: false,
    get record() {
      return tar.record;
    },
  };
}

/** `exit N` from the session's final Status, or `failure` when it names no exit code. */
function exitOf(payload: Uint8Array): string {
  try {
    const status = parseStatus(payload);
    return status.exitCode !== undefined ? `exit ${status.exitCode}` : 'failure';
  } catch {
    return 'failure';
  }
}

function mergeRecords(records: MaskingRecord[]): MaskingRecord {
  const recorder = new MaskingRecorder();
  for (const record of records) recorder.addRecord(record);
  return recorder.toRecord();
}
