/**
 * Bypass class: `Accept-Encoding: br` and other content codings (issue 6; DESIGN.md section 7). A compressed response
 * is bytes the masker cannot read; passing it through unmasked, or decoding an attacker-chosen coding, are both wrong.
 * The relay neutralises the header: upstream is always asked for `identity`, whatever the client accepts, and the client
 * gets plain masked JSON with no Content-Encoding. An API server that compresses anyway is refused, not passed through.
 * `TE` (transfer codings) is hop-by-hop and never forwarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  rawRequest,
  upstreamMark,
  waitForDenied,
  waitForEvent,
} from '../support/relay-raw.ts';

const SSN = '123-45-6789';
const POD = '/api/v1/namespaces/claims/pods/intake-0';

let harness: RelayHarness;
let token: string;
let grantId: string;

beforeAll(async () => {
  harness = await startRelayHarness();
  harness.api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake-0', namespace: 'claims', annotations: { note: `caller ssn ${SSN}` } },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  ({
    token,
    grant: { id: grantId },
  } = await harness.grant({ namespaces: ['claims'], access: 'edit' }));
});

afterAll(async () => {
  harness?.api.setHandler(undefined);
  await harness?.close();
});

describe('a client that asks for a compressed response', () => {
  it.each([
    ['br', 'br'],
    ['gzip, deflate, br', 'gzip, deflate, br'],
    ['zstd', 'zstd'],
    ['any coding', '*'],
    ['anything but identity', 'identity;q=0, br'],
  ])('gets plain masked JSON for Accept-Encoding: %s, and upstream is asked for identity', async (_name, value) => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, {
      target: POD,
      headers: [bearer(token), ['Accept-Encoding', value], ['TE', 'gzip, trailers'], ['Connection', 'TE']],
    });

    expect(response.status).toBe(200);
    expect(response.headers['content-encoding']).toBeUndefined();
    const pod = JSON.parse(response.body);
    expect(pod.metadata.annotations.note).toBe('caller ssn [MASKED:SSN]');
    const forwarded = upstream.since();
    expect(forwarded.map((request) => request.url)).toEqual([POD]);
    expect(forwarded[0]!.headers['accept-encoding']).toBe('identity');
    expect(forwarded[0]!.headers.te).toBeUndefined();
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(recorded.grantId).toBe(grantId);
    expect(detailsOf(recorded)).toMatchObject({ verb: 'get', status: 200 });
  });
});

describe('an API server that compresses anyway', () => {
  it.each([
    ['br', () => brotliCompressSync(Buffer.from(JSON.stringify({ kind: 'Pod', note: `ssn ${SSN}` })))],
    ['gzip', () => gzipSync(Buffer.from(JSON.stringify({ kind: 'Pod', note: `ssn ${SSN}` })))],
  ])('is refused when it answers with Content-Encoding: %s', async (coding, compress) => {
    const body = compress();
    harness.api.setHandler((_req, res, request) => {
      if (request.path !== POD) return false;
      request.status = 200;
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'content-encoding': coding,
          'content-length': body.length,
        })
        .end(body);
      return true;
    });
    const events = eventMark(harness);
    try {
      const response = await rawRequest(harness, {
        target: POD,
        headers: [bearer(token), ['Accept-Encoding', coding]],
      });

      expect(response.status).toBe(500);
      expect(response.headers['content-encoding']).toBeUndefined();
      expectFailureStatus(
        response.body,
        500,
        'InternalError',
        `the API server answered with content encoding ${coding}, which the relay cannot inspect`,
      );
      expect(response.body).not.toContain(body.toString('latin1'));
      const denied = await waitForDenied(events);
      expect(detailsOf(denied)).toMatchObject({ stage: 'upstream', status: 500, upstreamStatus: 200 });
    } finally {
      harness.api.setHandler(undefined);
    }
  });
});
