/**
 * Bypass class: HTTP/1.1 request smuggling (issue 6). When two parsers on the way frame a request differently — one by
 * Content-Length, the other by Transfer-Encoding (CL.TE, TE.CL), or by different ones of two Content-Length headers —
 * the bytes one calls a body the other calls the next request, which then skips every check. The relay's parser (Node's
 * llhttp, strict) refuses every ambiguous framing before any stage runs; the relay answers with a Status, closes the
 * connection, records the attempt, and never sends the would-be second request upstream. What it does forward it frames
 * itself (the client's Content-Length and Transfer-Encoding are never passed on), and a pipelined request is a request
 * of its own, gated like any other.
 */
import { describe, expect, it } from 'vitest';
import {
  detailsOf,
  eventMark,
  expectFailureStatus,
  sendRaw,
  upstreamMark,
  waitForDenied,
  waitForEvent,
} from '../support/relay-raw.ts';
import { expectRefused, secretObject, useRelayHarness } from '../support/relay-security.ts';

const relay = useRelayHarness({ objects: [secretObject('claims')] });

const CONFIGMAPS = '/api/v1/namespaces/claims/configmaps';
/** The request an attacker hides in a body: a secret read, which the guardrail would deny if it saw it. */
const SMUGGLED_PATH = '/api/v1/namespaces/claims/secrets/db';

function head(lines: string[]): string {
  return `${['POST ' + CONFIGMAPS + ' HTTP/1.1', 'Host: 127.0.0.1', `Authorization: Bearer ${relay.token}`, ...lines].join('\r\n')}\r\n\r\n`;
}

function smuggled(): string {
  return `GET ${SMUGGLED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${relay.token}\r\n\r\n`;
}

/** Sends `bytes`; asserts one 400 Status naming the parser's error, a closed connection, a `parse` denial, nothing upstream. */
async function expectRefusedByParser(bytes: string, code: RegExp): Promise<void> {
  await expectRefused(relay.harness, () => sendRaw(relay.harness, bytes, { idleMs: 500 }), {
    status: 400,
    reason: 'BadRequest',
    message: code,
    stage: 'parse',
    closed: true,
    actor: { id: 'anonymous' },
  });
  expect(relay.harness.events.some((event) => JSON.stringify(event).includes('secrets/db'))).toBe(false);
}

