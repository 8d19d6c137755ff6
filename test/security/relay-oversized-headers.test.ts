/**
 * Bypass class: an oversized header block (issue 6). A header block larger than the relay's bound (16 KB, as
 * `maxHeaderBytes`) is a denial-of-service and a parser-differential tool: what one parser truncates another keeps. The
 * relay refuses it whole with 431 and a Status before any stage runs, and records the attempt; a path longer than any
 * Kubernetes path is refused at the target stage. A block of many small headers must be refused the same way, never
 * truncated: a truncated request is not the request the client sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  openWebSocket,
  rawRequest,
  sendRaw,
  httpRequest,
  upstreamMark,
  waitForDenied,
} from '../support/relay-raw.ts';

const TARGET = '/api/v1/namespaces/claims/pods';

let harness: RelayHarness;
let token: string;

beforeAll(async () => {
  harness = await startRelayHarness();
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake-0', namespace: 'claims' },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  ({ token } = await harness.grant({ namespaces: ['claims'], access: 'edit' }));
});

afterAll(async () => {
  await harness?.close();
});

async function expectTooLarge(bytes: string): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const exchange = await sendRaw(harness, bytes, { idleMs: 500 });

  expect(exchange.responses.map((response) => response.status)).toEqual([431]);
  expectFailureStatus(exchange.responses[0]!.body, 431, 'BadRequest', 'the request header block is too large');
  expect(exchange.closed).toBe(true);
  const denied = await waitForDenied(events);
  expect(denied.actor).toEqual({ id: 'anonymous' });
  expect(detailsOf(denied)).toMatchObject({ stage: 'parse', status: 431 });
  expect(upstream.since()).toEqual([]);
}

describe('an oversized header block', () => {
  it('refuses one 20 KB header with 431, whatever the credential', async () => {
    await expectTooLarge(httpRequest({ target: TARGET, headers: [bearer(token), ['X-Padding', 'a'.repeat(20_000)]] }));
  });

  it('refuses a 20 KB Authorization header before decoding it', async () => {
    await expectTooLarge(httpRequest({ target: TARGET, headers: [['Authorization', `Bearer ${'a'.repeat(20_000)}`]] }));
  });

  it('refuses a request line longer than the header bound', async () => {
    await expectTooLarge(
      httpRequest({ target: `${TARGET}?labelSelector=${'a'.repeat(20_000)}`, headers: [bearer(token)] }),
    );
  });

  it('refuses a header block that never ends (100 KB of headers)', async () => {
    const filler = Array.from({ length: 10_000 }, (_, index) => [`x${index}`, '1'] as const);
    await expectTooLarge(httpRequest({ target: TARGET, headers: [bearer(token), ...filler] }));
  });

  it('refuses an oversized WebSocket upgrade to exec', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const result = await openWebSocket(harness, '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true', {
      Authorization: `Bearer ${token}`,
      'X-Padding': 'a'.repeat(20_000),
    });

    expect(result.status).toBe(431);
    if ('body' in result) expectFailureStatus(result.body, 431, 'BadRequest', 'the request header block is too large');
    await waitForDenied(events);
    expect(upstream.since()).toEqual([]);
  });

  it('refuses, not truncates, 17 KB of short headers (more than the HTTP parser keeps)', async () => {
    // Node keeps about the first 1000 headers and drops the rest silently, and counts the bytes of the block loosely
    // (about 28 KB of short headers pass its 16 KB bound). The relay then forwards the first 1000 client headers ahead
    // of its own Authorization and Impersonate-* headers, which an upstream that also keeps 1000 headers drops.
    const filler = Array.from({ length: 1800 }, (_, index) => [`x${index}`, '1'] as const);
    const bytes = httpRequest({ target: TARGET, headers: [bearer(token), ...filler] });
    expect(Buffer.byteLength(bytes)).toBeGreaterThan(16_384);

    await expectTooLarge(bytes);
  });
});

describe('an oversized path', () => {
  it('refuses a path longer than any Kubernetes path at the target stage', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const target = `/api/v1/namespaces/claims/pods/${'a'.repeat(5000)}`;

    const response = await rawRequest(harness, { target, headers: [bearer(token)] });

    expect(response.status).toBe(400);
    expectFailureStatus(response.body, 400, 'BadRequest', 'request path refused: path longer than 4096 characters');
    const denied = await waitForDenied(events);
    expect(detailsOf(denied)).toMatchObject({ stage: 'target', status: 400, targetLength: target.length });
    expect(upstream.since()).toEqual([]);
  });
});
