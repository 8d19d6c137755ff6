/**
 * The setup and the refusal check the relay bypass tests of test/security share (issue 6): one relay harness per file,
 * started before its tests with the objects they read and a grant in `claims`, and closed after them; and
 * `expectRefused`, which sends one request and asserts what every refusal must be — the status, a Kubernetes Status that
 * says why, a `relay.denied` event at the stage that refused it, and nothing at the API server.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import type { AuditEventInput } from '#shared/audit/event.ts';
import type { RelayGrant } from '#shared/model.ts';
import type { KubeObject, RecordedRequest } from './k8s-api-server.ts';
import { startRelayHarness, type RelayHarness, type RelayHarnessOptions } from './relay.ts';
import {
  detailsOf,
  eventMark,
  expectFailureStatus,
  rawRequest,
  upstreamMark,
  waitForDenied,
  type RawExchange,
  type RawRequest,
  type RawResponse,
  type UpgradeResult,
} from './relay-raw.ts';

type GrantOptions = Parameters<RelayHarness['grant']>[0];

export interface RelaySuiteOptions extends Omit<RelayHarnessOptions, 'upstream'> {
  /** Objects the API server holds before the tests run. */
  objects?: KubeObject[];
  /**
   * The grant whose credential the tests send, or false for none.
   * @default { namespaces: ['claims'], access: 'edit' }
   */
  grant?: GrantOptions | false;
}

/** What a file's tests use, readable once its `beforeAll` has run. */
export interface RelaySuite {
  readonly harness: RelayHarness;
  /** A credential for `grant`. */
  readonly token: string;
  readonly grant: RelayGrant;
}

/**
 * Starts a relay harness before the file's tests (with `options.objects` created and `options.grant` issued) and
 * closes it after them. Call it at the top level of a test file; a `beforeAll` registered after it runs after it.
 */
export function useRelayHarness(options: RelaySuiteOptions = {}): RelaySuite {
  const { objects = [], grant: grantOptions = { namespaces: ['claims'], access: 'edit' }, ...harnessOptions } = options;
  let harness: RelayHarness | undefined;
  let issued: { grant: RelayGrant; token: string } | undefined;

  beforeAll(async () => {
    harness = await startRelayHarness(harnessOptions);
    for (const object of objects) harness.api.create(object);
    if (grantOptions !== false) issued = await harness.grant(grantOptions);
  });

  afterAll(async () => {
    harness?.api.setHandler(undefined);
    await harness?.close();
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`no ${what}: useRelayHarness's beforeAll has not run (or made none)`);
    return value;
  };
  return {
    get harness() {
      return started(harness, 'relay harness');
    },
    get token() {
      return started(issued, 'grant').token;
    },
    get grant() {
      return started(issued, 'grant').grant;
    },
  };
}

/** A pod in `namespace` with one busybox container; `metadata` adds labels or annotations. */
export function podObject(
  namespace: string,
  name: string,
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, ...metadata },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  };
}

/** The secret `db` in `namespace`, holding `password`: what a bypass would read if it got past the guardrails. */
export function secretObject(namespace: string, password = 'hunter2'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace },
    data: { password: Buffer.from(password).toString('base64') },
  };
}

/**
 * Makes the API server answer requests for `path` with `status`, `headers` and `body` exactly (what a misbehaving server
 * would send), until the test calls `harness.api.setHandler(undefined)`.
 */
export function answerUpstream(
  harness: RelayHarness,
  path: string,
  headers: Record<string, string | number>,
  body: Buffer,
  status = 200,
): void {
  harness.api.setHandler((_req, res, request) => {
    if (request.path !== path) return false;
    request.status = status;
    res.writeHead(status, { ...headers, 'content-length': body.length }).end(body);
    return true;
  });
}

export interface ExpectedRefusal {
  status: number;
  reason: string;
  message: string | RegExp;
  /** The stage the `relay.denied` event names. */
  stage: string;
  /** More details the event must carry (verb, method, policies, targetLength…). */
  details?: Record<string, unknown>;
  /** The grant the event must name. */
  grantId?: string;
  /** The actor the event must name: `{ id: 'anonymous' }` for a refusal before any credential was verified. */
  actor?: AuditEventInput['actor'];
  /** For a raw exchange: the relay must (true) or must not (false) have closed the connection. */
  closed?: boolean;
  /**
   * The paths the API server was asked for before the refusal (a session's pod read), or false where the test checks
   * what reached upstream itself.
   * @default none
   */
  upstreamPaths?: string[] | false;
}

/** The answer to a request sent one of the raw ways: an HTTP response, a whole connection, or a WebSocket upgrade. */
type Answer = RawResponse | RawExchange | UpgradeResult;

/**
 * Sends `request` (a raw request with its headers as given, or a function that sends anything) and asserts it was
 * refused as `expected`: only that status, a failure Status with that reason and message, a `relay.denied` event at
 * that stage, and no request upstream but `expected.upstreamPaths`. Returns the answer, its body, the event and what
 * reached upstream, for what a test checks besides.
 */
export async function expectRefused<A extends Answer = RawResponse>(
  harness: RelayHarness,
  request: RawRequest | (() => Promise<A>),
  expected: ExpectedRefusal,
): Promise<{ answer: A; body: string; denied: AuditEventInput; forwarded: RecordedRequest[] }> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);

  const answer = typeof request === 'function' ? await request() : ((await rawRequest(harness, request)) as A);

  let body: string;
  if ('responses' in answer) {
    expect(answer.responses.map((response) => response.status)).toEqual([expected.status]);
    body = answer.responses[0]!.body;
    if (expected.closed !== undefined) expect(answer.closed).toBe(expected.closed);
  } else {
    expect(answer.status).toBe(expected.status);
    if (!('body' in answer)) throw new Error('the upgrade was accepted');
    if (expected.closed !== undefined) throw new Error('`closed` is known only for a raw exchange');
    body = answer.body;
  }
  expectFailureStatus(body, expected.status, expected.reason, expected.message);
  const denied = await waitForDenied(events);
  if (expected.grantId !== undefined) expect(denied.grantId).toBe(expected.grantId);
  if (expected.actor !== undefined) expect(denied.actor).toEqual(expected.actor);
  expect(detailsOf(denied)).toMatchObject({ stage: expected.stage, status: expected.status, ...expected.details });
  const forwarded = upstream.since();
  if (expected.upstreamPaths !== false) {
    expect(forwarded.map((recorded) => recorded.path)).toEqual(expected.upstreamPaths ?? []);
  }
  return { answer, body, denied, forwarded };
}
