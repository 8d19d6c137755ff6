/**
 * Bypass class: `Accept: application/vnd.kubernetes.protobuf` (issue 6; DESIGN.md section 7). The relay masks what it
 * can read — JSON — and a protobuf (or YAML) response would carry PHI past the masker. The relay negotiates: a client
 * that accepts JSON among other types is answered in JSON (upstream is asked for JSON only, with kubectl's Table
 * parameters kept), a client that accepts nothing the relay can mask gets 406 and nothing is asked upstream, and an API
 * server that answers protobuf anyway is refused, not passed through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

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

describe('a client that accepts nothing the relay can mask', () => {
  it.each([
    ['protobuf', PROTOBUF],
    ['protobuf with its watch parameter', `${PROTOBUF};stream=watch`],
    ['protobuf as a Table', `${PROTOBUF};as=Table;v=v1;g=meta.k8s.io`],
    ['YAML', 'application/yaml'],
    ['JSON refused with q=0, protobuf preferred', `application/json;q=0, ${PROTOBUF}`],
    ['CBOR', 'application/cbor'],
  ])('is answered 406 for %s, and nothing is asked upstream', async (_name, accept) => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, { target: POD, headers: [bearer(token), ['Accept', accept]] });

    expect(response.status).toBe(406);
    expectFailureStatus(
      response.body,
      406,
      'NotAcceptable',
      'the relay answers in JSON only (it must read a response to mask it); accept application/json',
    );
    expect(response.body).not.toContain(SSN);
    const denied = await waitForDenied(events);
    expect(denied.grantId).toBe(grantId);
    expect(detailsOf(denied)).toMatchObject({ stage: 'negotiate', status: 406, verb: 'get' });
    expect(upstream.since()).toEqual([]);
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
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, { target: POD, headers: [bearer(token), ['Accept', accept]] });

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
    harness.api.setHandler((_req, res, request) => {
      if (request.path !== POD) return false;
      request.status = 200;
      res.writeHead(200, { 'content-type': PROTOBUF, 'content-length': protobufBody.length }).end(protobufBody);
      return true;
    });
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);
    try {
      const response = await rawRequest(harness, {
        target: POD,
        headers: [bearer(token), ['Accept', `${PROTOBUF}, application/json`]],
      });

      expect(response.status).toBe(500);
      expectFailureStatus(
        response.body,
        500,
        'InternalError',
        `the API server answered with ${PROTOBUF}, which the relay cannot inspect`,
      );
      expect(response.body).not.toContain(SSN);
      expect(upstream.since().map((request) => request.accept)).toEqual(['application/json']);
      const denied = await waitForDenied(events);
      expect(detailsOf(denied)).toMatchObject({ stage: 'upstream', status: 500, upstreamStatus: 200 });
    } finally {
      harness.api.setHandler(undefined);
    }
  });
});
