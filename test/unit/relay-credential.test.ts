/** Relay credentials: issued by hand-built JWS, verified offline with jose; every refusal by name. */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RelayCredentialSigner } from '../../shared/ports.ts';
import { derToJoseSignature, joseToDerSignature } from '../../shared/tokens/ecdsa-signature.ts';
import {
  RELAY_AUDIENCE,
  RelayCredentialError,
  issueRelayCredential,
  relayKeyId,
  verifyRelayCredential,
  type RelayCredentialInput,
} from '../../shared/tokens/relay-credential.ts';
import { fingerprint } from '../../shared/audit/fingerprint.ts';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const clock = { now: () => NOW };

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKey, pem, kid: relayKeyId(pem) };
}

function signerOf(privateKey: KeyObject, kid: string): RelayCredentialSigner {
  return {
    keyId: async () => kid,
    sign: async (input) => sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    publicKeyPem: async () => '',
  };
}

const key = keyPair();
const signer = signerOf(key.privateKey, key.kid);
const keys = new Map([[key.kid, key.pem]]);

function input(overrides: Partial<RelayCredentialInput> = {}): RelayCredentialInput {
  return {
    id: 'rc_01',
    grantId: 'grt_01',
    principalId: 'github:repo:acme/app',
    cluster: 'prod',
    namespaces: ['app'],
    access: 'view',
    groups: ['gatehouse:view'],
    username: 'gatehouse:github-acme-app-abc',
    grantExpiresAt: new Date(NOW.getTime() + 3600_000),
    ttlSeconds: 900,
    ...overrides,
  };
}

const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const verify = (token: string, options: { now?: Date; cluster?: string } = {}) =>
  verifyRelayCredential(token, keys, { now: options.now ?? at(1), cluster: options.cluster ?? 'prod' });

