/**
 * Bypass class: `Accept: application/vnd.kubernetes.protobuf` (issue 6; DESIGN.md section 7). The relay masks what it
 * can read — JSON — and a protobuf (or YAML) response would carry PHI past the masker. The relay negotiates: a client
 * that accepts JSON among other types is answered in JSON (upstream is asked for JSON only, with kubectl's Table
 * parameters kept), a client that accepts nothing the relay can mask gets 406 and nothing is asked upstream, and an API
 * server that answers protobuf anyway is refused, not passed through.
 */
import { describe, expect, it } from 'vitest';
import { bearer, detailsOf, eventMark, rawRequest, upstreamMark, waitForEvent } from '../support/relay-raw.ts';
import { answerUpstream, expectRefused, podObject, useRelayHarness } from '../support/relay-security.ts';

const SSN = '123-45-6789';
const POD = '/api/v1/namespaces/claims/pods/intake-0';
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

const relay = useRelayHarness({
  objects: [podObject('claims', 'intake-0', { annotations: { note: `caller ssn ${SSN}` } })],
});

describe('a client that accepts nothing the relay can mask', () => {
  it.each([
    ['protobuf', PROTOBUF],
    ['protobuf with its watch parameter', `${PROTOBUF};stream=watch`],
    ['protobuf as a Table', `${PROTOBUF};as=Table;v=v1;g=meta.k8s.io`],
    ['YAML', 'application/yaml'],
    ['JSON refused with q=0, protobuf preferred', `application/json;q=0, ${PROTOBUF}`],
    ['CBOR', 'application/cbor'],
  ])('is answered 406 for %s, and nothing is asked upstream', async (_name, accept) => {
    const { body } = await expectRefused(
      relay.harness,
      { target: POD, headers: [bearer(relay.token), ['Accept', accept]] },
      {
        status: 406,
        reason: 'NotAcceptable',
        message: 'the relay answers in JSON only (it must read a response to mask it); accept application/json',
        stage: 'negotiate',
        details: { verb: 'get' },
        grantId: relay.grant.id,
      },
    );

    expect(body).not.toContain(SSN);
  });
});

describe('a client that accepts protobuf and JSON', () => {
  it.each([
    ['protobuf first, then JSON', `${PROTOBUF}, application/json`, 'application/json'],
    [
      "kubectl's Table request with a protobuf alternative",
      `${PROTOBUF};as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1;g=meta.k8s.io, application/json`,
      'application/json;as=Table;v=v1;g=meta.k8s.io, application/json',
    ],
    ['protobuf and a wildcard', `${PROTOBUF}, */*`, 'application/json'],
    ['protobuf with q=1 and JSON with q=0.1', `${PROTOBUF};q=1, application/json;q=0.1`, 'application/json'],
  ])('is answered in masked JSON for %s: upstream is asked for JSON only', async (_name, accept, negotiated) => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const response = await rawRequest(relay.harness, {
      target: POD,
      headers: [bearer(relay.token), ['Accept', accept]],
    });

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body).not.toContain(SSN);
    expect(response.body).toContain('[MASKED:');
    const forwarded = upstream.since();
    expect(forwarded.map((request) => [request.url, request.accept])).toEqual([[POD, negotiated]]);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({ verb: 'get', status: 200 });
  });
});

describe('an API server that answers protobuf anyway', () => {
  it('is refused with a Status: no protobuf byte reaches the client', async () => {
    const protobufBody = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), Buffer.from(`note ssn ${SSN}`)]);
    answerUpstream(relay.harness, POD, { 'content-type': PROTOBUF }, protobufBody);
    try {
      const { body, forwarded } = await expectRefused(
        relay.harness,
        { target: POD, headers: [bearer(relay.token), ['Accept', `${PROTOBUF}, application/json`]] },
        {
          status: 500,
          reason: 'InternalError',
          message: `the API server answered with ${PROTOBUF}, which the relay cannot inspect`,
          stage: 'upstream',
          details: { upstreamStatus: 200 },
          upstreamPaths: [POD],
        },
      );

      expect(body).not.toContain(SSN);
      expect(forwarded.map((request) => request.accept)).toEqual(['application/json']);
    } finally {
      relay.harness.api.setHandler(undefined);
    }
  });
});
