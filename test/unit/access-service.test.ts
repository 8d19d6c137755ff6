/** AccessService with in-memory ports at a fixed instant: the rules that are hard to reach through HTTP. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AccessService, type AccessServiceDeps } from '../../shared/access/access-service.ts';
import { ForbiddenError, GrantNotActiveError, NotAvailableError } from '../../shared/access/errors.ts';
import { fingerprint } from '../../shared/audit/fingerprint.ts';
import type { AuditEventInput } from '../../shared/audit/event.ts';
import type { AccessRequest, ExecCredential, Grant, Principal, Slot } from '../../shared/model.ts';
import type { AccessEntries, AccessStore, RelayCredentialSigner, SlotPool } from '../../shared/ports.ts';
import { GatehouseConfigSchema } from '../../shared/config/schema.ts';
import { relayKeyId, verifyRelayCredential } from '../../shared/tokens/relay-credential.ts';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const requester: Principal = {
  id: 'local:ci:demo',
  issuer: 'http://127.0.0.1',
  issuerName: 'local',
  subject: 'ci:demo',
  groups: ['ci'],
};
const stranger: Principal = { ...requester, id: 'local:someone', subject: 'someone', groups: [] };

class MemoryStore implements AccessStore {
  requests = new Map<string, AccessRequest>();
  grants = new Map<string, Grant>();
  async putRequest(request: AccessRequest) {
    this.requests.set(request.id, structuredClone(request));
  }
  async getRequest(id: string) {
    return structuredClone(this.requests.get(id));
  }
  async putGrant(grant: Grant) {
    this.grants.set(grant.id, structuredClone(grant));
  }
  async getGrant(id: string) {
    return structuredClone(this.grants.get(id));
  }
  async markGrantRevoked(id: string, revokedAt: string, revokedBy: string, reason: string) {
    const grant = this.grants.get(id);
    if (!grant) return undefined;
    const changed = grant.status === 'active';
    if (changed) Object.assign(grant, { status: 'revoked', revokedAt, revokedBy, revokeReason: reason });
    return { grant: structuredClone(grant), changed };
  }
}

class MemoryEntries implements AccessEntries {
  entries = new Map<string, { username: string; namespaces?: string[] }>();
  /** Runs once, just before the next create lands: lets a test interleave a revocation with the lifecycle's attach. */
  beforeCreate?: () => Promise<void>;
  async create(input: { roleArn: string; username: string }) {
    const hook = this.beforeCreate;
    this.beforeCreate = undefined;
    await hook?.();
    this.entries.set(input.roleArn, { username: input.username });
  }
  async associatePolicy(input: { roleArn: string; namespaces: string[] }) {
    const entry = this.entries.get(input.roleArn);
    if (entry) entry.namespaces = input.namespaces;
  }
  async delete(input: { roleArn: string }) {
    this.entries.delete(input.roleArn);
  }
}

const relayKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const relayPem = relayKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const relaySigner: RelayCredentialSigner = {
  keyId: async () => relayKeyId(relayPem),
  sign: async (input) => sign('sha256', input, { key: relayKey.privateKey, dsaEncoding: 'ieee-p1363' }),
  publicKeyPem: async () => relayPem,
};

