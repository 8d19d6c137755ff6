import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  KmsRelayCredentialSigner,
  RelayCredentialSigningError,
} from '../../shared/adapters/aws/kms-relay-credential-signer.ts';
import {
  LOCAL_RELAY_CREDENTIAL_KEY_FILE,
  LocalRelayCredentialSigner,
} from '../../shared/adapters/local/local-relay-credential-signer.ts';
import { issueRelayCredential, relayKeyId, verifyRelayCredential } from '../../shared/tokens/relay-credential.ts';
import { localRelayVerificationKeys } from '../../local/local-relay-keys.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/5d0c1a7e-relay';
const NOW = new Date('2026-11-23T10:00:00.000Z');
const clock = { now: () => NOW };
const kms = mockClient(KMSClient);
// A real P-256 key stands behind the mocked KMS, so what it "signs" verifies.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const publicDer = publicKey.export({ type: 'spki', format: 'der' });
/** The messages the tests sign, by the hex of their SHA-256. */
const messages = new Map<string, Buffer>();
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

const claims = {
  id: 'rc_1',
  grantId: 'grt_1',
  principalId: 'ci:agent',
  cluster: 'prod',
  namespaces: ['app'],
  access: 'view',
  groups: ['gatehouse:view'],
  username: 'gatehouse:ci-agent-x',
  grantExpiresAt: new Date(NOW.getTime() + 3600_000),
  ttlSeconds: 900,
};

describe('KmsRelayCredentialSigner', () => {
  beforeEach(() => {
    kms.reset();
    messages.clear();
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: publicDer });
    kms.on(SignCommand).callsFake((input: { Message: Uint8Array }) => {
      // With MessageType DIGEST, KMS signs the SHA-256 it is given. node:crypto cannot sign a prehashed value, so the
      // fake finds the message with that SHA-256 and signs it with ECDSA-SHA-256 in DER, as KMS answers: the same.
      const message = messages.get(Buffer.from(input.Message).toString('hex'));
      if (!message) throw new Error('KMS was sent a digest of no message the test signs');
      return { Signature: sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }) };
    });
  });

  it('signs the SHA-256 of the signing input with MessageType DIGEST and ECDSA_SHA_256, as a verifiable JWS', async () => {
    const signer = new KmsRelayCredentialSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);
    const recording = {
      keyId: () => signer.keyId(),
      publicKeyPem: () => signer.publicKeyPem(),
      sign: (input: Uint8Array) => {
        messages.set(sha256(input).toString('hex'), Buffer.from(input));
        return signer.sign(input);
      },
    };

    const issued = await issueRelayCredential(recording, claims, clock);

    const signingInput = issued.token.slice(0, issued.token.lastIndexOf('.'));
    expect(kms.commandCalls(SignCommand).map((call) => call.args[0].input)).toEqual([
      {
        KeyId: KEY_ARN,
        Message: sha256(Buffer.from(signingInput)),
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      },
    ]);
    const kid = relayKeyId(publicPem);
    expect(await signer.keyId()).toBe(kid);
    const check = await verifyRelayCredential(issued.token, new Map([[kid, publicPem]]), {
      now: new Date(NOW.getTime() + 1000),
      cluster: 'prod',
    });
    expect(check, JSON.stringify(check)).toMatchObject({ ok: true, claims: { grantId: 'grt_1' } });
  });

  it('reads the public key once and gives it as PEM', async () => {
    const signer = new KmsRelayCredentialSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);

    expect(await signer.publicKeyPem()).toBe(publicPem);
    expect(await signer.keyId()).toBe(relayKeyId(publicPem));
    expect(kms.commandCalls(GetPublicKeyCommand).map((call) => call.args[0].input)).toEqual([{ KeyId: KEY_ARN }]);
  });

  it('reads the public key again after a failed read', async () => {
    kms.on(GetPublicKeyCommand).rejectsOnce(new Error('ThrottlingException')).resolves({ PublicKey: publicDer });
    const signer = new KmsRelayCredentialSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);

    await expect(signer.keyId()).rejects.toBeInstanceOf(RelayCredentialSigningError);
    expect(await signer.keyId()).toBe(relayKeyId(publicPem));
  });

  it('turns a KMS failure or an unreadable signature into a RelayCredentialSigningError naming the key only', async () => {
    const signer = new KmsRelayCredentialSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);
    kms.on(SignCommand).rejects(new Error('AccessDeniedException: not allowed'));
    await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(
      new RelayCredentialSigningError(`KMS could not sign with ${KEY_ARN}`),
    );
    kms.on(SignCommand).resolves({ Signature: Buffer.from('not der') });
    await expect(signer.sign(Buffer.from('x'))).rejects.toBeInstanceOf(RelayCredentialSigningError);
  });
});

describe('LocalRelayCredentialSigner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-relay-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates its key once, 0600, and signs what localRelayVerificationKeys verifies', async () => {
    const first = LocalRelayCredentialSigner.open(join(dir, LOCAL_RELAY_CREDENTIAL_KEY_FILE));
    const issued = await issueRelayCredential(first, claims, clock);

    const { keyId, publicKeyPem, keys } = await localRelayVerificationKeys(dir);

    expect(statSync(join(dir, LOCAL_RELAY_CREDENTIAL_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(keyId).toBe(await first.keyId());
    expect(publicKeyPem).toBe(await first.publicKeyPem());
    const check = await verifyRelayCredential(issued.token, keys, {
      now: new Date(NOW.getTime() + 1000),
      cluster: 'prod',
    });
    expect(check.ok).toBe(true);
  });
});
