/**
 * The OidcVerifier with the remote JWKS resolver against a real OIDC issuer on loopback (DevIssuer): discovery, JWKS
 * caching, rotation, rate limiting and the claim checks. Forged and confused tokens are in test/security/jwt-attacks.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { remoteKeyResolver } from '../../shared/adapters/http/remote-jwks.ts';
import { DEV_ISSUER_KEY_FILE, DevIssuer } from '../../shared/adapters/local/dev-issuer.ts';
import { IssuerConfigSchema } from '../../shared/config/schema.ts';
import type { IssuerConfig } from '../../shared/config/schema.ts';
import type { AuthenticationFailureReason } from '../../shared/identity/errors.ts';
import { OidcVerifier } from '../../shared/identity/oidc-verifier.ts';

const NOW = new Date('2026-03-02T09:30:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const clock = { now: () => NOW };
const AUDIENCE = 'https://gatehouse.test';
const SKEW = 30;
/** Short, so the tests can wait a window out; real deployments keep jose's 30 s. */
const COOLDOWN_MS = 1_000;

const ciClaims = {
  sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
  repository: 'octo-org/octo-repo',
  ref: 'refs/heads/main',
  workflow: 'deploy',
  run_id: '9876543210',
  actor: 'octocat',
  groups: ['ci'],
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function issuerConfig(issuer: string, overrides: Record<string, unknown> = {}): IssuerConfig {
  return IssuerConfigSchema.parse({
    name: 'dev',
    issuer,
    audience: AUDIENCE,
    kind: 'github-actions',
    clockSkewSeconds: SKEW,
    ...overrides,
  });
}

function makeVerifier(issuers: IssuerConfig[], maxJwtBytes = 8192): OidcVerifier {
  return new OidcVerifier({ issuers, keys: remoteKeyResolver({ cooldownMs: COOLDOWN_MS }), clock, maxJwtBytes });
}

async function expectRefused(attempt: Promise<unknown>, reason: AuthenticationFailureReason): Promise<void> {
  await expect(attempt).rejects.toMatchObject({ name: 'AuthenticationError', reason });
}

describe('OidcVerifier with remote JWKS against a loopback issuer', () => {
  let dev: DevIssuer;
  let config: IssuerConfig;
  let verifier: OidcVerifier;

  beforeEach(async () => {
    dev = await DevIssuer.create({ clock });
    config = issuerConfig(await dev.start());
    verifier = makeVerifier([config]);
  });

  afterEach(async () => {
    await dev.stop();
  });

  describe('a valid token', () => {
    it('verifies and maps to a principal with CI claims', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE });

      const { principal, claims } = await verifier.verify(token);

      expect(principal).toEqual({
        id: 'dev:repo:octo-org/octo-repo:ref:refs/heads/main',
        issuer: dev.issuer,
        issuerName: 'dev',
        subject: 'repo:octo-org/octo-repo:ref:refs/heads/main',
        groups: ['ci'],
        ci: {
          provider: 'github-actions',
          repository: 'octo-org/octo-repo',
          ref: 'refs/heads/main',
          workflow: 'deploy',
          runId: '9876543210',
          actor: 'octocat',
        },
      });
      expect(claims).toMatchObject({ iss: dev.issuer, aud: AUDIENCE, iat: NOW_SECONDS, exp: NOW_SECONDS + 300 });
    });

    it('fetches discovery and the key set once, then verifies from the cache', async () => {
      for (let index = 0; index < 5; index += 1) {
        await verifier.verify(await dev.sign({ ...ciClaims, jti: `run-${index}` }, { audience: AUDIENCE }));
      }

      expect(dev.requestCounts).toEqual({ discovery: 1, jwks: 1, other: 0 });
    });

    it('uses a configured jwksUri without fetching the discovery document', async () => {
      const direct = makeVerifier([issuerConfig(dev.issuer, { jwksUri: dev.jwksUri })]);

      await direct.verify(await dev.sign(ciClaims, { audience: AUDIENCE }));

      expect(dev.requestCounts).toEqual({ discovery: 0, jwks: 1, other: 0 });
    });

    it('verifies RS256 tokens as well as ES256', async () => {
      const rsa = await DevIssuer.create({ clock, algorithm: 'RS256' });
      const rsaVerifier = makeVerifier([issuerConfig(await rsa.start())]);
      try {
        const { principal } = await rsaVerifier.verify(await rsa.sign(ciClaims, { audience: AUDIENCE }));
        expect(principal.issuer).toBe(rsa.issuer);
      } finally {
        await rsa.stop();
      }
    });

    it('accepts a token whose audience list includes one configured audience', async () => {
      const token = await dev.sign(ciClaims, { audience: ['https://vault.example.com', AUDIENCE] });

      await expect(verifier.verify(token)).resolves.toMatchObject({ principal: { issuerName: 'dev' } });
    });
  });

  describe('time claims, checked with the issuer clock skew', () => {
    it('refuses a token that expired beyond the skew', async () => {
      await expectRefused(
        verifier.verify(await dev.sign(ciClaims, { audience: AUDIENCE, expiresInSeconds: -SKEW - 1 })),
        'expired',
      );
    });

    it('accepts a token that expired within the skew', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, expiresInSeconds: -SKEW + 5 });

      await expect(verifier.verify(token)).resolves.toBeDefined();
    });

    it('refuses a token without exp', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, expiresInSeconds: null });

      await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'missing_claim', claim: 'exp' });
    });

    it('refuses a token whose nbf is beyond the skew in the future', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, notBefore: NOW_SECONDS + SKEW + 1 });

      await expectRefused(verifier.verify(token), 'not_yet_valid');
    });

    it('accepts a token whose nbf is within the skew', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, notBefore: NOW_SECONDS + SKEW - 5 });

      await expect(verifier.verify(token)).resolves.toBeDefined();
    });

    it('refuses a token issued beyond the skew in the future', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, issuedAt: NOW_SECONDS + SKEW + 1 });

      await expectRefused(verifier.verify(token), 'issued_in_future');
    });

    it('accepts a token issued within the skew in the future', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, issuedAt: NOW_SECONDS + SKEW - 5 });

      await expect(verifier.verify(token)).resolves.toBeDefined();
    });

    it('refuses a time claim of the wrong type as malformed', async () => {
      // The payload type says nbf is a number; an issuer's JSON can say anything.
      const wrongType = { ...ciClaims, nbf: 'yesterday' } as unknown as JWTPayload;
      const token = await dev.sign(wrongType, { audience: AUDIENCE });

      await expectRefused(verifier.verify(token), 'malformed');
    });
  });

  describe('issuer and audience', () => {
    it('refuses a token from an issuer that is not configured, without contacting any issuer', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, issuer: 'https://token.actions.example.com' });

      await expectRefused(verifier.verify(token), 'unknown_issuer');
      expect(dev.requestCounts).toEqual({ discovery: 0, jwks: 0, other: 0 });
    });

    it('matches the issuer exactly: a trailing slash is another issuer', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, issuer: `${dev.issuer}/` });

      await expectRefused(verifier.verify(token), 'unknown_issuer');
    });

    it('refuses a token with an empty iss', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, issuer: '' });

      await expectRefused(verifier.verify(token), 'unknown_issuer');
    });

    it('refuses a token for another audience', async () => {
      const token = await dev.sign(ciClaims, { audience: 'https://vault.example.com' });

      await expectRefused(verifier.verify(token), 'bad_audience');
    });

    it('refuses a token without a subject', async () => {
      const { sub: _sub, ...withoutSubject } = ciClaims;
      const token = await dev.sign(withoutSubject, { audience: AUDIENCE });

      await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'missing_claim', claim: 'sub' });
    });
  });

  describe('size and shape, checked before any parsing', () => {
    it('refuses a token larger than maxJwtBytes', async () => {
      const small = makeVerifier([config], 512);
      const token = await dev.sign({ ...ciClaims, padding: 'x'.repeat(600) }, { audience: AUDIENCE });

      await expectRefused(small.verify(token), 'too_large');
      expect(dev.requestCounts.jwks).toBe(0);
    });

    it('refuses an oversized string before looking at its shape', async () => {
      await expectRefused(verifier.verify('{'.repeat(100_000)), 'too_large');
    });

    it('refuses an empty token as missing', async () => {
      await expectRefused(verifier.verify(''), 'missing');
    });

    it.each([
      ['one segment', 'eyJhbGciOiJFUzI1NiJ9'],
      ['two segments', 'eyJhbGciOiJFUzI1NiJ9.e30'],
      ['four segments', 'a.b.c.d'],
      ['non-base64url characters', 'eyJhbGciOiJFUzI1NiJ9.e30=.c2ln'],
      ['a header that is not JSON', 'bm90IGpzb24.e30.c2ln'],
      ['a payload that is not JSON', 'eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln'],
      ['a bearer prefix left on', 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln'],
    ])('refuses %s as malformed', async (_, token) => {
      await expectRefused(verifier.verify(token), 'malformed');
    });
  });

  describe('key rotation and the refetch rate limit', () => {
    it('accepts a token signed with a newly rotated key after one refetch', async () => {
      const before = await dev.sign(ciClaims, { audience: AUDIENCE });
      await verifier.verify(before);
      await sleep(COOLDOWN_MS + 100);

      await dev.rotate();
      const after = await dev.sign(ciClaims, { audience: AUDIENCE });
      await verifier.verify(after);
      await verifier.verify(before);

      expect(dev.requestCounts).toEqual({ discovery: 1, jwks: 2, other: 0 });
    });

    it('refetches at most once per cooldown window however many unknown kids arrive', async () => {
      await verifier.verify(await dev.sign(ciClaims, { audience: AUDIENCE }));
      await sleep(COOLDOWN_MS + 100);
      const unknownKid = (index: number) =>
        dev.sign(ciClaims, { audience: AUDIENCE, header: { kid: `unknown-${index}` } });

      const concurrent = await Promise.allSettled(
        Array.from({ length: 25 }, async (_, index) => verifier.verify(await unknownKid(index))),
      );
      for (let index = 25; index < 50; index += 1) {
        await expectRefused(verifier.verify(await unknownKid(index)), 'unknown_key');
      }

      expect(concurrent.every((result) => result.status === 'rejected')).toBe(true);
      expect(concurrent.map((result) => (result as PromiseRejectedResult).reason.reason)).toEqual(
        Array(25).fill('unknown_key'),
      );
      expect(dev.requestCounts.jwks).toBe(2);

      await sleep(COOLDOWN_MS + 100);
      for (let index = 50; index < 60; index += 1) {
        await expectRefused(verifier.verify(await unknownKid(index)), 'unknown_key');
      }
      expect(dev.requestCounts.jwks).toBe(3);
    });

    it('does not refetch for an unknown kid within the cooldown after the first fetch', async () => {
      await verifier.verify(await dev.sign(ciClaims, { audience: AUDIENCE }));
      await dev.rotate();

      await expectRefused(verifier.verify(await dev.sign(ciClaims, { audience: AUDIENCE })), 'unknown_key');
      expect(dev.requestCounts.jwks).toBe(1);
    });
  });

  describe('an unreachable or misbehaving issuer', () => {
    it('reports jwks_unavailable when the issuer is down', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE });
      await dev.stop();

      await expectRefused(verifier.verify(token), 'jwks_unavailable');
    });

    it('reports jwks_unavailable when the JWKS endpoint answers 503, and does not retry within the cooldown', async () => {
      const direct = makeVerifier([issuerConfig(dev.issuer, { jwksUri: dev.jwksUri })]);
      const token = await dev.sign(ciClaims, { audience: AUDIENCE });
      dev.setUnavailable(true);

      for (let attempt = 0; attempt < 10; attempt += 1) {
        await expectRefused(direct.verify(token), 'jwks_unavailable');
      }
      expect(dev.requestCounts.jwks).toBe(1);

      dev.setUnavailable(false);
      await sleep(COOLDOWN_MS + 100);
      await expect(direct.verify(token)).resolves.toBeDefined();
      expect(dev.requestCounts.jwks).toBe(2);
    });

    it('fetches a failed discovery document again only after the cooldown', async () => {
      const token = await dev.sign(ciClaims, { audience: AUDIENCE });
      dev.setUnavailable(true);

      for (let attempt = 0; attempt < 10; attempt += 1) {
        await expectRefused(verifier.verify(token), 'jwks_unavailable');
      }
      expect(dev.requestCounts).toEqual({ discovery: 1, jwks: 0, other: 0 });

      dev.setUnavailable(false);
      await sleep(COOLDOWN_MS + 100);
      await expect(verifier.verify(token)).resolves.toBeDefined();
      expect(dev.requestCounts).toEqual({ discovery: 2, jwks: 1, other: 0 });
    });

    it('refuses keys from a discovery document that names another issuer', async () => {
      // The document says http://127.0.0.1:<port>; the configured issuer is the same server as localhost.
      const localhostIssuer = dev.issuer.replace('127.0.0.1', 'localhost');
      const mixedUp = makeVerifier([issuerConfig(localhostIssuer)]);
      const token = await dev.sign(ciClaims, { audience: AUDIENCE, issuer: localhostIssuer });

      await expectRefused(mixedUp.verify(token), 'jwks_unavailable');
      expect(dev.requestCounts).toEqual({ discovery: 1, jwks: 0, other: 0 });
    });
  });
});

