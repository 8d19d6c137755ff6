/**
 * Requests the API refuses, end to end over HTTP against the local runtime: each answers with its status and an
 * application/problem+json body that says why, is audited, and leaves nothing granted (no access entry, no slot, no
 * grant).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import { problemOf, type ApiResponse } from '../support/api.ts';
import { DEFAULT_BODY, startTestLocal, type TestLocal } from '../support/local.ts';

let t: TestLocal;

beforeAll(async () => {
  t = await startTestLocal();
});

afterAll(async () => {
  await t?.stop();
});

interface Snapshot {
  entries: string;
  leases: string;
}

async function snapshot(): Promise<Snapshot> {
  const entries = [...(await t.entries('dev')), ...(await t.entries('tight'))];
  const leases = [...(await t.leases('dev')), ...(await t.leases('tight'))];
  return { entries: JSON.stringify(entries), leases: JSON.stringify(leases) };
}

/** The caller's events of today, each stream's chain intact. */
async function eventsOf(principalId: string): Promise<AuditEvent[]> {
  const events = (await t.eventsToday()).filter((event) => event.actor.id === principalId);
  const streams = new Set(events.map((event) => event.chain.stream));
  for (const stream of streams) expect(verifyChain(await t.events(stream))).toEqual([]);
  return events;
}

/** No grant.created or token.issued for the caller, and no access entry or slot lease appeared. */
async function expectNothingGranted(principalId: string, before: Snapshot): Promise<void> {
  const types = (await eventsOf(principalId)).map((event) => event.type);
  expect(types).not.toContain('grant.created');
  expect(types).not.toContain('token.issued');
  expect(await snapshot()).toEqual(before);
}

async function post(sub: string, init: { body?: unknown; rawBody?: string; headers?: Record<string, string> }) {
  const token = await t.token(sub);
  return t.call('POST', '/v1/access-requests', { token, ...init });
}

function expectProblem(response: ApiResponse, status: number, detail: RegExp) {
  expect(response.status, response.text).toBe(status);
  const problem = problemOf(response);
  expect(problem.detail).toMatch(detail);
  expect(problem.instance).toBe(new URL(response.url).pathname);
  return problem;
}

