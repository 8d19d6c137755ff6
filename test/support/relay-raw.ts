/**
 * Exact bytes to the relay, for the bypass tests of test/security (issue 6): a TLS socket that sends what a test wrote —
 * encodings, repeated or odd-cased headers, conflicting framing — where an HTTP client would normalise or refuse it, and
 * reads back every response the relay wrote on that connection. Also the assertions each bypass test makes: the answer
 * is a Kubernetes Status that says why, nothing reached the API server, and the attempt was recorded.
 */
import { connect } from 'node:tls';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { AuditEventInput } from '#shared/audit/event.ts';
import type { RecordedRequest } from './k8s-api-server.ts';
import type { RelayHarness } from './relay.ts';

/** One HTTP response as the relay wrote it. */
export interface RawResponse {
  status: number;
  reason: string;
  /** Lower-case names; repeated headers joined by `, `. */
  headers: Record<string, string>;
  body: string;
  /** False when the connection ended before the body did (a stream cut, or a watch still open at the deadline). */
  complete: boolean;
}

/** Everything the relay wrote on one connection. */
export interface RawExchange {
  responses: RawResponse[];
  /** The relay ended the connection before the deadline. */
  closed: boolean;
  /** The bytes received, as latin1 text. */
  raw: string;
}

export interface RawRequest {
  method?: string;
  /** The request target, sent as written. */
  target: string;
  /** Header lines in order, sent as written (name and value). A `Host` line is added first unless `host` is false. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string;
  /** @default true */
  host?: boolean;
}