function segments(token: string) {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const decode = (part: string) =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), payload: decode(payload), signature, signingInput: `${header}.${payload}` };
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** A token with this header and payload, properly signed by `privateKey`. */
function forge(header: unknown, payload: unknown, privateKey: KeyObject = key.privateKey): string {
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

describe('issueRelayCredential', () => {
  it('builds an ES256 JWS with the kid, the grant-bound claims and a 15-minute lifetime', async () => {
    const issued = await issueRelayCredential(signer, input(), clock);

    const { header, payload } = segments(issued.token);
    expect(header).toEqual({ alg: 'ES256', typ: 'gatehouse-relay+jwt', kid: key.kid });
    expect(payload).toEqual({
      iss: 'gatehouse',
      aud: RELAY_AUDIENCE,
      sub: 'github:repo:acme/app',
      gid: 'grt_01',
      cls: 'prod',
      ns: ['app'],
      acc: 'view',
      grp: ['gatehouse:view'],
      usr: 'gatehouse:github-acme-app-abc',
      iat: NOW.getTime() / 1000,
      exp: NOW.getTime() / 1000 + 900,
      jti: 'rc_01',
    });
    expect(issued.expiresAt).toEqual(at(900));
    expect(issued.fingerprint).toBe(fingerprint(issued.token));
    expect(key.kid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('never lets the credential outlive its grant', async () => {
    const issued = await issueRelayCredential(signer, input({ grantExpiresAt: at(120.5) }), clock);

    expect(issued.expiresAt).toEqual(at(120));
    expect(segments(issued.token).payload.exp).toBe(NOW.getTime() / 1000 + 120);
  });

  it('issues nothing for a grant that has ended, or for a lifetime over 15 minutes', async () => {
    await expect(issueRelayCredential(signer, input({ grantExpiresAt: NOW }), clock)).rejects.toBeInstanceOf(
      RelayCredentialError,
    );
    await expect(issueRelayCredential(signer, input({ ttlSeconds: 901 }), clock)).rejects.toBeInstanceOf(
      RelayCredentialError,
    );
  });
});

describe('verifyRelayCredential', () => {
  it('accepts a fresh credential and returns its claims by name', async () => {
    const { token } = await issueRelayCredential(signer, input(), clock);

    expect(await verify(token)).toEqual({
      ok: true,
      claims: {
        id: 'rc_01',
        grantId: 'grt_01',
        principalId: 'github:repo:acme/app',
        cluster: 'prod',
        namespaces: ['app'],
        access: 'view',
        groups: ['gatehouse:view'],
        username: 'gatehouse:github-acme-app-abc',
        issuedAt: NOW,
        expiresAt: at(900),
      },
    });
  });

  it('accepts a KeyObject as well as a PEM', async () => {
    const { token } = await issueRelayCredential(signer, input(), clock);
    const check = await verifyRelayCredential(token, new Map([[key.kid, key.publicKey]]), {
      now: at(1),
      cluster: 'prod',
    });
    expect(check.ok).toBe(true);
  });

  it('refuses an expired credential, from its exp on', async () => {
    const { token } = await issueRelayCredential(signer, input(), clock);
    expect(await verify(token, { now: at(899) })).toMatchObject({ ok: true });
    expect(await verify(token, { now: at(900) })).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuses a credential issued in the future beyond the clock tolerance', async () => {
    const { token } = await issueRelayCredential(signer, input(), { now: () => at(60) });
    expect(await verify(token, { now: NOW })).toMatchObject({ ok: false, reason: 'not-yet-valid' });
  });

  it('refuses a credential for another cluster', async () => {
    const { token } = await issueRelayCredential(signer, input(), clock);
    expect(await verify(token, { cluster: 'staging' })).toMatchObject({ ok: false, reason: 'wrong-cluster' });
  });

  it('refuses a tampered payload', async () => {
    const { token } = await issueRelayCredential(signer, input(), clock);
    const { header, payload, signature } = segments(token);
    const widened = `${encode(header)}.${encode({ ...payload, ns: ['app', 'kube-system'] })}.${signature}`;

    expect(await verify(widened)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a credential signed by another key under a trusted kid, and an unknown kid', async () => {
    const other = keyPair();
    const underTrustedKid = await issueRelayCredential(signerOf(other.privateKey, key.kid), input(), clock);
    const underOwnKid = await issueRelayCredential(signerOf(other.privateKey, other.kid), input(), clock);

    expect(await verify(underTrustedKid.token)).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(await verify(underOwnKid.token)).toMatchObject({ ok: false, reason: 'unknown-key' });
  });

  it('refuses alg none and HS256 keyed with the public key (algorithm confusion)', async () => {
    const { token } = await issueRelayCredential(signer, input(), clock);
    const { header, payload } = segments(token);
    const unsecured = `${encode({ ...header, alg: 'none' })}.${encode(payload)}.`;
    const hmacInput = `${encode({ ...header, alg: 'HS256' })}.${encode(payload)}`;
    const hmac = `${hmacInput}.${createHmac('sha256', key.pem).update(hmacInput).digest('base64url')}`;

    expect(await verify(unsecured)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await verify(`${encode({ ...header, alg: 'none' })}.${encode(payload)}.AAAA`)).toMatchObject({
      ok: false,
      reason: 'unsupported-algorithm',
    });
    expect(await verify(hmac)).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
  });

  it('refuses a credential that would live longer than 15 minutes, even if properly signed', async () => {
    const { header, payload } = segments((await issueRelayCredential(signer, input(), clock)).token);
    const long = forge(header, { ...payload, exp: (payload.iat as number) + 901 });

    expect(await verify(long)).toMatchObject({ ok: false, reason: 'too-long-lived' });
  });

  it('refuses a signed token for another audience, issuer or type', async () => {
    const { header, payload } = segments((await issueRelayCredential(signer, input(), clock)).token);

    expect(await verify(forge(header, { ...payload, aud: 'kubernetes' }))).toMatchObject({
      ok: false,
      reason: 'wrong-audience',
    });
    expect(await verify(forge(header, { ...payload, iss: 'someone' }))).toMatchObject({
      ok: false,
      reason: 'wrong-issuer',
    });
    expect(await verify(forge({ ...header, typ: 'JWT' }, payload))).toMatchObject({ ok: false, reason: 'wrong-type' });
  });

  it('refuses signed tokens missing claims, and tokens that are not JWS at all, without echoing them', async () => {
    const { header, payload } = segments((await issueRelayCredential(signer, input(), clock)).token);
    const { grp: _grp, ...withoutGroups } = payload;
    const token = forge(header, withoutGroups);

    expect(await verify(token)).toMatchObject({ ok: false, reason: 'malformed' });
    for (const junk of ['', 'abc', 'a.b', 'a.b.c.d', `${'x'.repeat(9000)}.y.z`]) {
      const check = await verify(junk);
      expect(check).toMatchObject({ ok: false, reason: 'malformed' });
    }
    const bad = await verify(`${token.slice(0, -4)}AAAA`);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).not.toContain(token.slice(0, 20));
  });
});

describe('ECDSA signature encodings', () => {
  it('turns DER into r || s and back, for signatures with short and high-bit coordinates', () => {
    for (let i = 0; i < 200; i++) {
      const message = Buffer.from(`message ${i}`);
      const der = sign('sha256', message, { key: key.privateKey, dsaEncoding: 'der' });
      const jose = derToJoseSignature(der);
      expect(jose).toHaveLength(64);
      expect(Buffer.from(joseToDerSignature(jose))).toEqual(der);
    }
  });

  it('refuses DER that is not exactly one signature', () => {
    const der = sign('sha256', Buffer.from('x'), { key: key.privateKey, dsaEncoding: 'der' });
    expect(() => derToJoseSignature(Buffer.concat([der, Buffer.from([0])]))).toThrow(/trailing|SEQUENCE length/);
    expect(() => derToJoseSignature(der.subarray(0, der.length - 1))).toThrow();
    expect(() => derToJoseSignature(Buffer.from([0x31, 0x00]))).toThrow(/SEQUENCE/);
  });
});