describe('POST /v1/access-requests refusals', () => {
  it('answers 422 for an unknown cluster, audited as access.rejected', async () => {
    const before = await snapshot();
    const response = await post('ci:r-cluster', { body: { ...DEFAULT_BODY, cluster: 'nope' } });

    expectProblem(response, 422, /unknown cluster "nope"/);
    const events = await eventsOf('local:ci:r-cluster');
    expect(events.map((event) => event.type)).toEqual(['access.requested', 'access.rejected']);
    expect(events[1]?.details).toMatchObject({ problem: { kind: 'unprocessable' } });
    await expectNothingGranted('local:ci:r-cluster', before);
  });

  it('answers 403 for a namespace no policy permits, with the reason and an empty policy list', async () => {
    const before = await snapshot();
    const response = await post('ci:r-ns', { body: { ...DEFAULT_BODY, namespaces: ['app', 'billing'] } });

    const problem = expectProblem(response, 403, /no policy permits view access to namespace dev\/billing/);
    expect(problem.policies).toEqual([]);
    const events = await eventsOf('local:ci:r-ns');
    expect(events.map((event) => event.type)).toEqual(['access.requested', 'policy.decided']);
    expect(events[1]?.details).toMatchObject({ effect: 'forbid', policies: [] });
    const stored = await t.request(events[0]!.requestId!);
    expect(stored?.status).toBe('denied');
    await expectNothingGranted('local:ci:r-ns', before);
  });

  it('answers 403 naming the forbidding policy for a forbidden namespace', async () => {
    const before = await snapshot();
    const response = await post('ci:r-forbid', { body: { ...DEFAULT_BODY, namespaces: ['kube-system'] } });

    const problem = expectProblem(response, 403, /dev\/kube-system is forbidden by .*no-kube-system/);
    expect(problem.policies).toEqual(['no-kube-system']);
    const decided = (await eventsOf('local:ci:r-forbid')).find((event) => event.type === 'policy.decided');
    expect(decided?.details).toMatchObject({ effect: 'forbid', policies: ['no-kube-system'] });
    await expectNothingGranted('local:ci:r-forbid', before);
  });

  it('answers 422 for a duration above the cluster maximum', async () => {
    const before = await snapshot();
    const response = await post('ci:r-duration', { body: { ...DEFAULT_BODY, durationSeconds: 1801 } });

    expectProblem(response, 422, /durationSeconds 1801 is above cluster dev's maximum of 1800/);
    const types = (await eventsOf('local:ci:r-duration')).map((event) => event.type);
    expect(types).toEqual(['access.requested', 'access.rejected']);
    await expectNothingGranted('local:ci:r-duration', before);
  });

  it('answers 400 for an empty purpose, naming the field', async () => {
    const before = await snapshot();
    const response = await post('ci:r-purpose', { body: { ...DEFAULT_BODY, purpose: '   ' } });

    const problem = expectProblem(response, 400, /purpose: must say why access is needed/);
    expect(problem.errors).toEqual([{ path: 'purpose', message: 'must say why access is needed' }]);
    const events = await eventsOf('local:ci:r-purpose');
    expect(events.map((event) => event.type)).toEqual(['access.rejected']);
    expect(events[0]?.details).toEqual({ problem: 'RequestValidationError', fields: ['purpose'] });
    await expectNothingGranted('local:ci:r-purpose', before);
  });

  it('answers 400 for malformed JSON', async () => {
    const before = await snapshot();
    const response = await post('ci:r-json', {
      rawBody: '{"cluster": "dev", "namespaces": [',
      headers: { 'Content-Type': 'application/json' },
    });

    expectProblem(response, 400, /not valid JSON/);
    const events = await eventsOf('local:ci:r-json');
    expect(events.map((event) => event.details)).toEqual([{ problem: 'RequestValidationError', fields: [] }]);
    await expectNothingGranted('local:ci:r-json', before);
  });

  it('answers 400 for an unknown field, so a typo never widens a request', async () => {
    const before = await snapshot();
    const response = await post('ci:r-field', { body: { ...DEFAULT_BODY, clusterAdmin: true } });

    expectProblem(response, 400, /unknown field\(s\): clusterAdmin/);
    expect((await eventsOf('local:ci:r-field')).map((event) => event.type)).toEqual(['access.rejected']);
    await expectNothingGranted('local:ci:r-field', before);
  });

  it('answers 415 for a body that is not application/json', async () => {
    const before = await snapshot();
    const response = await post('ci:r-type', {
      rawBody: JSON.stringify(DEFAULT_BODY),
      headers: { 'Content-Type': 'text/plain' },
    });

    expectProblem(response, 415, /must be application\/json/);
    const events = await eventsOf('local:ci:r-type');
    expect(events.map((event) => event.details)).toEqual([{ problem: 'UnsupportedMediaTypeError', fields: [] }]);
    await expectNothingGranted('local:ci:r-type', before);
  });

  it('answers 413 for a body over api.maxBodyBytes', async () => {
    const before = await snapshot();
    const response = await post('ci:r-size', { body: { ...DEFAULT_BODY, purpose: 'x'.repeat(9000) } });

    expectProblem(response, 413, /the limit is 8192/);
    const events = await eventsOf('local:ci:r-size');
    expect(events.map((event) => event.details)).toEqual([{ problem: 'PayloadTooLargeError', fields: [] }]);
    await expectNothingGranted('local:ci:r-size', before);
  });

  it('denies with 403 when a policy asks for an approver group the configuration does not define', async () => {
    const before = await snapshot();
    const response = await post('ci:r-approval', { body: { ...DEFAULT_BODY, namespaces: ['sensitive'] } });

    const problem = expectProblem(response, 403, /sre-approvers.*cannot be approved/);
    expect(problem.policies).toEqual(['dev-sensitive-approval']);
    const decided = (await eventsOf('local:ci:r-approval')).find((event) => event.type === 'policy.decided');
    expect(decided?.details).toMatchObject({ effect: 'approval', approvalGroups: ['sre-approvers'] });
    await expectNothingGranted('local:ci:r-approval', before);
  });
});

describe('request and grant ids in the path', () => {
  it('answers 400 for a path id that is not a request id', async () => {
    const token = await t.token('ci:r-path');
    for (const [method, path] of [
      ['GET', '/v1/access-requests/not-an-id'],
      ['POST', '/v1/access-requests/grt_01JN8ZQ6T5X7C2M4R9B0D3F6H8/token'],
      ['POST', '/v1/grants/req_01JN8ZQ6T5X7C2M4R9B0D3F6H8/revoke'],
    ] as const) {
      const response = await t.call(method, path, { token });
      expectProblem(response, 400, /is not a (request|grant) id/);
    }
  });

  it('answers 404 for a request or grant that does not exist', async () => {
    const token = await t.token('ci:r-missing');
    const missing = 'req_01JN8ZQ6T5X7C2M4R9B0D3F6H8';

    expectProblem(await t.call('GET', `/v1/access-requests/${missing}`, { token }), 404, /does not exist/);
    expectProblem(await t.call('POST', `/v1/access-requests/${missing}/token`, { token }), 404, /does not exist/);
    expectProblem(
      await t.call('POST', '/v1/grants/grt_01JN8ZQ6T5X7C2M4R9B0D3F6H8/revoke', { token }),
      404,
      /grant grt_01JN8ZQ6T5X7C2M4R9B0D3F6H8 does not exist/,
    );
    expect(await t.request(missing)).toBeUndefined();
  });

  it('answers 403 to a token request for someone else’s request, audited as token.refused', async () => {
    const owner = await t.token('ci:r-owner');
    const created = await t.call('POST', '/v1/access-requests', { token: owner, body: DEFAULT_BODY });
    expect(created.status, created.text).toBe(201);
    const { id, grantId } = created.json<{ id: string; grantId: string }>();
    const thief = await t.token('ci:r-thief');

    const response = await t.call('POST', `/v1/access-requests/${id}/token`, { token: thief });

    expectProblem(response, 403, /only the requester may obtain tokens/);
    const refused = (await eventsOf('local:ci:r-thief')).filter((event) => event.type === 'token.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ grantId, requestId: id, details: { reason: 'not the requester' } });
    const issued = (await t.events(`grant/${grantId}`)).filter((event) => event.type === 'token.issued');
    expect(issued).toHaveLength(1);
    expect(issued[0]?.actor.id).toBe('local:ci:r-owner');
  });
});
