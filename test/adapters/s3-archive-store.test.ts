import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { sha256Hex } from '#shared/evidence/archive-layout.ts';
import { LOCAL_AWS_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '../../local/embedded-stores.ts';

describe('S3ArchiveStore against s3rver', () => {
  let directory: string;
  let s3: EmbeddedS3;
  let store: S3ArchiveStore;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-s3-'));
    s3 = await startEmbeddedS3({ directory });
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: LOCAL_AWS_CREDENTIALS,
    });
    store = new S3ArchiveStore(client, s3.bucket);
  });

  afterAll(async () => {
    await s3.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('writes an absent object once and leaves an existing one as it is', async () => {
    const first = Buffer.from('{"n":1}\n');
    expect(await store.putIfAbsent('events/a.json', first, sha256Hex(first))).toBe('written');
    const second = Buffer.from('{"n":2}\n');
    expect(await store.putIfAbsent('events/a.json', second, sha256Hex(second))).toBe('exists');
    expect(Buffer.from((await store.get('events/a.json'))!).toString()).toBe('{"n":1}\n');
  });

  it('answers undefined for a missing object', async () => {
    expect(await store.get('events/missing.json')).toBeUndefined();
  });

  it('lists keys under a prefix in key order, across pages, from a start key', async () => {
    const keys = Array.from({ length: 1005 }, (_, index) => `list/${String(index).padStart(4, '0')}.json`);
    for (const key of keys) await store.putIfAbsent(key, Buffer.from(key), sha256Hex(key));
    const listed: string[] = [];
    for await (const object of store.list('list/')) listed.push(object.key);
    expect(listed).toEqual(keys);
    const after: string[] = [];
    for await (const object of store.list('list/', 'list/1000.json')) after.push(object.key);
    expect(after).toEqual(keys.slice(1001));
  });
});

describe('S3ArchiveStore.putNew (the relay: put-only permission)', () => {
  it('puts with If-None-Match and the SHA-256, sending no HEAD, and reads a 412 as already there', async () => {
    const s3 = mockClient(S3Client);
    const body = Buffer.from('{"version":2,"width":80,"height":24}\n');
    s3.on(PutObjectCommand)
      .resolvesOnce({})
      .rejectsOnce(Object.assign(new Error('PreconditionFailed'), { $metadata: { httpStatusCode: 412 } }));
    const store = new S3ArchiveStore(new S3Client({ region: 'us-east-1' }), 'audit');
    expect(await store.putNew('sessions/2026-11-23/01J.cast', body, sha256Hex(body))).toBe('written');
    expect(await store.putNew('sessions/2026-11-23/01J.cast', body, sha256Hex(body))).toBe('exists');
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'audit',
      Key: 'sessions/2026-11-23/01J.cast',
      Body: body,
      ContentType: 'application/x-asciicast',
      ChecksumSHA256: Buffer.from(sha256Hex(body), 'hex').toString('base64'),
      IfNoneMatch: '*',
    });
    s3.restore();
  });
});
