/**
 * The archiver's real parts for tests: dynalite with events appended by the real AuditLog, s3rver behind the real
 * S3ArchiveStore with every PutObject counted, and the table's items as the DynamoDB stream would carry them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import { DynamoDbChainStore } from '../../shared/adapters/aws/dynamodb-chain-store.ts';
import { S3ArchiveStore } from '../../shared/adapters/aws/s3-archive-store.ts';
import { ulidIds } from '../../shared/adapters/system.ts';
import { AuditLog } from '../../shared/audit/audit-log.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { archiveObjectBody, archiveObjectKey } from '../../shared/evidence/archive-layout.ts';
import type { ArchiveStore } from '../../shared/evidence/ports.ts';
import type { ArchiveManifest } from '../../shared/evidence/archive-layout.ts';
import { LOCAL_AWS_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '../../local/embedded-stores.ts';
import { startDynalite, type Dynalite } from './dynalite.ts';

export interface ArchiveFixture {
  dynamo: Dynalite;
  s3: EmbeddedS3;
  directory: string;
  chain: DynamoDbChainStore;
  /** The S3ArchiveStore on s3rver (`endpoint` overrides where its client sends requests: a faulty proxy). */
  store(endpoint?: string): ArchiveStore;
  /** Keys of every PutObject sent to S3 through `store()`, in order. */
  puts: string[];
  stop(): Promise<void>;
}

export async function startArchiveFixture(): Promise<ArchiveFixture> {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-archive-'));
  const dynamo = await startDynalite();
  const s3 = await startEmbeddedS3({ directory: join(directory, 's3') });
  const puts: string[] = [];
  const clients: S3Client[] = [];
  return {
    dynamo,
    s3,
    directory,
    chain: new DynamoDbChainStore(dynamo.client, dynamo.names.events),
    puts,
    store(endpoint = s3.endpoint) {
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: LOCAL_AWS_CREDENTIALS,
      });
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'PutObjectCommand') puts.push((args.input as { Key: string }).Key);
          return next(args);
        },
        { step: 'initialize' },
      );
      clients.push(client);
      return new S3ArchiveStore(client, s3.bucket);
    },
    async stop() {
      for (const client of clients) client.destroy();
      await s3.stop();
      await dynamo.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Appends `count` events over `streams` request streams through the real AuditLog. */
export async function appendEvents(fixture: ArchiveFixture, count: number, streams = 3): Promise<AuditEvent[]> {
  const audit = new AuditLog(fixture.chain, { now: () => new Date() }, ulidIds);
  const events: AuditEvent[] = [];
  for (let index = 0; index < count; index += 1) {
    events.push(
      await audit.append({
        type: 'access.requested',
        stream: `request/req_${String(index % streams).padStart(26, '0')}`,
        actor: { id: 'local:ci:demo', groups: ['ci'] },
        subject: { cluster: 'dev', namespaces: ['app'] },
        details: { purpose: `run ${index}` },
      }),
    );
  }
  return events;
}

/** Every item of the events table as an INSERT record with NEW_IMAGE, in time order, sequence numbers from 1. */
export async function insertRecords(fixture: ArchiveFixture): Promise<DynamoDBRecord[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await fixture.dynamo.client.send(
      new ScanCommand({ TableName: fixture.dynamo.names.events, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  items.sort((a, b) => (a.timeId!.S! < b.timeId!.S! ? -1 : 1));
  return items.map((item, index) => ({
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/gatehouse-events/stream/test',
    dynamodb: {
      Keys: { stream: item.stream, seq: item.seq } as never,
      NewImage: item as never,
      SequenceNumber: String(index + 1).padStart(21, '0'),
      StreamViewType: 'NEW_IMAGE',
    },
  }));
}

/**
 * Events of the table whose archived object is missing or differs from `archiveObjectBody`, as "<key>: <why>" (B's
 * completeness check in shared/evidence/ covers the manifests and digests; this checks the objects byte for byte).
 */
export async function archiveDifferences(fixture: ArchiveFixture, events: readonly AuditEvent[]): Promise<string[]> {
  const store = fixture.store();
  const differences: string[] = [];
  for (const event of events) {
    const key = archiveObjectKey(event);
    const stored = await store.get(key);
    if (!stored) differences.push(`${key}: missing`);
    else if (!Buffer.from(stored).equals(archiveObjectBody(event))) differences.push(`${key}: different bytes`);
  }
  return differences;
}

/** Every event the table holds, read back as the archiver reads it. */
export async function tableEvents(fixture: ArchiveFixture): Promise<AuditEvent[]> {
  return fixture.chain.queryRange(new Date(Date.now() - 86_400_000), new Date(Date.now() + 3_600_000));
}

/** How many times each event key is listed across every manifest in the bucket. */
export async function manifestListings(fixture: ArchiveFixture): Promise<Map<string, number>> {
  const store = fixture.store();
  const listed = new Map<string, number>();
  for await (const { key } of store.list('manifests/')) {
    const manifest = JSON.parse(Buffer.from((await store.get(key))!).toString('utf8')) as ArchiveManifest;
    for (const entry of manifest.objects) listed.set(entry.key, (listed.get(entry.key) ?? 0) + 1);
  }
  return listed;
}
