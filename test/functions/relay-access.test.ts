/**
 * Relay grants end to end on the local runtime: the real handlers, dynalite, the real ASL on aws-local-stepfunctions,
 * real JWTs, and relay credentials from the local signer, verified as a relay verifies them (localRelayVerificationKeys).
 * No slot is leased and no access entry is made; revocation and expiry mark the grant revoked, which the relay reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localRelayVerificationKeys } from '../../local/local-relay-keys.ts';
import { fingerprint } from '../../shared/audit/fingerprint.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import type { ExecCredential } from '../../shared/model.ts';
import { verifyRelayCredential } from '../../shared/tokens/relay-credential.ts';
import { DEFAULT_BODY, eventually, startTestLocal, type TestLocal } from '../support/local.ts';

const WAIT_UNTIL_EXPIRY_MS = 4000;
const RELAY_BODY = { ...DEFAULT_BODY, via: 'relay' };
const settled = new Map<string, { ok: boolean; error?: string }>();
let t: TestLocal;

beforeAll(async () => {
  t = await startTestLocal({
    config: (config) => ({ ...config, relay: { accessGroups: { edit: ['app-editors'] } } }),
    lifecycle: {
      waitUntilExpiryMs: WAIT_UNTIL_EXPIRY_MS,
      retryIntervalMs: 1,
      onSettled: (name, outcome) => settled.set(name, outcome),
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

interface Created {
  id: string;
  grantId: string;
  expiresAt: string;
  credential: ExecCredential;
}

async function createRelay(sub: string, body: Record<string, unknown> = RELAY_BODY) {
  const token = await t.token(sub);
  const response = await t.call('POST', '/v1/access-requests', { token, body });
  expect(response.status, response.text).toBe(201);
  return { token, created: response.json<Created>() };
}

async function verify(credential: ExecCredential, cluster = 'dev') {
  const { keys } = await localRelayVerificationKeys(t.local.dataDir);
  return verifyRelayCredential(credential.status.token, keys, { now: new Date(), cluster });
}

describe('via relay on the local runtime', () => {
  it('grants with a relay credential and neither a slot nor an access entry', async () => {
    const leasesBefore = await t.leases('dev');
    const entriesBefore = await t.entries('dev');

    const { created } = await createRelay('ci:relay-create');

    const check = await verify(created.credential);
    expect(check, JSON.stringify(check)).toMatchObject({
      ok: true,
      claims: {
        grantId: created.grantId,
        principalId: 'local:ci:relay-create',
        cluster: 'dev',
        namespaces: ['app'],
        access: 'view',
        groups: ['gatehouse:view'],
      },
    });
    expect(created.credential.status.expirationTimestamp).toBe(check.ok && check.claims.expiresAt.toISOString());
    expect(await t.leases('dev')).toEqual(leasesBefore);
    expect(await t.entries('dev')).toEqual(entriesBefore);
    const grant = await t.grant(created.grantId);
    expect(grant).toMatchObject({ via: 'relay', status: 'active', groups: ['gatehouse:view'] });
    expect(grant).not.toHaveProperty('slot');
    const events = await t.events(`grant/${created.grantId}`);
    expect(events.map((event) => event.type)).toEqual(['grant.created', 'token.issued']);
    expect(events[1]?.details).toMatchObject({
      via: 'relay',
      fingerprint: fingerprint(created.credential.status.token),
    });
    expect(JSON.stringify(events)).not.toContain(created.credential.status.token);
    expect(verifyChain(events)).toEqual([]);
  });

  it('impersonates the groups configured for the access level', async () => {
    const { created } = await createRelay('ci:relay-edit', { ...RELAY_BODY, access: 'edit' });
    expect(await verify(created.credential)).toMatchObject({ ok: true, claims: { groups: ['app-editors'] } });
  });

  it('issues a fresh relay credential from /token, and none once the grant is revoked', async () => {
    const { token, created } = await createRelay('ci:relay-revoke');

    const fresh = await t.call('POST', `/v1/access-requests/${created.id}/token`, { token });
    expect(fresh.status, fresh.text).toBe(200);
    expect(await verify(fresh.json<ExecCredential>())).toMatchObject({ ok: true });

    const revoked = await t.call('POST', `/v1/grants/${created.grantId}/revoke`, { token, body: {} });
    expect(revoked.status, revoked.text).toBe(200);
    expect(await t.grant(created.grantId)).toMatchObject({ via: 'relay', status: 'revoked' });
    const refused = await t.call('POST', `/v1/access-requests/${created.id}/token`, { token });
    expect(refused.status, refused.text).toBe(409);
    const events = await t.events(`grant/${created.grantId}`);
    expect(events.find((event) => event.type === 'grant.revoked')?.details).toMatchObject({
      reason: 'requested',
      via: 'relay',
    });
  });

  it('expires through the real lifecycle: the grant is marked revoked and the request expired', async () => {
    const { created } = await createRelay('ci:relay-expiry');

    const outcome = await eventually(async () => settled.get(created.id), 10_000);

    expect(outcome).toEqual({ ok: true });
    expect(await t.grant(created.grantId)).toMatchObject({ via: 'relay', status: 'revoked' });
    expect((await t.request(created.id))?.status).toBe('expired');
    const events = await t.events(`grant/${created.grantId}`);
    expect(events.map((event) => event.type)).toEqual(['grant.created', 'token.issued', 'grant.revoked']);
  });
});