function setup(options: { relay?: boolean; relayConfig?: Record<string, unknown> } = {}) {
  const config = GatehouseConfigSchema.parse({
    version: 1,
    issuers: [{ name: 'local', issuer: 'http://127.0.0.1', audience: 'gatehouse' }],
    clusters: [
      {
        name: 'local',
        region: 'us-east-1',
        account: '000000000000',
        accessLevels: { view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy' },
      },
    ],
    policies: { files: ['access.cedar'] },
    ...(options.relayConfig ? { relay: options.relayConfig } : {}),
  });
  const store = new MemoryStore();
  const entries = new MemoryEntries();
  const events: AuditEventInput[] = [];
  const slot: Slot = { cluster: 'local', index: 0, roleArn: 'arn:aws:iam::000000000000:role/slot-0' };
  const leased = new Set<string>();
  const slots: SlotPool = {
    lease: async (_cluster, grantId) => (leased.size === 0 ? (leased.add(grantId), slot) : undefined),
    release: async (_slot, grantId) => void leased.delete(grantId),
  };
  let counter = 0;
  const credential: ExecCredential = {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    spec: {},
    status: { token: 'k8s-aws-v1.test', expirationTimestamp: new Date(NOW.getTime() + 14 * 60_000).toISOString() },
  };
  const deps: AccessServiceDeps = {
    config,
    policy: { decideAccess: () => ({ effect: 'permit', policies: ['p'], approvalGroups: [], reason: 'permitted' }) },
    audit: {
      append: async (event) => {
        events.push(event);
        return {
          ...event,
          schema: 'gatehouse.event/v1',
          id: 'e',
          time: NOW.toISOString(),
          chain: { stream: event.stream, seq: 1, prev: '', hash: '' },
        };
      },
    },
    store,
    slots,
    entries,
    minter: { mint: async () => credential },
    ...(options.relay ? { relaySigner } : {}),
    scheduler: { schedule: async () => undefined },
    clock: { now: () => NOW },
    ids: { next: () => `01M8${String(++counter).padStart(22, '0')}` },
  };
  const service = new AccessService(deps);
  const grantOnce = async (via: 'direct' | 'relay' = 'direct', durationSeconds = 900) => {
    const outcome = await service.requestAccess(requester, {
      cluster: 'local',
      namespaces: ['demo'],
      access: 'view',
      durationSeconds,
      purpose: 'test',
      via,
    });
    if (outcome.status !== 'granted') throw new Error('expected the permitted request to be granted');
    return outcome;
  };
  return { service, store, entries, events, leased, slot, grantOnce, config };
}

describe('AccessService', () => {
  it('removes an access entry the lifecycle re-asserted while a revocation was under way', async () => {
    const { service, entries, grantOnce, slot } = setup();
    const granted = await grantOnce();
    entries.beforeCreate = () => service.revokeGrant(requester, granted.grantId).then(() => undefined);

    await expect(service.grantForRequest(granted.requestId)).rejects.toBeInstanceOf(GrantNotActiveError);
    expect(entries.entries.has(slot.roleArn)).toBe(false);
  });

  it('re-asserts the entry of an active grant', async () => {
    const { service, entries, grantOnce, slot } = setup();
    const granted = await grantOnce();
    entries.entries.clear();

    await expect(service.grantForRequest(granted.requestId)).resolves.toEqual({
      requestId: granted.requestId,
      grantId: granted.grantId,
      expiresAt: granted.expiresAt,
    });
    expect(entries.entries.get(slot.roleArn)).toMatchObject({ namespaces: ['demo'] });
  });

  it('records a refused revocation by someone who is not the requester, and keeps the grant', async () => {
    const { service, store, events, grantOnce } = setup();
    const granted = await grantOnce();

    await expect(service.revokeGrant(stranger, granted.grantId)).rejects.toBeInstanceOf(ForbiddenError);
    expect(events.at(-1)).toMatchObject({
      type: 'revoke.refused',
      actor: { id: stranger.id },
      grantId: granted.grantId,
    });
    expect((await store.getGrant(granted.grantId))?.status).toBe('active');
  });

  it('records a second revocation as refused', async () => {
    const { service, events, grantOnce } = setup();
    const granted = await grantOnce();
    await service.revokeGrant(requester, granted.grantId);

    await expect(service.revokeGrant(requester, granted.grantId)).rejects.toBeInstanceOf(GrantNotActiveError);
    expect(events.at(-1)).toMatchObject({ type: 'revoke.refused', details: { reason: 'already revoked' } });
  });

  it("records a refused read of someone else's request", async () => {
    const { service, events, grantOnce } = setup();
    const granted = await grantOnce();

    await expect(service.getRequest(stranger, granted.requestId)).rejects.toBeInstanceOf(ForbiddenError);
    expect(events.at(-1)).toMatchObject({ type: 'request.read.refused', requestId: granted.requestId });
  });

  it('writes grant.revoked once however often the lifecycle revokes', async () => {
    const { service, events, leased, grantOnce } = setup();
    const granted = await grantOnce();
    await service.endRequest(granted.requestId, 'expired');
    await service.endRequest(granted.requestId, 'expired');

    expect(events.filter((event) => event.type === 'grant.revoked')).toHaveLength(1);
    expect(leased.size).toBe(0);
  });
});

describe('AccessService, relay grants', () => {
  const verify = (token: string, at = NOW) =>
    verifyRelayCredential(token, new Map([[relayKeyId(relayPem), relayPem]]), {
      now: new Date(at.getTime() + 1000),
      cluster: 'local',
    });

  it("grants without leasing a slot or creating an access entry, with the level's default group", async () => {
    const { service, store, entries, leased, events, grantOnce } = setup({ relay: true });

    const granted = await grantOnce('relay');

    expect(leased.size).toBe(0);
    expect(entries.entries.size).toBe(0);
    const grant = await store.getGrant(granted.grantId);
    expect(grant).toMatchObject({ via: 'relay', groups: ['gatehouse:view'], status: 'active' });
    expect(grant).not.toHaveProperty('slot');
    expect(events.find((event) => event.type === 'grant.created')?.details).toEqual({
      via: 'relay',
      username: grant!.username,
      groups: ['gatehouse:view'],
      expiresAt: granted.expiresAt,
    });
    await expect(service.grantForRequest(granted.requestId)).resolves.toEqual({
      requestId: granted.requestId,
      grantId: granted.grantId,
      expiresAt: granted.expiresAt,
    });
    expect(entries.entries.size).toBe(0);
  });

  it('impersonates the groups the configuration names for the access level', async () => {
    const { store, grantOnce } = setup({
      relay: true,
      relayConfig: { accessGroups: { view: ['readers', 'auditors'] } },
    });
    const granted = await grantOnce('relay');
    expect(await store.getGrant(granted.grantId)).toMatchObject({ groups: ['readers', 'auditors'] });
  });

  it('issues a relay credential as an ExecCredential, bound to the grant, and audits only its fingerprint', async () => {
    const { service, events, grantOnce } = setup({ relay: true });
    const granted = await grantOnce('relay');

    const credential = await service.issueToken(requester, granted.requestId);

    const check = await verify(credential.status.token);
    expect(check, JSON.stringify(check)).toMatchObject({
      ok: true,
      claims: {
        grantId: granted.grantId,
        principalId: requester.id,
        cluster: 'local',
        namespaces: ['demo'],
        access: 'view',
        groups: ['gatehouse:view'],
      },
    });
    expect(credential).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { expirationTimestamp: new Date(NOW.getTime() + 900_000).toISOString() },
    });
    const issued = events.filter((event) => event.type === 'token.issued');
    expect(issued.at(-1)?.details).toMatchObject({
      fingerprint: fingerprint(credential.status.token),
      via: 'relay',
      expiresAt: credential.status.expirationTimestamp,
    });
    expect(JSON.stringify(events)).not.toContain(credential.status.token);
  });

  it('never issues a credential that outlives the grant, and lives at most credentialTtlSeconds', async () => {
    const short = setup({ relay: true });
    const shortGrant = await short.grantOnce('relay', 120);
    const shortCredential = await short.service.issueToken(requester, shortGrant.requestId);
    expect(shortCredential.status.expirationTimestamp).toBe(shortGrant.expiresAt);

    const ttl = setup({ relay: true, relayConfig: { credentialTtlSeconds: 300 } });
    const ttlGrant = await ttl.grantOnce('relay', 3600);
    const ttlCredential = await ttl.service.issueToken(requester, ttlGrant.requestId);
    expect(ttlCredential.status.expirationTimestamp).toBe(new Date(NOW.getTime() + 300_000).toISOString());
  });

  it('revokes by marking the grant revoked, after which no credential is issued', async () => {
    const { service, store, events, grantOnce } = setup({ relay: true });
    const granted = await grantOnce('relay');

    const revoked = await service.revokeGrant(requester, granted.grantId, 'done');

    expect(revoked.status).toBe('revoked');
    expect((await store.getGrant(granted.grantId))?.status).toBe('revoked');
    expect(events.find((event) => event.type === 'grant.revoked')?.details).toMatchObject({ via: 'relay' });
    await expect(service.issueToken(requester, granted.requestId)).rejects.toBeInstanceOf(GrantNotActiveError);
  });

  it('expires through the lifecycle like a direct grant', async () => {
    const { service, store, grantOnce } = setup({ relay: true });
    const granted = await grantOnce('relay');

    await expect(service.endRequest(granted.requestId, 'expired')).resolves.toMatchObject({ status: 'revoked' });
    expect((await store.getRequest(granted.requestId))?.status).toBe('expired');
  });

  it('refuses via relay as unavailable where no relay signer is configured, granting nothing', async () => {
    const { service, store, events, leased } = setup();

    await expect(
      service.requestAccess(requester, {
        cluster: 'local',
        namespaces: ['demo'],
        access: 'view',
        durationSeconds: 900,
        purpose: 'test',
        via: 'relay',
      }),
    ).rejects.toBeInstanceOf(NotAvailableError);
    expect(store.grants.size).toBe(0);
    expect(leased.size).toBe(0);
    expect(events.map((event) => event.type)).toEqual(['access.requested', 'access.rejected']);
  });
});
