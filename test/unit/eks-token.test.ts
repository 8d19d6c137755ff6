import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  EksTokenError,
  MAX_TOKEN_LIFETIME_SECONDS,
  presignEksToken,
  toExecCredential,
  tokenSignedAt,
} from '../../shared/tokens/eks-token.ts';
import {
  checkEksTokenFormat,
  decodeEksToken,
  tamper,
  verifyAsIamAuthenticator,
} from '../support/iam-authenticator-verifier.ts';

// aws-iam-authenticator pkg/token/token_test.go TestGetWithSTS: example non-real credentials, stored base64 there too.
const VECTOR_CREDENTIALS = {
  accessKeyId: Buffer.from('QVNJQVIyVEc0NFY2QVMzWlpFN0M=', 'base64').toString('utf8'),
  secretAccessKey: Buffer.from('NEtENWNudEdjVm1MV1JkRjV3dk5SdXpOTDVReG1wNk9LVlk2RnovUQ==', 'base64').toString('utf8'),
};
const VECTOR_NOW = new Date(1682640000 * 1000);
const VECTOR_TOKEN =
  'k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtd2VzdC0yLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BU0lBUjJURzQ0VjZBUzNaWkU3QyUyRjIwMjMwNDI4JTJGdXMtd2VzdC0yJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyMzA0MjhUMDAwMDAwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9ZTIxMWRiYTc3YWJhOWRjNDRiMGI2YmUzOGI4ZWFhZDA5MjU5OWM1MTU3ZjYzMTQ0NDRjNWI5ZDg1NzQ3ZjVjZQ';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const SESSION = {
  accessKeyId: 'ASIAEXAMPLESESSION01',
  secretAccessKey: 'session/secret+key=with/specials',
  sessionToken: 'FwoGZXIvYXdzE+session/token==',
};
const verifyOptions = { clusterId: 'prod-eu', secretAccessKey: SESSION.secretAccessKey, now: NOW, region: 'eu-west-1' };

async function sessionToken(now = NOW): Promise<string> {
  const { token } = await presignEksToken({ credentials: SESSION, region: 'eu-west-1', clusterName: 'prod-eu', now });
  return token;
}

describe('presignEksToken', () => {
  it('reproduces aws-iam-authenticator TestGetWithSTS byte for byte', async () => {
    const result = await presignEksToken({
      credentials: VECTOR_CREDENTIALS,
      region: 'us-west-2',
      clusterName: 'test-cluster',
      now: VECTOR_NOW,
    });

    expect(result.token).toBe(VECTOR_TOKEN);
    expect(result.expiresAt.toISOString()).toBe(new Date(VECTOR_NOW.getTime() + 14 * 60_000).toISOString());
  });

  it('produces a token the verifier accepts, with the vector recomputed independently', () => {
    const check = verifyAsIamAuthenticator(VECTOR_TOKEN, {
      clusterId: 'test-cluster',
      secretAccessKey: VECTOR_CREDENTIALS.secretAccessKey,
      now: new Date(VECTOR_NOW.getTime() + 60_000),
      region: 'us-west-2',
    });

    expect(check).toMatchObject({ ok: true, claims: { accessKeyId: VECTOR_CREDENTIALS.accessKeyId } });
  });

  it('signs only host and x-k8s-aws-id, with X-Amz-Expires=60 and the session token in the query', async () => {
    const url = new URL(decodeEksToken(await sessionToken()));

    expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('Version')).toBe('2011-06-15');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe(SESSION.sessionToken);
    expect(verifyAsIamAuthenticator(await sessionToken(), verifyOptions)).toMatchObject({
      ok: true,
      claims: { hasSessionToken: true, signingRegion: 'eu-west-1' },
    });
  });

  it('is unpadded base64url', async () => {
    const token = await sessionToken();

    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  });

  it('expires when the session credentials do, a minute early, if that is sooner than 14 minutes', async () => {
    const { expiresAt } = await presignEksToken({
      credentials: { ...SESSION, expiration: new Date(NOW.getTime() + 5 * 60_000 + 500) },
      region: 'eu-west-1',
      clusterName: 'prod-eu',
      now: NOW,
    });

    expect(expiresAt.toISOString()).toBe('2025-03-01T12:04:00.000Z');
  });

  it('refuses credentials that expire before the token could be used', async () => {
    await expect(
      presignEksToken({
        credentials: { ...SESSION, expiration: new Date(NOW.getTime() + 30_000) },
        region: 'eu-west-1',
        clusterName: 'prod-eu',
        now: NOW,
      }),
    ).rejects.toBeInstanceOf(EksTokenError);
  });

  it('refuses a malformed region and never echoes the secret in the error', async () => {
    const attempt = presignEksToken({
      credentials: SESSION,
      region: 'eu-west-1.evil.com/',
      clusterName: 'c',
      now: NOW,
    });

    await expect(attempt).rejects.toBeInstanceOf(EksTokenError);
    await attempt.catch((error: Error) => expect(error.message).not.toContain(SESSION.secretAccessKey));
  });
});

