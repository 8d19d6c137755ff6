/**
 * GET /v1/events over HTTP against the local runtime: events seeded by the real access flow (request, token, revoke),
 * read back by an auditor with filters and cursors; a non-auditor refused and recorded; bad parameters refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { problemOf } from '../support/api.ts';
import { DEFAULT_BODY, startTestLocal, type TestLocal } from '../support/local.ts';

const AUDITOR_GROUP = 'auditors';

interface EventsBody {
  range: { from: string; to: string };
  events: AuditEvent[];
  nextCursor: string | null;
}

let t: TestLocal;
let auditorToken: string;
let from: string;
let to: string;
/** What the events table holds for [from, to), read straight from it. */
let seeded: AuditEvent[];
const grantIds: string[] = [];

beforeAll(async () => {
  t = await startTestLocal({
    config: (config) => ({ ...config, auditors: { principals: ['local:auditor-by-id'], groups: [AUDITOR_GROUP] } }),
  });
  auditorToken = await t.token('auditor', [AUDITOR_GROUP]);
  from = new Date().toISOString();
  // Three principals, two clusters; every grant gets a token, every other one is revoked early.
  const plan = [
    { sub: 'ci:deployer', body: DEFAULT_BODY },
    { sub: 'ci:deployer', body: { ...DEFAULT_BODY, cluster: 'tight', namespaces: ['app-jobs'] } },
    { sub: 'ci:reporter', body: { ...DEFAULT_BODY, purpose: 'nightly report' } },
    { sub: 'ci:migrator', body: { ...DEFAULT_BODY, access: 'edit', namespaces: ['app', 'app-jobs'] } },
    { sub: 'ci:migrator', body: { ...DEFAULT_BODY, namespaces: ['kube-system'] } },
  ];
  for (const [index, { sub, body }] of plan.entries()) {
    const token = await t.token(sub);
    const created = await t.call('POST', '/v1/access-requests', { token, body });
    if (created.status !== 201) continue;
    const { id, grantId } = created.json<{ id: string; grantId: string }>();
    grantIds.push(grantId);
    expect((await t.call('POST', `/v1/access-requests/${id}/token`, { token })).status).toBe(200);
    if (index % 2 === 0) expect((await t.call('POST', `/v1/grants/${grantId}/revoke`, { token })).status).toBe(200);
  }
  to = new Date(Date.now() + 1).toISOString();
  seeded = await t.chain.queryRange(new Date(from), new Date(to));
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

function events(params: Record<string, string>, token = auditorToken) {
  return t.call('GET', `/v1/events?${new URLSearchParams(params)}`, { token });
}

/** Every page of a query, following `nextCursor`. */
async function walk(params: Record<string, string>): Promise<{ pages: EventsBody[]; ids: string[] }> {
  const pages: EventsBody[] = [];
  let cursor: string | null = null;
  do {
    const response = await events({ ...params, ...(cursor ? { cursor } : {}) });
    expect(response.status, response.text).toBe(200);
    const page = response.json<EventsBody>();
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor && pages.length < 100);
  return { pages, ids: pages.flatMap((page) => page.events.map((event) => event.id)) };
}

describe('GET /v1/events for an auditor', () => {
  it('walks the whole range in pages of `limit` by cursor, in time order, without a duplicate or a gap', async () => {
    expect(seeded.length).toBeGreaterThan(20);

    const { pages, ids } = await walk({ from, to, limit: '7' });

    expect(ids).toEqual(seeded.map((event) => event.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages.length).toBe(Math.ceil(seeded.length / 7));
    for (const page of pages.slice(0, -1)) expect(page.events).toHaveLength(7);
    expect(pages.at(-1)!.nextCursor).toBeNull();
    expect(pages[0]!.events[0]).toEqual(seeded[0]);
  });

  it('filters by actor, cluster, namespace, grant and type, each page holding only matches', async () => {
    const cases: [Record<string, string>, (event: AuditEvent) => boolean][] = [
      [{ actor: 'local:ci:migrator' }, (e) => e.actor.id === 'local:ci:migrator'],
      [{ cluster: 'tight' }, (e) => e.subject?.cluster === 'tight'],
      [{ namespace: 'app-jobs' }, (e) => !!e.subject?.namespaces?.includes('app-jobs')],
      [{ grantId: grantIds[0]! }, (e) => e.grantId === grantIds[0]],
      [{ type: 'token.issued' }, (e) => e.type === 'token.issued'],
      [{ cluster: 'dev', type: 'grant.revoked' }, (e) => e.subject?.cluster === 'dev' && e.type === 'grant.revoked'],
    ];
    for (const [filter, matches] of cases) {
      const expected = seeded.filter(matches).map((event) => event.id);
      expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);

      const { ids } = await walk({ from, to, limit: '2', ...filter });

      expect(ids, JSON.stringify(filter)).toEqual(expected);
    }
  });

  it('defaults to the last day and 100 events a page', async () => {
    const response = await events({});

    expect(response.status, response.text).toBe(200);
    const body = response.json<EventsBody>();
    expect(Date.parse(body.range.to) - Date.parse(body.range.from)).toBe(86_400_000);
    expect(body.events.length).toBeGreaterThanOrEqual(Math.min(100, seeded.length));
    expect(body.events.length).toBeLessThanOrEqual(100);
  });

  it('accepts an auditor named by principal id, not only by group', async () => {
    const token = await t.token('auditor-by-id', ['staff']);

    const response = await events({ from, to, limit: '1' }, token);

    expect(response.status, response.text).toBe(200);
    expect(response.json<EventsBody>().events).toHaveLength(1);
  });

  it('records the read as audit.queried with its filters and counts, and none of the events it returned', async () => {
    const token = await t.token('auditor-recorded', [AUDITOR_GROUP]);
    const before = new Date();

    const response = await events({ from, to, cluster: 'tight', limit: '3' }, token);

    expect(response.status).toBe(200);
    const recorded = (await t.chain.queryRange(before, new Date(Date.now() + 1))).filter(
      (event) => event.type === 'audit.queried' && event.actor.id === 'local:auditor-recorded',
    );
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.chain.stream).toMatch(/^auditor\/\d{4}-\d{2}-\d{2}\/\d+$/);
    expect(recorded[0]!.details).toMatchObject({
      filters: { cluster: 'tight' },
      limit: 3,
      returned: response.json<EventsBody>().events.length,
      continued: false,
    });
    expect(JSON.stringify(recorded[0]!.details)).not.toContain('purpose');
  });
});

describe('GET /v1/events refusals', () => {
  it('answers a non-auditor 403 problem+json and records audit.read.refused', async () => {
    const token = await t.token('ci:curious');
    const before = new Date();

    const response = await events({ from, to }, token);

    expect(response.status).toBe(403);
    expect(problemOf(response).type).toMatch(/forbidden$/);
    const refused = (await t.chain.queryRange(before, new Date(Date.now() + 1))).filter(
      (event) => event.type === 'audit.read.refused' && event.actor.id === 'local:ci:curious',
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]!.details).toEqual({ route: 'events', reason: 'not an auditor' });
  });

  it('answers 401 without a token', async () => {
    const response = await t.call('GET', '/v1/events');

    expect(response.status).toBe(401);
  });

  it.each([
    ['a range that ends before it starts', { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'from'],
    ['a range longer than 31 days', { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'to'],
    ['a time that is not ISO-8601', { from: 'yesterday' }, 'from'],
    ['limit 0', { limit: '0' }, 'limit'],
    ['limit above 1000', { limit: '1001' }, 'limit'],
    ['an unknown parameter', { colour: 'red' }, '(query)'],
    ['a grant id of the wrong shape', { grantId: 'grt_1' }, 'grantId'],
    ['a cursor this API never handed out', { cursor: 'bm90IGEgY3Vyc29y' }, 'cursor'],
  ])('answers 400 problem+json for %s', async (_name, params, path) => {
    const response = await events(params);

    expect(response.status, response.text).toBe(400);
    const problem = problemOf(response);
    expect(problem.type).toMatch(/invalid-request$/);
    expect((problem.errors as { path: string }[]).map((error) => error.path)).toContain(path);
  });

  it('answers 400 for a cursor of another query (other filters)', async () => {
    const first = (await events({ from, to, limit: '1' })).json<EventsBody>();

    const response = await events({ from, to, limit: '1', cluster: 'dev', cursor: first.nextCursor! });

    expect(response.status).toBe(400);
    expect(problemOf(response).detail).toContain('another query');
  });
});