describe('DevIssuer', () => {
  let directory: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'gatehouse-dev-issuer-'));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps its keys across restarts when given a key directory', async () => {
    const first = await DevIssuer.create({ clock, keyDirectory: directory });
    const url = await first.start();
    const token = await first.sign(ciClaims, { audience: AUDIENCE });
    await first.stop();

    const second = await DevIssuer.create({ clock, keyDirectory: directory });
    await second.start({ port: Number(new URL(url).port) });
    try {
      expect(second.kids).toEqual(first.kids);
      await expect(makeVerifier([issuerConfig(second.issuer)]).verify(token)).resolves.toBeDefined();
    } finally {
      await second.stop();
    }
  });

  it('writes its key file readable by the owner only, and saves rotations', async () => {
    const issuer = await DevIssuer.create({ clock, keyDirectory: directory });
    const file = join(directory, DEV_ISSUER_KEY_FILE);
    const kid = await issuer.rotate({ keepPrevious: false });

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { keys: { kid: string }[] };
    expect(stored.keys.map((key) => key.kid)).toEqual([kid]);
  });

  it('publishes public keys only', async () => {
    const issuer = await DevIssuer.create({ algorithm: 'RS256' });
    await issuer.rotate();

    const { keys } = issuer.publicJwks();

    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(Object.keys(key).filter((member) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(member))).toEqual([]);
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    }
  });

  it('refuses to listen on anything but loopback', async () => {
    const issuer = await DevIssuer.create();

    await expect(issuer.start({ host: '0.0.0.0' })).rejects.toThrow(/loopback only/);
  });
});