describe('toExecCredential', () => {
  it('builds a v1 ExecCredential with whole-second RFC 3339 expiry', async () => {
    const { token, expiresAt } = await presignEksToken({
      credentials: SESSION,
      region: 'eu-west-1',
      clusterName: 'prod-eu',
      now: NOW,
    });

    expect(toExecCredential(token, expiresAt)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {},
      status: { token, expirationTimestamp: '2025-03-01T12:14:00Z' },
    });
  });

  it('caps the expiry at 14 minutes after the token was signed', async () => {
    const token = await sessionToken();

    const credential = toExecCredential(
      token,
      new Date(NOW.getTime() + 3_600_000),
      'client.authentication.k8s.io/v1beta1',
    );

    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(Date.parse(credential.status.expirationTimestamp) - NOW.getTime()).toBe(MAX_TOKEN_LIFETIME_SECONDS * 1000);
    expect(tokenSignedAt(token)?.toISOString()).toBe(NOW.toISOString());
  });

  it('refuses something that is not an EKS token', () => {
    expect(() => toExecCredential('k8s-aws-v1.bm90IGEgdXJs', NOW)).toThrow(EksTokenError);
  });
});

describe('the aws-iam-authenticator verifier', () => {
  it('accepts a fresh token up to 15 minutes after signing', async () => {
    const token = await sessionToken();

    expect(verifyAsIamAuthenticator(token, { ...verifyOptions, now: new Date(NOW.getTime() + 900_000) }).ok).toBe(true);
  });

  it.each([
    ['bad prefix', (t: string) => t.replace('k8s-aws-v1.', 'k8s-aws-v2.'), 'bad-prefix'],
    ['base64 padding', (t: string) => `${t}==`, 'bad-encoding'],
    ['standard base64 alphabet', (t: string) => `${t}+/`, 'bad-encoding'],
    ['http scheme', (t: string) => tamper(t, (u) => u.replace('https://', 'http://')), 'bad-scheme'],
    [
      'another host',
      (t: string) => tamper(t, (u) => u.replace('sts.eu-west-1.amazonaws.com', 'sts.eu-west-1.evil.example')),
      'bad-host',
    ],
    ['another region', (t: string) => tamper(t, (u) => u.replace('sts.eu-west-1.', 'sts.us-east-2.')), 'bad-host'],
    ['explicit port', (t: string) => tamper(t, (u) => u.replace('amazonaws.com/', 'amazonaws.com:443/')), 'bad-host'],
    ['userinfo', (t: string) => tamper(t, (u) => u.replace('https://', 'https://a@')), 'bad-host'],
    ['another path', (t: string) => tamper(t, (u) => u.replace('.com/?', '.com/x?')), 'bad-path'],
    ['extra query parameter', (t: string) => tamper(t, (u) => `${u}&X-Extra=1`), 'unexpected-parameter'],
    ['duplicate parameter', (t: string) => tamper(t, (u) => `${u}&action=GetCallerIdentity`), 'duplicate-parameter'],
    [
      'another action',
      (t: string) => tamper(t, (u) => u.replace('Action=GetCallerIdentity', 'Action=AssumeRole')),
      'bad-action',
    ],
    [
      'another version',
      (t: string) => tamper(t, (u) => u.replace('Version=2011-06-15', 'Version=2012-01-01')),
      'bad-version',
    ],
    [
      'cluster id unsigned',
      (t: string) => tamper(t, (u) => u.replace('host%3Bx-k8s-aws-id', 'host')),
      'cluster-id-not-signed',
    ],
    [
      'expires too large',
      (t: string) => tamper(t, (u) => u.replace('X-Amz-Expires=60', 'X-Amz-Expires=901')),
      'bad-expires',
    ],
    ['expires missing', (t: string) => tamper(t, (u) => u.replace('&X-Amz-Expires=60', '')), 'bad-expires'],
    ['date missing', (t: string) => tamper(t, (u) => u.replace(/&X-Amz-Date=\w+/, '')), 'missing-date'],
    [
      'date malformed',
      (t: string) => tamper(t, (u) => u.replace(/X-Amz-Date=\w+/, 'X-Amz-Date=20250301T250000Z')),
      'bad-date',
    ],
    [
      'scope of another region',
      (t: string) => tamper(t, (u) => u.replace('%2Feu-west-1%2F', '%2Fus-east-1%2F')),
      'bad-credential',
    ],
    [
      'signature flipped',
      (t: string) =>
        tamper(t, (u) =>
          u.replace(/X-Amz-Signature=(\w)/, (_m, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`),
        ),
      'signature-mismatch',
    ],
    [
      'session token swapped',
      (t: string) => tamper(t, (u) => u.replace('X-Amz-Security-Token=', 'X-Amz-Security-Token=x')),
      'signature-mismatch',
    ],
  ])('refuses a token with %s', async (_name, edit, reason) => {
    const token = edit(await sessionToken());

    expect(verifyAsIamAuthenticator(token, verifyOptions)).toMatchObject({ ok: false, reason });
  });

  it('refuses a token signed for another cluster', async () => {
    const token = await sessionToken();

    expect(verifyAsIamAuthenticator(token, { ...verifyOptions, clusterId: 'prod-us' })).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('canonicalizes the cluster id header value as SigV4 does', async () => {
    const { token } = await presignEksToken({
      credentials: SESSION,
      region: 'eu-west-1',
      clusterName: ' odd   cluster ',
      now: NOW,
    });

    expect(verifyAsIamAuthenticator(token, { ...verifyOptions, clusterId: 'odd cluster' }).ok).toBe(true);
    expect(verifyAsIamAuthenticator(token, { ...verifyOptions, clusterId: 'oddcluster' }).ok).toBe(false);
  });

  it('refuses a token signed with another key', async () => {
    const token = await sessionToken();

    expect(verifyAsIamAuthenticator(token, { ...verifyOptions, secretAccessKey: 'another' })).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('refuses a token older than 15 minutes', async () => {
    const token = await sessionToken(new Date(NOW.getTime() - 900_001));

    expect(verifyAsIamAuthenticator(token, verifyOptions)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuses a token dated beyond the clock skew', async () => {
    const token = await sessionToken(new Date(NOW.getTime() + 301_000));

    expect(verifyAsIamAuthenticator(token, verifyOptions)).toMatchObject({ ok: false, reason: 'not-yet-valid' });
  });

  it('refuses a correctly signed token that also signs a header the verifier cannot replay', async () => {
    const host = 'sts.eu-west-1.amazonaws.com';
    const signer = new SignatureV4({ credentials: SESSION, region: 'eu-west-1', service: 'sts', sha256: Sha256 });
    const request = await signer.presign(
      new HttpRequest({
        protocol: 'https:',
        hostname: host,
        path: '/',
        query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
        headers: { host, 'x-k8s-aws-id': 'prod-eu', 'x-extra': 'one' },
      }),
      { signingDate: NOW, expiresIn: 60 },
    );
    const query = Object.entries(request.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const token = `k8s-aws-v1.${Buffer.from(`https://${host}/?${query}`).toString('base64url')}`;

    expect(new URL(decodeEksToken(token)).searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-extra;x-k8s-aws-id');
    expect(verifyAsIamAuthenticator(token, verifyOptions)).toMatchObject({
      ok: false,
      reason: 'unexpected-signed-header',
    });
  });

  it('refuses tokens over 4 KiB', () => {
    expect(checkEksTokenFormat(`k8s-aws-v1.${'A'.repeat(4096)}`, { now: NOW })).toMatchObject({
      ok: false,
      reason: 'too-large',
    });
  });

  it('accepts the dual-stack STS host of the region by the format rules alone', async () => {
    const token = await sessionToken();
    const dualStack = tamper(token, (u) => u.replace('sts.eu-west-1.amazonaws.com', 'sts.eu-west-1.api.aws'));

    expect(checkEksTokenFormat(dualStack, { now: NOW, region: 'eu-west-1' }).ok).toBe(true);
    expect(checkEksTokenFormat(dualStack, { now: NOW }).ok).toBe(true);
  });

  it('never repeats the signature or secret in a rejection message', async () => {
    const token = await sessionToken();
    const signature = new URL(decodeEksToken(token)).searchParams.get('X-Amz-Signature') ?? '';

    const check = verifyAsIamAuthenticator(token, { ...verifyOptions, clusterId: 'other' });

    expect(check.ok).toBe(false);
    expect(JSON.stringify(check)).not.toContain(signature);
    expect(JSON.stringify(check)).not.toContain(SESSION.secretAccessKey);
    expect(JSON.stringify(check)).not.toContain(SESSION.sessionToken);
  });
});
