/**
 * Bad bearer tokens at the API, end to end over HTTP against the local runtime: each is answered 401 with
 * WWW-Authenticate, audited as auth.failed with the token's fingerprint (never the token), and grants nothing. The
 * verifier's own attack catalogue is test/security/jwt-attacks.test.ts; this file proves the API path wires it up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevIssuer } from '../../shared/adapters/local/dev-issuer.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import { fingerprint } from '../../shared/audit/fingerprint.ts';
import { LOCAL_AUDIENCE } from '../../local/start.ts';
import { problemOf } from '../support/api.ts';
import { DEFAULT_BODY, startTestLocal, type TestLocal } from '../support/local.ts';

let t: TestLocal;
let stranger: DevIssuer;

beforeAll(async () => {
  t = await startTestLocal();
  stranger = await DevIssuer.create();
  await stranger.start();
});

afterAll(async () => {
  await stranger?.stop();
  await t?.stop();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const badTokens: [name: string, reason: string, make: () => Promise<string>][] = [
  [
    'an expired token',
    'expired',
    () => t.local.issuer.sign({ sub: 'ci:x', groups: ['ci'] }, { audience: LOCAL_AUDIENCE, expiresInSeconds: -600 }),
  ],
  [
    'a token for another audience',
    'bad_audience',
    () => t.local.issuer.sign({ sub: 'ci:x', groups: ['ci'] }, { audience: 'not-gatehouse' }),
  ],
  [
    'a token of an unknown issuer',
    'unknown_issuer',
    () => stranger.sign({ sub: 'ci:x', groups: ['ci'] }, { audience: LOCAL_AUDIENCE }),
  ],
  [
    'an unsecured alg none token',
    'algorithm_not_allowed',
    async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: t.local.issuerUrl,
        aud: LOCAL_AUDIENCE,
        sub: 'ci:x',
        groups: ['ci'],
        iat: now,
        exp: now + 300,
      };
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    },
  ],
  [
    'an oversized token',
    'too_large',
    async () => {
      const signed = await t.local.issuer.sign(
        { sub: 'ci:x', groups: ['ci'], padding: 'p'.repeat(9000) },
        { audience: LOCAL_AUDIENCE },
      );
      return signed;
    },
  ],
];

async function authFailures() {
  return (await t.eventsToday()).filter((event) => event.type === 'auth.failed');
}

describe('bad bearer tokens at POST /v1/access-requests', () => {
  it.each(badTokens)(
    'refuses %s with 401, WWW-Authenticate and an auth.failed event with its fingerprint',
    async (_name, reason, make) => {
      const token = await make();

      const response = await t.call('POST', '/v1/access-requests', { token, body: DEFAULT_BODY });

      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const problem = problemOf(response);
      expect(problem.type).toBe('https://gatehouse.dev/problems/unauthenticated');
      expect(problem.detail.length).toBeGreaterThan(0);
      expect(response.text).not.toContain(token);

      const events = (await authFailures()).filter((event) => event.details?.tokenFingerprint === fingerprint(token));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        actor: { id: 'anonymous' },
        details: { reason, path: '/v1/access-requests', sourceIp: expect.any(String) },
      });
      expect(verifyChain(await t.events(events[0]!.chain.stream))).toEqual([]);
      const all = JSON.stringify(await t.eventsToday());
      expect(all).not.toContain(token);
      expect(all).not.toContain(token.split('.')[1]!);
      expect(await t.leases('dev')).toEqual([]);
      expect(await t.entries('dev')).toEqual([]);
    },
  );

  it('refuses a request without an Authorization header with 401, audited without a fingerprint', async () => {
    const before = (await authFailures()).length;

    const response = await t.call('POST', '/v1/access-requests', { body: DEFAULT_BODY });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(problemOf(response).detail).toBe('no bearer token was presented');
    const events = await authFailures();
    expect(events).toHaveLength(before + 1);
    const missing = events.filter((event) => event.details?.reason === 'missing');
    expect(missing).toHaveLength(1);
    expect(missing[0]?.details).not.toHaveProperty('tokenFingerprint');
    expect(await t.leases('dev')).toEqual([]);
  });

  it('refuses bad tokens on the token and revoke endpoints too', async () => {
    const token = await t.local.issuer.sign({ sub: 'ci:x' }, { audience: LOCAL_AUDIENCE, expiresInSeconds: -600 });
    for (const path of [
      '/v1/access-requests/req_01JN8ZQ6T5X7C2M4R9B0D3F6H8/token',
      '/v1/grants/grt_01JN8ZQ6T5X7C2M4R9B0D3F6H8/revoke',
    ]) {
      const response = await t.call('POST', path, { token });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const events = (await authFailures()).filter((event) => event.details?.path === path);
      expect(events).toHaveLength(1);
      expect(events[0]?.details).toMatchObject({ reason: 'expired', tokenFingerprint: fingerprint(token) });
    }
  });
});
