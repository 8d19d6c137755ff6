/**
 * Bypass class: a credential that should no longer, or never, work (issue 6; DESIGN.md section 7). An expired
 * credential; one whose grant was revoked (stopped within `relay.revocationCheckSeconds`, streams included); one for
 * another grant or whose claims were inflated; one tampered with, unsigned, or signed by another key. The relay verifies
 * the signature offline and reads the grant itself, so what it enforces is the store's grant, never the token's claims;
 * every refusal is a 401 (or, for a claim the grant does not back, a 403) Status, recorded, with nothing upstream.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '#shared/audit/event.ts';
import { AGENT } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  httpRequest,
  rawRequest,
  sendRaw,
  waitForDenied,
} from '../support/relay-raw.ts';
import { expectRefused, useRelayHarness } from '../support/relay-security.ts';

const PODS = '/api/v1/namespaces/claims/pods';

const relay = useRelayHarness({ revocationCheckSeconds: 1, grant: false });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function segments(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: string;
} {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
    signature,
  };
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS of `header` and `payload`, ES256-signed with a key the relay does not hold. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const input = `${encode(header)}.${encode(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** Sends a request with `token`; asserts the Status, the `authenticate` denial and that nothing reached upstream. */
async function expectCredentialRefused(
  token: string,
  expected: { code?: number; reason?: string; message: string; target?: string; method?: string; stage?: string },
): Promise<AuditEventInput> {
  const { denied } = await expectRefused(
    relay.harness,
    { method: expected.method, target: expected.target ?? PODS, headers: [bearer(token), ['Content-Length', '0']] },
    {
      status: expected.code ?? 401,
      reason: expected.reason ?? 'Unauthorized',
      message: expected.message,
      stage: expected.stage ?? 'authenticate',
    },
  );
  expect(JSON.stringify(denied)).not.toContain(token);
  return denied;
}

describe('an expired credential', () => {
  it('works until its exp, then is refused (also when the relay remembered it as verified)', async () => {
    const { grant } = await relay.harness.grant();
    const token = await relay.harness.credential(grant, { ttlSeconds: 1 });
    const expiresAt = Number(segments(token).payload.exp) * 1000;

    const before = await rawRequest(relay.harness, { target: PODS, headers: [bearer(token)] });
    expect(before.status).toBe(200);
    await sleep(Math.max(0, expiresAt - Date.now()) + 50);

    const denied = await expectCredentialRefused(token, {
      message: 'relay credential refused: the relay credential has expired',
    });
    expect(denied.actor).toEqual({ id: 'anonymous' });
  });
});

describe('a revoked grant', () => {
  it('stops its credential within revocationCheckSeconds, and for good', async () => {
    const { grant, token } = await relay.harness.grant();
    expect((await rawRequest(relay.harness, { target: PODS, headers: [bearer(token)] })).status).toBe(200);
    const events = eventMark(relay.harness);

    relay.harness.revoke(grant.id);
    const revokedAt = Date.now();
    let stoppedAfterMs: number | undefined;
    while (Date.now() - revokedAt < 3000) {
      const response = await rawRequest(relay.harness, { target: PODS, headers: [bearer(token)] }, { idleMs: 10 });
      if (response.status === 401) {
        stoppedAfterMs = Date.now() - revokedAt;
        expectFailureStatus(response.body, 401, 'Unauthorized', `grant ${grant.id} is revoked`);
        break;
      }
      expect(response.status).toBe(200);
      await sleep(50);
    }

    expect(stoppedAfterMs).toBeDefined();
    expect(stoppedAfterMs!).toBeLessThanOrEqual(relay.harness.config.relay.revocationCheckSeconds * 1000 + 250);
    const denied = await waitForDenied(events);
    expect(denied.actor).toEqual({ id: AGENT.id });
    expect(detailsOf(denied)).toMatchObject({ stage: 'authenticate', status: 401 });
    expect(detailsOf(denied).credential).toMatch(/^sha256:/);
    // And it stays stopped, a new credential for the grant included.
    await expectCredentialRefused(token, { message: `grant ${grant.id} is revoked` });
    await expectCredentialRefused(await relay.harness.credential(grant), { message: `grant ${grant.id} is revoked` });
  });

  it('ends a watch it had open within the revocation interval', async () => {
    const { grant, token } = await relay.harness.grant();
    const watching = sendRaw(
      relay.harness,
      httpRequest({ target: '/api/v1/namespaces/claims/configmaps?watch=1', headers: [bearer(token)] }),
      { timeoutMs: 6000 },
    );
    await sleep(300);
    relay.harness.api.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `seen-by-${grant.id}`, namespace: 'claims' },
      data: { a: 'b' },
    });
    await sleep(200);

    relay.harness.revoke(grant.id);
    const revokedAt = Date.now();
    const exchange = await watching;

    expect(exchange.closed).toBe(true);
    expect(exchange.responses[0]?.status).toBe(200);
    expect(exchange.responses[0]?.body).toContain(`seen-by-${grant.id}`);
    // Cut, not ended: the relay destroys the stream rather than end it as if the watch had finished.
    expect(exchange.responses[0]?.complete).toBe(false);
    // The check runs every interval and may read a cached status up to an interval old.
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(
      2 * relay.harness.config.relay.revocationCheckSeconds * 1000 + 500,
    );
  });
});

