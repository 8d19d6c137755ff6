/**
 * Forged, confused and substituted bearer tokens: every known way to make a JWT verifier accept a token its issuer
 * never signed, against the real verifier and a real issuer on loopback. The functional checks (expiry, audience,
 * rotation, rate limits, outages) are in test/adapters/oidc-verifier.test.ts; the attacks live here, in one place.
 *
 * - `alg: none` (RFC 7519 section 6; CVE-2015-9235 class)
 * - RS/ES → HS key confusion, the public key used as an HMAC secret (CVE-2016-5431, CVE-2016-10555)
 * - another key presenting the issuer's kid
 * - keys embedded in or referenced by the header (`jwk`, `jku`, `x5u`; CVE-2018-0114)
 * - a token of one configured issuer presented as another's
 * - payload tampering and signature stripping
 * - nothing of the token or its claims in error messages (DESIGN.md section 7)
 */
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, importJWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { remoteKeyResolver } from '../../shared/adapters/http/remote-jwks.ts';
import { DevIssuer } from '../../shared/adapters/local/dev-issuer.ts';
import { IssuerConfigSchema } from '../../shared/config/schema.ts';
import type { IssuerConfig } from '../../shared/config/schema.ts';
import type { AuthenticationFailureReason } from '../../shared/identity/errors.ts';
import { AuthenticationError } from '../../shared/identity/errors.ts';
import { OidcVerifier } from '../../shared/identity/oidc-verifier.ts';

