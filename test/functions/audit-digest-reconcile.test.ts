import './../support/api.ts';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as digestHandler } from '../../functions/audit-digest.ts';
import { handler as reconcileHandler } from '../../functions/audit-reconcile.ts';
import { useArchiveRuntime } from '../../functions/lib/archive-runtime.ts';
import { logger, metrics } from '../../functions/lib/observability.ts';
import { lambdaContext } from '../../local/api-server.ts';
import { LOCAL_AWS_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '../../local/embedded-stores.ts';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { KmsDigestSigner } from '#shared/adapters/aws/kms-digest-signer.ts';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { ulidIds } from '#shared/adapters/system.ts';
import { buildEvent } from '#shared/audit/chain.ts';
import type { AuditEvent } from '#shared/audit/event.ts';
import { HOUR_MS, digestKey, hourStart, publicKeyKey, sha256Hex } from '#shared/evidence/archive-layout.ts';
import { archiveEvents } from '#shared/evidence/archiver.ts';
import { publicKeySha256, type SignedDigest } from '#shared/evidence/digest.ts';
import { readArchiveEvidence } from '#shared/evidence/evidence-reader.ts';
import { verifyEvidence } from '#shared/evidence/verifier.ts';
import { startDynalite, type Dynalite } from '../support/dynalite.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/digest';
// Twenty past this hour (s3rver stamps objects with the wall clock, so the test's clock stays near it): the last hour
// that may be digested is the one before, called hour(9) here; hour(7) is two hours before it.
const NOW = new Date(hourStart(new Date()).getTime() + 20 * 60_000);
const hour = (h: number) => new Date(hourStart(NOW).getTime() - (10 - h) * HOUR_MS);

const kms = mockClient(KMSClient);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signedMessages = new Map<string, Buffer>();

let directory: string;
let s3: EmbeddedS3;
let client: S3Client;
let dynalite: Dynalite;
let store: S3ArchiveStore;

const invoke = <T>(run: typeof digestHandler | typeof reconcileHandler, name: string) =>
  run(undefined, lambdaContext(name) as Context, { signal: new AbortController().signal }) as Promise<T>;

function event(stream: string, seq: number, prev: AuditEvent | undefined, time: Date): AuditEvent {
  return buildEvent(
    { type: 'grant.created', stream, actor: { id: 'system:lifecycle' } },
    prev && { seq: prev.chain.seq, hash: prev.chain.hash },
    ulidIds.next(),
    time,
  );
}

async function archiveAt(events: AuditEvent[], writtenAt: Date): Promise<void> {
  const result = await archiveEvents(events, { archive: store, clock: { now: () => writtenAt }, ids: ulidIds });
  expect(result.failures).toEqual([]);
}

async function storedDigest(at: Date): Promise<SignedDigest> {
  return JSON.parse(Buffer.from((await store.get(digestKey(at)))!).toString('utf8')) as SignedDigest;
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'gatehouse-digest-'));
  s3 = await startEmbeddedS3({ directory });
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
    forcePathStyle: true,
  });
  store = new S3ArchiveStore(client, s3.bucket);
  dynalite = await startDynalite();
});
afterAll(async () => {
  client.destroy();
  await s3.stop();
  await dynalite.stop();
  rmSync(directory, { recursive: true, force: true });
});
beforeEach(() => {
  kms.reset();
  kms.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
  // KMS signs the SHA-256 it is sent (MessageType DIGEST); the fake signs the message with that SHA-256 instead.
  kms.on(SignCommand).callsFake((input: { Message: Uint8Array }) => {
    const message = signedMessages.get(Buffer.from(input.Message).toString('hex'));
    if (!message) throw new Error('unknown digest');
    return { Signature: sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }) };
  });
  // node:crypto cannot sign a prehashed value: the fake finds the message whose SHA-256 KMS was sent, recorded as the
  // signer passes it on, and signs it with ECDSA-SHA-256, which is the same signature.
  const original = KmsDigestSigner.prototype.sign;
  vi.spyOn(KmsDigestSigner.prototype, 'sign').mockImplementation(function (this: KmsDigestSigner, message) {
    signedMessages.set(sha256Hex(message), Buffer.from(message));
    return original.call(this, message);
  });
  vi.stubEnv('DIGEST_SIGNING_KEY_ARN', KEY_ARN);
  useArchiveRuntime({ archive: store, clock: { now: () => NOW }, ids: ulidIds });
});
afterEach(() => {
  useArchiveRuntime(undefined);
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('audit-digest', () => {
  it('catches up hour by hour from the first manifest: an hour without manifests gets an empty digest', async () => {
    const first = event('grant/grt_1', 1, undefined, new Date(hour(7).getTime() + 60_000));
    const second = event('grant/grt_1', 2, first, new Date(hour(9).getTime() + 60_000));
    await archiveAt([first], new Date(hour(7).getTime() + 120_000));
    await archiveAt([second], new Date(hour(9).getTime() + 120_000));

    const result = await invoke<{ target: string; digests: { key: string; written: boolean }[] }>(
      digestHandler,
      'audit-digest',
    );

    expect(result.target).toBe(hour(9).toISOString());
    expect(result.digests.map((digest) => [digest.key, digest.written])).toEqual([
      [digestKey(hour(7)), true],
      [digestKey(hour(8)), true],
      [digestKey(hour(9)), true],
    ]);
    expect(kms.commandCalls(SignCommand).map((call) => call.args[0].input.MessageType)).toEqual([
      'DIGEST',
      'DIGEST',
      'DIGEST',
    ]);

    const [seven, eight, nine] = [
      await storedDigest(hour(7)),
      await storedDigest(hour(8)),
      await storedDigest(hour(9)),
    ];
    expect(seven.digest.previous).toBeNull();
    expect(seven.digest.objects.map((entry) => entry.eventId)).toEqual([first.id]);
    expect(eight.digest.objects).toEqual([]);
    expect(eight.digest.previous).toEqual({
      hour: hour(7).toISOString(),
      sha256: sha256Hex((await store.get(digestKey(hour(7))))!),
    });
    expect(nine.digest.heads).toEqual({ 'grant/grt_1': { seq: 2, hash: second.chain.hash } });
    expect(nine.digest.keyId).toBe(KEY_ARN);
    expect(Buffer.from((await store.get(publicKeyKey(publicKeySha256(publicPem))))!).toString()).toBe(publicPem);

    const report = verifyEvidence(await readArchiveEvidence({ store, now: NOW, pinnedPublicKey: publicPem }));
    expect(report.problems).toEqual([]);
    expect(report.summary).toMatchObject({ digests: 3, objects: 2, streams: 1 });
  });

  it('writes nothing when every ended hour is digested, and keeps the stored digests', async () => {
    const before = await store.get(digestKey(hour(9)));
    const result = await invoke<{ digests: unknown[] }>(digestHandler, 'audit-digest');
    expect(result.digests).toEqual([]);
    expect(await store.get(digestKey(hour(9)))).toEqual(before);
    expect(kms.commandCalls(SignCommand)).toHaveLength(0);
  });
});

describe('audit-reconcile', () => {
  it("counts the previous day's gaps as ArchiveGaps and logs each by location only", async () => {
    const chain = new DynamoDbChainStore(dynalite.client, dynalite.names.events);
    const today = Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth(), NOW.getUTCDate());
    const yesterday = new Date(today - 9 * HOUR_MS);
    const archived = event('request/req_9', 1, undefined, yesterday);
    const lost = event('request/req_9', 2, archived, new Date(yesterday.getTime() + 60_000));
    await chain.put(archived);
    await chain.put(lost);
    await archiveAt([archived], new Date(yesterday.getTime() + 120_000));
    vi.stubEnv('EVENTS_TABLE', dynalite.names.events);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynalite.endpoint);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_AWS_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_AWS_CREDENTIALS.secretAccessKey);
    const metric = vi.spyOn(metrics, 'addMetric');
    const error = vi.spyOn(logger, 'error');

    const result = await invoke<{ day: string; gaps: number }>(reconcileHandler, 'audit-reconcile');

    expect(result.day).toBe(new Date(today - 24 * HOUR_MS).toISOString().slice(0, 10));
    expect(metric).toHaveBeenCalledWith('ArchiveGaps', 'Count', result.gaps);
    expect(error).toHaveBeenCalledWith('archive gap', {
      kind: 'not-archived',
      location: expect.objectContaining({ source: 'dynamodb', stream: 'request/req_9', seq: 2, eventId: lost.id }),
    });
    const notArchived = error.mock.calls.filter(([, details]) => (details as { kind: string }).kind === 'not-archived');
    expect(notArchived).toHaveLength(1);
    expect(result.gaps).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(error.mock.calls)).not.toContain('system:lifecycle');
  });
});