describe('a credential for another grant', () => {
  it('is refused when its principal is not the grant’s', async () => {
    const { grant } = await relay.harness.grant();
    const token = await relay.harness.credential({
      ...grant,
      principal: { ...AGENT, id: 'github-actions:repo:evil/agent:ref:refs/heads/main' },
    });

    const denied = await expectCredentialRefused(token, { message: 'the credential does not match its grant' });
    expect(detailsOf(denied).credential).toMatch(/^sha256:/);
  });

  it('is refused when its grant does not exist', async () => {
    const { grant } = await relay.harness.grant();
    const token = await relay.harness.credential({ ...grant, id: 'grant-that-never-was' });

    await expectCredentialRefused(token, { message: 'grant grant-that-never-was does not exist' });
  });

  it('cannot reach another grant’s namespace', async () => {
    await relay.harness.grant({ namespaces: ['intake'] });
    const { token } = await relay.harness.grant({ namespaces: ['claims'] });

    await expectCredentialRefused(token, {
      code: 403,
      reason: 'Forbidden',
      message: 'namespace intake is outside the grant (namespaces claims)',
      target: '/api/v1/namespaces/intake/pods',
      stage: 'scope',
    });
  });

  it('gets the store’s namespaces, not the ones its claims name', async () => {
    const { grant } = await relay.harness.grant({ namespaces: ['claims'] });
    const token = await relay.harness.credential({ ...grant, namespaces: ['claims', 'intake', 'kube-system'] });

    await expectCredentialRefused(token, {
      code: 403,
      reason: 'Forbidden',
      message: 'namespace kube-system is outside the grant (namespaces claims)',
      target: '/api/v1/namespaces/kube-system/pods',
      stage: 'scope',
    });
  });

  it('gets the store’s access level, not the one its claims name', async () => {
    const { grant } = await relay.harness.grant({ access: 'view' });
    relay.harness.api.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'keep-me', namespace: 'claims' },
      data: { a: 'b' },
    });
    const token = await relay.harness.credential({ ...grant, access: 'edit', groups: ['gatehouse:edit'] });

    await expectCredentialRefused(token, {
      code: 403,
      reason: 'Forbidden',
      message: 'delete is not allowed by access level view',
      method: 'DELETE',
      target: '/api/v1/namespaces/claims/configmaps/keep-me',
      stage: 'scope',
    });
    expect(relay.harness.api.get('v1', 'ConfigMap', 'claims', 'keep-me')).toBeDefined();
  });
});

describe('a tampered or forged credential', () => {
  let token: string;

  beforeAll(async () => {
    ({ token } = await relay.harness.grant());
  });

  it.each([
    [
      'a payload changed to another grant, with the original signature',
      () => {
        const { header, payload, signature } = segments(token);
        return `${encode(header)}.${encode({ ...payload, gid: 'grant-1' })}.${signature}`;
      },
      'the relay credential signature does not verify',
    ],
    [
      'a payload with more namespaces, with the original signature',
      () => {
        const { header, payload, signature } = segments(token);
        return `${encode(header)}.${encode({ ...payload, ns: ['claims', 'kube-system'] })}.${signature}`;
      },
      'the relay credential signature does not verify',
    ],
    [
      'a flipped bit in the signature',
      () => {
        const { signature } = segments(token);
        const bytes = Buffer.from(signature, 'base64url');
        bytes[10] = bytes[10]! ^ 0x01;
        return `${token.slice(0, token.lastIndexOf('.'))}.${bytes.toString('base64url')}`;
      },
      'the relay credential signature does not verify',
    ],
    [
      'a signature by another key under the relay’s kid',
      () => forge(segments(token).header, segments(token).payload),
      'the relay credential signature does not verify',
    ],
    [
      'a signature by another key under its own kid',
      () => forge({ ...segments(token).header, kid: 'attacker-key' }, segments(token).payload),
      'the relay credential is signed with a key this relay does not trust',
    ],
    [
      'alg none with an empty signature',
      () => `${encode({ alg: 'none', typ: 'gatehouse-relay+jwt' })}.${encode(segments(token).payload)}.`,
      'the relay credential is not a compact JWS',
    ],
    [
      'alg HS256',
      () => `${encode({ ...segments(token).header, alg: 'HS256' })}.${encode(segments(token).payload)}.c2lnbmF0dXJl`,
      "the relay credential's algorithm is not ES256",
    ],
    ['a string that is no JWS', () => 'not-a-relay-credential', 'the relay credential is not a compact JWS'],
  ])('is refused: %s', async (_name, make, message) => {
    await expectCredentialRefused(make(), { message: `relay credential refused: ${message}` });
  });
});