const NOW = new Date('2026-03-02T09:30:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const clock = { now: () => NOW };
const AUDIENCE = 'https://gatehouse.test';
const SUBJECT = 'repo:octo-org/octo-repo:ref:refs/heads/main';

const encoder = new TextEncoder();
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function issuerConfig(issuer: string, name = 'dev'): IssuerConfig {
  return IssuerConfigSchema.parse({ name, issuer, audience: AUDIENCE, kind: 'github-actions' });
}

async function expectRefused(attempt: Promise<unknown>, reason: AuthenticationFailureReason): Promise<void> {
  await expect(attempt).rejects.toMatchObject({ name: 'AuthenticationError', reason });
}

describe('JWT attacks against the OIDC verifier', () => {
  let dev: DevIssuer;
  let verifier: OidcVerifier;
  let claims: JWTPayload;

  beforeEach(async () => {
    dev = await DevIssuer.create({ clock });
    const issuer = await dev.start();
    verifier = new OidcVerifier({
      issuers: [issuerConfig(issuer)],
      keys: remoteKeyResolver(),
      clock,
      maxJwtBytes: 8192,
    });
    claims = { iss: issuer, sub: SUBJECT, aud: AUDIENCE, iat: NOW_SECONDS, exp: NOW_SECONDS + 300 };
  });

  afterEach(async () => {
    await dev.stop();
  });

  describe('alg: none', () => {
    it.each(['none', 'None', 'NONE', 'nOnE'])(
      'refuses an unsecured token with alg "%s" before any key lookup',
      async (alg) => {
        const token = `${base64url({ alg, typ: 'JWT' })}.${base64url(claims)}.`;

        await expectRefused(verifier.verify(token), 'algorithm_not_allowed');
        expect(dev.requestCounts).toEqual({ discovery: 0, jwks: 0, other: 0 });
      },
    );

    it('refuses alg none even with the signature of a genuine token appended', async () => {
      const genuine = await dev.sign({ sub: SUBJECT }, { audience: AUDIENCE });
      const signature = genuine.split('.')[2];
      const token = `${base64url({ alg: 'none', kid: dev.currentKid })}.${base64url(claims)}.${signature}`;

      await expectRefused(verifier.verify(token), 'algorithm_not_allowed');
    });

    it.each([
      ['missing', { typ: 'JWT' }],
      ['not a string', { alg: 256, typ: 'JWT' }],
      ['empty', { alg: '', typ: 'JWT' }],
    ])('refuses a header whose alg is %s', async (_, header) => {
      const token = `${base64url(header)}.${base64url(claims)}.c2ln`;

      await expectRefused(verifier.verify(token), 'algorithm_not_allowed');
    });
  });

  describe('HMAC key confusion: the issuer public key as the HS secret', () => {
    async function publicKeyForms(): Promise<Record<string, Uint8Array>> {
      const jwk = dev.publicJwks().keys[0] as JWK;
      const pem = await exportSPKI((await importJWK(jwk, 'ES256', { extractable: true })) as CryptoKey);
      return {
        'SPKI PEM': encoder.encode(pem),
        'SPKI PEM without trailing newline': encoder.encode(pem.trimEnd()),
        'JWK JSON': encoder.encode(JSON.stringify(jwk)),
        'JWKS JSON as served': encoder.encode(JSON.stringify(dev.publicJwks())),
      };
    }

    it.each(['HS256', 'HS384', 'HS512'])('refuses %s signed with any form of the public key', async (alg) => {
      for (const [form, secret] of Object.entries(await publicKeyForms())) {
        const token = await new SignJWT(claims).setProtectedHeader({ alg, kid: dev.currentKid }).sign(secret);

        await expect(verifier.verify(token), form).rejects.toMatchObject({ reason: 'algorithm_not_allowed' });
      }
      expect(dev.requestCounts).toEqual({ discovery: 0, jwks: 0, other: 0 });
    });

    it('refuses HS256 even when the key resolver would hand out the public key bytes as a secret', async () => {
      const forms = await publicKeyForms();
      const secret = forms['SPKI PEM'] as Uint8Array;
      let lookups = 0;
      const naive = new OidcVerifier({
        issuers: [issuerConfig(dev.issuer)],
        keys: () => async () => {
          lookups += 1;
          return secret;
        },
        clock,
        maxJwtBytes: 8192,
      });
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);

      await expectRefused(naive.verify(token), 'algorithm_not_allowed');
      expect(lookups).toBe(0);
    });
  });

  describe('keys the issuer does not publish', () => {
    it('refuses a token signed by another key that presents the issuer kid', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: dev.currentKid })
        .sign(privateKey);

      await expectRefused(verifier.verify(token), 'bad_signature');
    });

    it('ignores a public key embedded in the header (jwk)', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', jwk: await exportJWK(publicKey) })
        .sign(privateKey);

      await expectRefused(verifier.verify(token), 'bad_signature');
    });

    it('never fetches keys from a URL in the header (jku, x5u)', async () => {
      const attacker = await DevIssuer.create({ clock });
      await attacker.start();
      try {
        const token = await attacker.sign(
          { sub: SUBJECT },
          {
            audience: AUDIENCE,
            issuer: dev.issuer,
            header: { jku: attacker.jwksUri, x5u: attacker.jwksUri },
          },
        );

        await expectRefused(verifier.verify(token), 'unknown_key');
        expect(attacker.requestCounts).toEqual({ discovery: 0, jwks: 0, other: 0 });
      } finally {
        await attacker.stop();
      }
    });
  });

  describe('a token of one configured issuer presented as another', () => {
    let other: DevIssuer;
    let twoIssuers: OidcVerifier;

    beforeEach(async () => {
      other = await DevIssuer.create({ clock });
      const otherUrl = await other.start();
      twoIssuers = new OidcVerifier({
        issuers: [issuerConfig(dev.issuer, 'dev'), issuerConfig(otherUrl, 'other')],
        keys: remoteKeyResolver(),
        clock,
        maxJwtBytes: 8192,
      });
    });

    afterEach(async () => {
      await other.stop();
    });

    it("refuses the other issuer's key for this issuer's tokens", async () => {
      const token = await other.sign({ sub: SUBJECT }, { audience: AUDIENCE, issuer: dev.issuer });

      await expectRefused(twoIssuers.verify(token), 'unknown_key');
    });

    it("refuses the other issuer's key under this issuer's kid", async () => {
      const token = await other.sign(
        { sub: SUBJECT },
        { audience: AUDIENCE, issuer: dev.issuer, header: { kid: dev.currentKid } },
      );

      await expectRefused(twoIssuers.verify(token), 'bad_signature');
    });

    it('still accepts each issuer with its own keys', async () => {
      const mine = await twoIssuers.verify(await dev.sign({ sub: SUBJECT }, { audience: AUDIENCE }));
      const theirs = await twoIssuers.verify(await other.sign({ sub: SUBJECT }, { audience: AUDIENCE }));

      expect([mine.principal.id, theirs.principal.id]).toEqual([`dev:${SUBJECT}`, `other:${SUBJECT}`]);
    });
  });

  describe('tampering', () => {
    it('refuses a genuine token whose payload was changed', async () => {
      const [header, , signature] = (await dev.sign({ sub: SUBJECT }, { audience: AUDIENCE })).split('.');
      const forged = `${header}.${base64url({ ...claims, sub: 'repo:octo-org/admin:ref:refs/heads/main' })}.${signature}`;

      await expectRefused(verifier.verify(forged), 'bad_signature');
    });

    it('refuses a genuine token whose signature was stripped', async () => {
      const [header, payload] = (await dev.sign({ sub: SUBJECT }, { audience: AUDIENCE })).split('.');

      await expectRefused(verifier.verify(`${header}.${payload}.`), 'bad_signature');
    });

    it('refuses a genuine token whose header was switched to another allowed algorithm', async () => {
      const [, payload, signature] = (await dev.sign({ sub: SUBJECT }, { audience: AUDIENCE })).split('.');
      const header = base64url({ alg: 'RS256', kid: dev.currentKid, typ: 'JWT' });

      // jose selects keys by alg and kty as well as kid, so the EC key is not offered for RS256.
      await expectRefused(verifier.verify(`${header}.${payload}.${signature}`), 'unknown_key');
    });
  });

  describe('error messages', () => {
    it('never carry the token, its segments or its claim values', async () => {
      const secretClaims = { sub: 'repo:secret-org/secret-repo:ref:refs/heads/main', email: 'phi-patient@example.com' };
      const { privateKey } = await generateKeyPair('ES256');
      const tokens = [
        await dev.sign(secretClaims, { audience: 'https://secret-audience.example.com' }),
        await dev.sign(secretClaims, { audience: AUDIENCE, expiresInSeconds: -3600 }),
        await dev.sign(secretClaims, { audience: AUDIENCE, notBefore: NOW_SECONDS + 3600 }),
        await dev.sign(secretClaims, {
          audience: AUDIENCE,
          issuer: 'https://secret-issuer.example.com/\nforged: line',
        }),
        await new SignJWT({ ...claims, ...secretClaims })
          .setProtectedHeader({ alg: 'ES256', kid: dev.currentKid })
          .sign(privateKey),
        `${base64url({ alg: 'none' })}.${base64url({ ...claims, ...secretClaims })}.`,
      ];

      for (const token of tokens) {
        const error = await verifier.verify(token).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(AuthenticationError);
        const exposed = `${(error as Error).message} ${JSON.stringify(error)} ${String((error as Error).stack)}`;
        for (const secret of [
          token,
          ...token.split('.').filter((part) => part.length > 8),
          'secret-',
          'phi-patient',
          'forged',
        ]) {
          expect(exposed).not.toContain(secret);
        }
        expect((error as Error).cause).toBeUndefined();
      }
    });
  });
});
