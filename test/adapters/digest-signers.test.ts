import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DigestSigningError, KmsDigestSigner } from '#shared/adapters/aws/kms-digest-signer.ts';
import { FileDigestSigner } from '#shared/adapters/local/file-digest-signer.ts';
import { sha256Hex } from '#shared/evidence/archive-layout.ts';
import { buildDigestBody, digestSignatureValid, digestSigningInput, publicKeySha256 } from '#shared/evidence/digest.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0b5e1d1c-digest';
const kms = mockClient(KMSClient);
// A real P-256 key stands behind the mocked KMS, so what it "signs" verifies.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
/** The messages the tests sign, by their SHA-256. */
const messages = new Map<string, Buffer>();

function body(keyId: string, pem: string) {
  return buildDigestBody({
    hour: new Date('2026-11-23T10:00:00.000Z'),
    previous: undefined,
    objects: [],
    signedAt: new Date('2026-11-23T11:10:00.000Z'),
    keyId,
    publicKeySha256: publicKeySha256(pem),
  });
}

describe('KmsDigestSigner', () => {
  beforeEach(() => {
    kms.reset();
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    kms.on(SignCommand).callsFake((input: { Message: Uint8Array }) => {
      // With MessageType DIGEST, KMS signs the SHA-256 it is given as it is. node:crypto cannot sign a prehashed value,
      // so the fake finds the message with that SHA-256 and signs it with ECDSA-SHA-256: the same signature.
      const message = messages.get(Buffer.from(input.Message).toString('hex'));
      if (!message) throw new Error('KMS was sent a digest of no message the test signs');
      return { Signature: sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }) };
    });
  });

  it('signs the SHA-256 of the message with MessageType DIGEST and ECDSA_SHA_256, verifiably', async () => {
    const signer = new KmsDigestSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);
    const digest = body(signer.keyId, await signer.publicKeyPem());
    const message = digestSigningInput(digest);
    messages.set(sha256Hex(message), message);

    const signature = await signer.sign(message);

    expect(kms.commandCalls(SignCommand)[0]!.args[0].input).toEqual({
      KeyId: KEY_ARN,
      Message: Buffer.from(sha256Hex(message), 'hex'),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    expect(digestSignatureValid({ digest, signature: Buffer.from(signature).toString('base64') }, publicPem)).toBe(
      true,
    );
  });

  it('returns the public key as PEM, read from KMS once', async () => {
    const signer = new KmsDigestSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);
    expect(await signer.publicKeyPem()).toBe(publicPem);
    expect(await signer.publicKeyPem()).toBe(publicPem);
    expect(kms.commandCalls(GetPublicKeyCommand).map((call) => call.args[0].input)).toEqual([{ KeyId: KEY_ARN }]);
  });

  it('turns a KMS failure into a DigestSigningError naming the key only', async () => {
    kms.on(SignCommand).rejects(new Error('AccessDeniedException: not allowed'));
    const signer = new KmsDigestSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);
    await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(
      new DigestSigningError(`KMS could not sign with ${KEY_ARN}`),
    );
  });
});

describe('FileDigestSigner', () => {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-digest-key-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('generates a P-256 key once, readable by its owner only, and signs verifiably with it', async () => {
    const file = join(directory, 'digest-signing-key.pem');
    const signer = FileDigestSigner.open(file);
    const again = FileDigestSigner.open(file);

    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(signer.keyId).toBe('local:digest-signing-key.pem');
    const pem = await signer.publicKeyPem();
    expect(await again.publicKeyPem()).toBe(pem);
    expect(createPublicKey(pem).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    const digest = body(signer.keyId, pem);
    const signature = Buffer.from(await again.sign(digestSigningInput(digest))).toString('base64');
    expect(digestSignatureValid({ digest, signature }, pem)).toBe(true);
  });
});
