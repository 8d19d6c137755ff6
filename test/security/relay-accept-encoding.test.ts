/**
 * Bypass class: `Accept-Encoding: br` and other content codings (issue 6; DESIGN.md section 7). A compressed response
 * is bytes the masker cannot read; passing it through unmasked, or decoding an attacker-chosen coding, are both wrong.
 * The relay neutralises the header: upstream is always asked for `identity`, whatever the client accepts, and the client
 * gets plain masked JSON with no Content-Encoding. An API server that compresses anyway is refused, not passed through.
 * `TE` (transfer codings) is hop-by-hop and never forwarded.
 */
import { describe, expect, it } from 'vitest';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { answerUpstream, expectRefused, podObject, useRelayHarness } from '../support/relay-security.ts';

const SSN = '123-45-6789';
const POD = '/api/v1/namespaces/claims/pods/intake-0';

const relay = useRelayHarness({
  objects: [podObject('claims', 'intake-0', { annotations: { note: `caller ssn ${SSN}` } })],
});

describe('a client that asks for a compressed response', () => {
  it.each([
    ['br', 'br'],
    ['gzip, deflate, br', 'gzip, deflate, br'],
    ['zstd', 'zstd'],
    ['any coding', '*'],
    ['anything but identity', 'identity;q=0, br'],
  ])('gets plain masked JSON for Accept-Encoding: %s, and upstream is asked for identity', async (_name, value) => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const response = await rawRequest(relay.harness, {
      target: POD,
      headers: [bearer(relay.token), ['Accept-Encoding', value], ['TE', 'gzip, trailers'], ['Connection', 'TE']],
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
    expect(recorded.grantId).toBe(relay.grant.id);
    expect(detailsOf(recorded)).toMatchObject({ verb: 'get', status: 200 });
  });
});

describe('an API server that compresses anyway', () => {
  it.each([
    ['br', () => brotliCompressSync(Buffer.from(JSON.stringify({ kind: 'Pod', note: `ssn ${SSN}` })))],
    ['gzip', () => gzipSync(Buffer.from(JSON.stringify({ kind: 'Pod', note: `ssn ${SSN}` })))],
  ])('is refused when it answers with Content-Encoding: %s', async (coding, compress) => {
    const body = compress();
    answerUpstream(relay.harness, POD, { 'content-type': 'application/json', 'content-encoding': coding }, body);
    try {
      const refused = await expectRefused(
        relay.harness,
        { target: POD, headers: [bearer(relay.token), ['Accept-Encoding', coding]] },
        {
          status: 500,
          reason: 'InternalError',
          message: `the API server answered with content encoding ${coding}, which the relay cannot inspect`,
          stage: 'upstream',
          details: { upstreamStatus: 200 },
          upstreamPaths: [POD],
        },
      );

      expect(refused.answer.headers['content-encoding']).toBeUndefined();
      expect(refused.body).not.toContain(body.toString('latin1'));
    } finally {
      relay.harness.api.setHandler(undefined);
    }
  });
});