describe('ambiguous framing', () => {
  it('refuses CL.TE: Content-Length and Transfer-Encoding: chunked, a request after the chunked end', async () => {
    const body = `0\r\n\r\n${smuggled()}`;
    await expectRefusedByParser(
      head([`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']) + body,
      /\(HPE_[A-Z_]+\)/,
    );
  });

  it('refuses TE.CL: Transfer-Encoding: chunked first, a short Content-Length after', async () => {
    const chunk = smuggled();
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    await expectRefusedByParser(head(['Transfer-Encoding: chunked', 'Content-Length: 4']) + body, /\(HPE_[A-Z_]+\)/);
  });

  it('refuses two different Content-Length headers', async () => {
    const body = smuggled();
    await expectRefusedByParser(
      head(['Content-Length: 0', `Content-Length: ${body.length}`]) + body,
      /\(HPE_[A-Z_]+\)/,
    );
  });

  it('refuses two equal Content-Length headers', async () => {
    await expectRefusedByParser(head(['Content-Length: 2', 'Content-Length: 2']) + '{}', /\(HPE_[A-Z_]+\)/);
  });

  it.each([
    ['a list of lengths', 'Content-Length: 2, 2'],
    ['a signed length', 'Content-Length: +2'],
    ['a negative length', 'Content-Length: -1'],
  ])('refuses a Content-Length of %s', async (_name, line) => {
    await expectRefusedByParser(head([line]) + '{}', /\(HPE_[A-Z_]+\)/);
  });

  it.each([
    ['chunked, then identity', ['Transfer-Encoding: chunked, identity']],
    ['two Transfer-Encoding headers', ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity']],
    ['a space before the colon', ['Transfer-Encoding : chunked']],
    ['a vertical tab before the value', ['Transfer-Encoding:\x0bchunked']],
  ])('refuses an obfuscated Transfer-Encoding: %s', async (_name, lines) => {
    await expectRefusedByParser(head(lines) + `0\r\n\r\n${smuggled()}`, /\(HPE_[A-Z_]+\)/);
  });

  it('refuses header lines ended by a bare LF, which a lenient front end would read differently', async () => {
    await expectRefusedByParser(
      `GET /api/v1/namespaces/claims/pods HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${relay.token}\n\n`,
      /\(HPE_[A-Z_]+\)/,
    );
  });
});

describe('framing errors in the body', () => {
  it.each([
    // The body is made when the test runs, so the smuggled request carries the grant's credential.
    ['an unknown transfer coding (xchunked)', 'Transfer-Encoding: xchunked', () => `0\r\n\r\n${smuggled()}`],
    ['a malformed chunk size', 'Transfer-Encoding: chunked', () => `2\r\n{}\r\nzz\r\n${smuggled()}`],
  ])('refuses %s and never reads what follows as a request', async (_name, line, body) => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const exchange = await sendRaw(relay.harness, head(['Content-Type: application/json', line]) + body(), {
      idleMs: 500,
    });

    expect(exchange.responses.map((response) => response.status)).toEqual([400]);
    expectFailureStatus(exchange.responses[0]!.body, 400, 'BadRequest', /malformed HTTP request refused \(HPE_/);
    expect(exchange.closed).toBe(true);
    const denied = await waitForEvent(
      events,
      (event) => event.type === 'relay.denied' && detailsOf(event).stage === 'parse',
    );
    expect(detailsOf(denied)).toMatchObject({ status: 400 });
    // The headers were valid, so the POST itself may have started upstream before its body failed; it never finished,
    // and nothing after the bad framing was ever a request.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstream.since().filter((request) => request.url !== CONFIGMAPS)).toEqual([]);
    expect(upstream.since().every((request) => request.status === undefined || request.status >= 400)).toBe(true);
    expect(relay.harness.api.list('v1', 'ConfigMap', 'claims')).toEqual([]);
  });
});

describe('what the relay forwards', () => {
  it('forwards a chunked body that contains a request as the body it is, framed by the relay', async () => {
    const inner = `0\r\n\r\n${smuggled()}`;
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'carrier', namespace: 'claims' },
      data: { payload: inner },
    });
    const body = `${Buffer.byteLength(json).toString(16)}\r\n${json}\r\n0\r\n\r\n`;
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const exchange = await sendRaw(
      relay.harness,
      head(['Content-Type: application/json', 'Transfer-Encoding: chunked']) + body,
      { idleMs: 500 },
    );

    expect(exchange.responses.map((response) => response.status)).toEqual([201]);
    const forwarded = upstream.since();
    expect(forwarded.map((request) => [request.method, request.url])).toEqual([['POST', CONFIGMAPS]]);
    expect(forwarded[0]!.body).toBe(json);
    // One framing only, the relay's: never the client's chunked coding alongside a length.
    const framing = forwarded[0]!.headers;
    expect(framing['content-length'] === undefined || framing['transfer-encoding'] === undefined).toBe(true);
    if (framing['content-length'] !== undefined)
      expect(framing['content-length']).toBe(String(Buffer.byteLength(json)));
    expect(relay.harness.api.get('v1', 'ConfigMap', 'claims', 'carrier')?.data).toEqual({ payload: inner });
    await waitForEvent(events, (event) => event.type === 'relay.request');
    relay.harness.api.remove('v1', 'ConfigMap', 'claims', 'carrier');
  });

  it('gates a pipelined second request on its own: the secret read behind an allowed list is denied', async () => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);
    const bytes =
      `GET /api/v1/namespaces/claims/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${relay.token}\r\n\r\n` +
      smuggled();

    const exchange = await sendRaw(relay.harness, bytes, { idleMs: 500 });

    expect(exchange.responses.map((response) => response.status)).toEqual([200, 403]);
    expectFailureStatus(
      exchange.responses[1]!.body,
      403,
      'Forbidden',
      'get secrets/db in namespace claims is forbidden by policy no-secret-reads',
    );
    expect(upstream.since().map((request) => request.url)).toEqual(['/api/v1/namespaces/claims/pods']);
    const denied = await waitForDenied(events);
    expect(denied.grantId).toBe(relay.grant.id);
    expect(detailsOf(denied)).toMatchObject({ stage: 'guardrail', status: 403, verb: 'get' });
  });

  it('sends the API server its own Host, whatever Host lines the client sent', async () => {
    const upstream = upstreamMark(relay.harness);

    const exchange = await sendRaw(
      relay.harness,
      `GET /api/v1/namespaces/claims/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nAuthorization: Bearer ${relay.token}\r\n\r\n`,
    );

    expect(exchange.responses.map((response) => response.status)).toEqual([200]);
    const [forwarded] = upstream.since();
    expect(forwarded!.headers.host).toBe(new URL(relay.harness.api.url).host);
  });

  it('refuses a request without Host with a Status, and records it', async () => {
    // HTTP/1.1 requires Host (RFC 9112 section 3.2); Node refuses it itself (requireHostHeader), before any handler.
    await expectRefused(
      relay.harness,
      () =>
        sendRaw(
          relay.harness,
          `GET /api/v1/namespaces/claims/pods HTTP/1.1\r\nAuthorization: Bearer ${relay.token}\r\n\r\n`,
        ),
      { status: 400, reason: 'BadRequest', message: /Host/i, stage: 'parse' },
    );
  });
});
