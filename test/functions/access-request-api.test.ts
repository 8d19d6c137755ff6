/**
 * The access-request API end to end over HTTP: the real handlers behind the local API server, dynalite, the real ASL,
 * real JWTs from the development issuer, tokens from the local signer. Happy path, revocation, and idempotency.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLocalToken } from '../../shared/adapters/local/local-token-minter.ts';
import { fingerprint } from '../../shared/audit/fingerprint.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import type { ExecCredential } from '../../shared/model.ts';
import { problemOf } from '../support/api.ts';
import { ADMIN_GROUP, DEFAULT_BODY, VIEW_POLICY_ARN, startTestLocal, type TestLocal } from '../support/local.ts';

interface Created {
  id: string;
  status: string;
  grantId: string;
  cluster: string;
  namespaces: string[];
  access: string;
  expiresAt: string;
  credential: ExecCredential;
  links: { self: string; token: string; revoke: string };
}

let t: TestLocal;

beforeAll(async () => {
  t = await startTestLocal();
});

afterAll(async () => {
  await t?.stop();
});

async function create(sub: string, body: Record<string, unknown> = DEFAULT_BODY, headers?: Record<string, string>) {
  const token = await t.token(sub);
  const response = await t.call('POST', '/v1/access-requests', { token, body, headers });
  return { token, response };
}

async function createGranted(sub: string, body: Record<string, unknown> = DEFAULT_BODY) {
  const { token, response } = await create(sub, body);
  expect(response.status, response.text).toBe(201);
  return { token, created: response.json<Created>() };
}

function expectValidLocalToken(credential: ExecCredential, at: Date) {
  const check = verifyLocalToken(credential.status.token, t.local.signingSecret, 'acme-dev', at);
  expect(check.ok, JSON.stringify(check)).toBe(true);
  return check;
}

describe('POST /v1/access-requests, granted at once', () => {
  it('answers 201 with an ExecCredential the local verifier accepts, a Location header and Cache-Control no-store', async () => {
    const before = Date.now();
    const { response } = await create('ci:happy');
    const after = Date.now();

    expect(response.status, response.text).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const created = response.json<Created>();
    expect(created.id).toMatch(/^req_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(response.headers.get('location')).toBe(`/v1/access-requests/${created.id}`);
    expect(created).toMatchObject({
      status: 'granted',
      cluster: 'dev',
      namespaces: ['app'],
      access: 'view',
      links: {
        self: `/v1/access-requests/${created.id}`,
        token: `/v1/access-requests/${created.id}/token`,
        revoke: `/v1/grants/${created.grantId}/revoke`,
      },
    });
    expect(created.credential).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
    });

    const check = expectValidLocalToken(created.credential, new Date());
    if (!check.ok) return;
    expect(check.session.grantId).toBe(created.grantId);
    const grant = await t.directGrant(created.grantId);
    expect(check.session.roleArn).toBe(grant?.slot.roleArn);
    expect(check.session.sessionName).toBe(grant?.sessionName);

    const expiration = Date.parse(created.credential.status.expirationTimestamp);
    expect(expiration).toBeLessThanOrEqual(after + 14 * 60_000);
    expect(expiration).toBeGreaterThan(before);
    expect(expiration).toBeLessThanOrEqual(Date.parse(created.expiresAt));
    // The grant lasts the requested 600 s from its creation.
    expect(Date.parse(created.expiresAt)).toBeGreaterThanOrEqual(before + 600_000 - 1000);
    expect(Date.parse(created.expiresAt)).toBeLessThanOrEqual(after + 600_000);
  });

  it('creates the access entry for the leased slot role, scoped to the requested namespaces', async () => {
    const { created } = await createGranted('ci:entry');
    const grant = await t.directGrant(created.grantId);

    expect(grant?.status).toBe('active');
    const entry = await t.entry('dev', grant!.slot.roleArn);
    expect(entry).toMatchObject({
      cluster: 'dev',
      roleArn: grant!.slot.roleArn,
      username: `gatehouse:${grant!.sessionName}`,
      grantId: created.grantId,
      policyArn: VIEW_POLICY_ARN,
      namespaces: ['app'],
    });
    expect(await t.leases('dev')).toContainEqual({ index: grant!.slot.index, grantId: created.grantId });
  });

  it('shows the request as granted with an active grant on GET', async () => {
    const { token, created } = await createGranted('ci:get');

    const response = await t.call('GET', `/v1/access-requests/${created.id}`, { token });

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.json()).toMatchObject({
      id: created.id,
      status: 'granted',
      requester: 'local:ci:get',
      cluster: 'dev',
      namespaces: ['app'],
      purpose: DEFAULT_BODY.purpose,
      via: 'direct',
      decision: { effect: 'permit', policies: ['dev-ci'] },
      grant: { id: created.grantId, status: 'active', expiresAt: created.expiresAt },
    });
  });

  it('mints a fresh credential on POST /token for the requester', async () => {
    const { token, created } = await createGranted('ci:fresh');
    // X-Amz-Date has a one-second resolution: wait for the next second so the signature must differ.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const response = await t.call('POST', `/v1/access-requests/${created.id}/token`, { token });

    expect(response.status, response.text).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const credential = response.json<ExecCredential>();
    expect(credential.kind).toBe('ExecCredential');
    expect(credential.status.token).not.toBe(created.credential.status.token);
    expectValidLocalToken(credential, new Date());
    expect(Date.parse(credential.status.expirationTimestamp)).toBeLessThanOrEqual(Date.parse(created.expiresAt));
  });

  it('records access.requested, policy.decided, grant.created and token.issued in intact chains, tokens only as fingerprints', async () => {
    const { token, created } = await createGranted('ci:audit');
    const second = (await t.call('POST', `/v1/access-requests/${created.id}/token`, { token })).json<ExecCredential>();

    const requestEvents = await t.events(`request/${created.id}`);
    const grantEvents = await t.events(`grant/${created.grantId}`);

    expect(requestEvents.map((event) => event.type)).toEqual(['access.requested', 'policy.decided']);
    expect(grantEvents.map((event) => event.type)).toEqual(['grant.created', 'token.issued', 'token.issued']);
    expect(verifyChain(requestEvents)).toEqual([]);
    expect(verifyChain(grantEvents)).toEqual([]);
    expect(requestEvents[1]?.details).toMatchObject({ effect: 'permit', policies: ['dev-ci'] });
    expect(requestEvents[0]).toMatchObject({
      actor: { id: 'local:ci:audit', groups: ['ci'] },
      requestId: created.id,
      details: { purpose: DEFAULT_BODY.purpose, durationSeconds: 600, access: 'view' },
    });
    expect(grantEvents[0]?.details).toMatchObject({ accessPolicyArn: VIEW_POLICY_ARN, expiresAt: created.expiresAt });
    expect(grantEvents[1]?.details).toMatchObject({ fingerprint: fingerprint(created.credential.status.token) });
    expect(grantEvents[2]?.details).toMatchObject({ fingerprint: fingerprint(second.status.token) });
    // Time order across the two streams: requested and decided before the grant, the grant before its token.
    const times = [...requestEvents, ...grantEvents.slice(0, 2)].map((event) => event.time);
    expect([...times].sort()).toEqual(times);

    const everything = JSON.stringify(await t.eventsToday());
    for (const secret of [created.credential.status.token, second.status.token, token]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toContain('k8s-aws-v1.');
  });
});

describe('POST /v1/grants/{id}/revoke', () => {
  it('revokes at once for the requester: entry deleted, slot free, GET revoked, no more tokens, no second revoke', async () => {
    const { token, created } = await createGranted('ci:revoke');
    const grant = (await t.directGrant(created.grantId))!;
    expect(await t.entry('dev', grant.slot.roleArn)).toBeDefined();

    const response = await t.call('POST', `/v1/grants/${created.grantId}/revoke`, {
      token,
      body: { reason: 'job finished' },
    });

    expect(response.status, response.text).toBe(200);
    expect(response.json()).toMatchObject({ id: created.grantId, status: 'revoked', revokedBy: 'local:ci:revoke' });
    expect(await t.entry('dev', grant.slot.roleArn)).toBeUndefined();
    expect((await t.leases('dev')).map((lease) => lease.grantId)).not.toContain(created.grantId);

    const status = await t.call('GET', `/v1/access-requests/${created.id}`, { token });
    expect(status.json()).toMatchObject({
      status: 'revoked',
      grant: { id: created.grantId, status: 'revoked', revokedBy: 'local:ci:revoke' },
    });

    const tokenResponse = await t.call('POST', `/v1/access-requests/${created.id}/token`, { token });
    expect(tokenResponse.status).toBe(409);
    expect(problemOf(tokenResponse).detail).toMatch(/grant is revoked/);

    const again = await t.call('POST', `/v1/grants/${created.grantId}/revoke`, { token });
    expect(again.status).toBe(409);
    expect(problemOf(again).detail).toMatch(/already revoked/);

    const events = await t.events(`grant/${created.grantId}`);
    expect(events.map((event) => event.type)).toEqual([
      'grant.created',
      'token.issued',
      'grant.revoked',
      'token.refused',
      'revoke.refused',
    ]);
    expect(events[4]).toMatchObject({ details: { reason: 'already revoked' } });
    expect(events[2]).toMatchObject({
      actor: { id: 'local:ci:revoke' },
      details: { reason: 'requested', note: 'job finished' },
    });
    expect(verifyChain(events)).toEqual([]);
    // The lifecycle's own Grant step must not bring the entry back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await t.entry('dev', grant.slot.roleArn)).toBeUndefined();
  });

  it('refuses another principal with 403 and leaves the grant active', async () => {
    const { created } = await createGranted('ci:owner');
    const stranger = await t.token('ci:stranger');

    const response = await t.call('POST', `/v1/grants/${created.grantId}/revoke`, { token: stranger });

    expect(response.status).toBe(403);
    expect(problemOf(response).detail).toMatch(/only the requester or an admin/);
    const grant = await t.directGrant(created.grantId);
    expect(grant?.status).toBe('active');
    expect(await t.entry('dev', grant!.slot.roleArn)).toBeDefined();
    expect((await t.events(`grant/${created.grantId}`)).map((event) => event.type)).not.toContain('grant.revoked');
  });

  it('lets a member of admins.groups revoke anyone’s grant', async () => {
    const { created } = await createGranted('ci:admin-target');
    const admin = await t.token('human:alice', [ADMIN_GROUP]);

    const response = await t.call('POST', `/v1/grants/${created.grantId}/revoke`, { token: admin });

    expect(response.status, response.text).toBe(200);
    expect(response.json()).toMatchObject({ status: 'revoked', revokedBy: 'local:human:alice' });
    const grant = await t.directGrant(created.grantId);
    expect(await t.entry('dev', grant!.slot.roleArn)).toBeUndefined();
    const revoked = (await t.events(`grant/${created.grantId}`)).find((event) => event.type === 'grant.revoked');
    expect(revoked?.actor).toMatchObject({ id: 'local:human:alice', groups: [ADMIN_GROUP] });
  });
});

describe('Idempotency-Key', () => {
  it('answers a replay with the same request id, one grant, and a fresh credential', async () => {
    const token = await t.token('ci:idem');
    const headers = { 'Idempotency-Key': 'deploy-run-4711-attempt' };

    const first = await t.call('POST', '/v1/access-requests', { token, body: DEFAULT_BODY, headers });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await t.call('POST', '/v1/access-requests', { token, body: DEFAULT_BODY, headers });

    expect(first.status, first.text).toBe(201);
    expect(second.status, second.text).toBe(201);
    const a = first.json<Created>();
    const b = second.json<Created>();
    expect(b.id).toBe(a.id);
    expect(b.grantId).toBe(a.grantId);
    expect(b.credential.status.token).not.toBe(a.credential.status.token);
    expectValidLocalToken(b.credential, new Date());
    const grantEvents = await t.events(`grant/${a.grantId}`);
    expect(grantEvents.filter((event) => event.type === 'grant.created')).toHaveLength(1);
    expect(grantEvents.filter((event) => event.type === 'token.issued')).toHaveLength(2);
    const ours = (await t.eventsToday()).filter(
      (event) => event.type === 'access.requested' && event.actor.id === 'local:ci:idem',
    );
    expect(ours).toHaveLength(1);
  });

  it('refuses the same key with a different body with 409 and grants nothing more', async () => {
    const token = await t.token('ci:idem-conflict');
    const headers = { 'Idempotency-Key': 'deploy-run-4712-attempt' };
    const first = await t.call('POST', '/v1/access-requests', { token, body: DEFAULT_BODY, headers });
    expect(first.status, first.text).toBe(201);

    const changed = { ...DEFAULT_BODY, namespaces: ['app-jobs'] };
    const second = await t.call('POST', '/v1/access-requests', { token, body: changed, headers });

    expect(second.status).toBe(409);
    expect(problemOf(second).detail).toMatch(/different request body/);
    const requested = (await t.eventsToday()).filter(
      (event) => event.type === 'access.requested' && event.actor.id === 'local:ci:idem-conflict',
    );
    expect(requested).toHaveLength(1);
    expect((await t.entries('dev')).filter((entry) => entry.namespaces?.includes('app-jobs'))).toEqual([]);
  });

  it('keeps two callers with the same key independent', async () => {
    const headers = { 'Idempotency-Key': 'shared-key-0001' };
    const one = await create('ci:idem-one', DEFAULT_BODY, headers);
    const two = await create('ci:idem-two', DEFAULT_BODY, headers);

    expect(one.response.status, one.response.text).toBe(201);
    expect(two.response.status, two.response.text).toBe(201);
    const a = one.response.json<Created>();
    const b = two.response.json<Created>();
    expect(b.id).not.toBe(a.id);
    expect(b.grantId).not.toBe(a.grantId);
    expect((await t.directGrant(b.grantId))?.principal.id).toBe('local:ci:idem-two');
    // Each caller's request is their own: the other may not read it.
    const cross = await t.call('GET', `/v1/access-requests/${a.id}`, { token: two.token });
    expect(cross.status).toBe(403);
  });
});