/** The bytes of an HTTP/1.1 request, exactly as given: no header is normalised, added (but Host) or checked. */
export function httpRequest(request: RawRequest): string {
  const lines = [`${request.method ?? 'GET'} ${request.target} HTTP/1.1`];
  if (request.host !== false) lines.push('Host: 127.0.0.1');
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${request.body ?? ''}`;
}

/** The `Authorization` header line of a relay credential. */
export function bearer(token: string): readonly [string, string] {
  return ['Authorization', `Bearer ${token}`];
}

/**
 * Sends `bytes` on a new TLS connection to the relay (verified with the harness's CA) and collects what comes back,
 * until the relay closes the connection, or nothing has come for `idleMs` after a complete response, or `timeoutMs`.
 */
export async function sendRaw(
  harness: Pick<RelayHarness, 'url' | 'ca'>,
  bytes: string | Buffer,
  options: { idleMs?: number; timeoutMs?: number } = {},
): Promise<RawExchange> {
  const { port, hostname } = new URL(harness.url);
  const idleMs = options.idleMs ?? 100;
  const timeoutMs = options.timeoutMs ?? 5000;
  const chunks: Buffer[] = [];
  const closed = await new Promise<boolean>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: harness.ca, servername: 'localhost' });
    let idle: NodeJS.Timeout | undefined;
    const finish = (ended: boolean) => {
      clearTimeout(idle);
      clearTimeout(deadline);
      socket.destroy();
      resolve(ended);
    };
    const deadline = setTimeout(() => finish(false), timeoutMs);
    socket.once('secureConnect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      const parsed = parseResponses(Buffer.concat(chunks));
      if (parsed.length > 0 && parsed.every((response) => response.complete)) {
        idle = setTimeout(() => finish(false), idleMs);
      }
    });
    socket.once('end', () => finish(true));
    socket.once('close', () => finish(true));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // A reset after the relay answered is an end of the connection, not a failure of the test.
      if (chunks.length > 0 || error.code === 'ECONNRESET') finish(true);
      else reject(error);
    });
  });
  const data = Buffer.concat(chunks);
  return { responses: parseResponses(data), closed, raw: data.toString('latin1') };
}

/** One request on its own connection; its (first) response. */
export async function rawRequest(
  harness: Pick<RelayHarness, 'url' | 'ca'>,
  request: RawRequest,
  options?: { idleMs?: number; timeoutMs?: number },
): Promise<RawResponse> {
  const exchange = await sendRaw(harness, httpRequest(request), options);
  const [response] = exchange.responses;
  if (!response) throw new Error(`the relay wrote no HTTP response (received ${JSON.stringify(exchange.raw)})`);
  return response;
}

/** What a WebSocket upgrade through the relay came to: an open session (101), or the refusal's status and body. */
export type UpgradeResult = { status: 101; socket: WebSocket } | { status: number; body: string };

/**
 * Opens a WebSocket to `path` on the relay (exec and attach speak `v5.channel.k8s.io`), with `headers` as given; resolves
 * with the open socket, or with the status and body the relay refused the upgrade with.
 */
export function openWebSocket(
  harness: Pick<RelayHarness, 'url' | 'ca'>,
  path: string,
  headers: Record<string, string | string[]>,
  protocols: string[] = ['v5.channel.k8s.io'],
): Promise<UpgradeResult> {
  const url = new URL(path, harness.url);
  url.protocol = 'wss:';
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { headers, ca: harness.ca, perMessageDeflate: false });
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      response.once('error', reject);
    });
    socket.once('error', reject);
  });
}

/** Waits until a WebSocket session ends (the server closes it, or `timeoutMs` passes and the test closes it). */
export function sessionEnd(socket: WebSocket, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => socket.terminate(), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The HTTP/1.1 responses in `data`, in order; the last may be incomplete. */
export function parseResponses(data: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf('\r\n\r\n', offset, 'latin1');
    if (end < 0) break;
    const [statusLine = '', ...headerLines] = data.subarray(offset, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
    if (!match) break;
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(match[1]);
    let cursor = end + 4;
    let body: Buffer;
    let complete = true;
    if (status === 101 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = data.subarray(cursor, cursor + length);
      complete = body.length === length;
      cursor += body.length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const pieces: Buffer[] = [];
      complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor, 'latin1');
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(cursor, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size) || data.length < lineEnd + 2 + size + 2) break;
        cursor = lineEnd + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
        pieces.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
      }
      body = Buffer.concat(pieces);
      if (!complete) cursor = data.length;
    } else {
      body = data.subarray(cursor);
      cursor = data.length;
    }
    responses.push({ status, reason: match[2] ?? '', headers, body: body.toString('utf8'), complete });
    offset = cursor;
  }
  return responses;
}

/** Asserts `body` is a Kubernetes `Status` of a failure with `code`, `reason` and a message matching `message`. */
export function expectFailureStatus(body: string, code: number, reason: string, message: RegExp | string): void {
  let status: Record<string, unknown>;
  try {
    status = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new Error(`the body is not JSON: ${JSON.stringify(body.slice(0, 500))}`);
  }
  expect(status).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
  expect(String(status.message)).toMatch(typeof message === 'string' ? new RegExp(escapeRegExp(message)) : message);
}

/** The upstream requests made from now on: `since()` returns what the API server received after the mark. */
export function upstreamMark(harness: Pick<RelayHarness, 'api'>): { since(): RecordedRequest[] } {
  const before = harness.api.requests.length;
  return { since: () => harness.api.requests.slice(before) };
}

/** The events recorded from now on. */
export function eventMark(harness: Pick<RelayHarness, 'events'>): { since(): AuditEventInput[] } {
  const before = harness.events.length;
  return { since: () => harness.events.slice(before) };
}

/**
 * Waits until an event recorded after `mark` matches `predicate` (events are queued, so one may land just after the
 * response); returns it, or fails with the events seen.
 */
export async function waitForEvent(
  mark: { since(): AuditEventInput[] },
  predicate: (event: AuditEventInput) => boolean,
  timeoutMs = 3000,
): Promise<AuditEventInput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = mark.since().find(predicate);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no matching event; recorded: ${JSON.stringify(mark.since().map((e) => [e.type, e.details]))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits for the `relay.denied` event recorded after `mark`, and returns it. */
export function waitForDenied(mark: { since(): AuditEventInput[] }, timeoutMs?: number): Promise<AuditEventInput> {
  return waitForEvent(mark, (event) => event.type === 'relay.denied', timeoutMs);
}

/** The event's details, typed loosely for assertions. */
export function detailsOf(event: AuditEventInput): Record<string, unknown> {
  return event.details as Record<string, unknown>;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
