/**
 * Archiver throughput on the local runtime's parts: events already in the events table (dynalite, in memory) flow
 * through the local events stream (local/event-stream.ts: byTime index reads, batches of 100) into the real
 * audit-archive handler, which writes one object per event plus a manifest per batch to s3rver on disk through
 * S3ArchiveStore (a HEAD, then a PUT). Timed: from the stream's first read to the last batch archived.
 * Runnable alone: `npx tsx bench/archiver.ts [events]`.
 */
import './quiet-powertools.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { documentClient, timeIndexKeys } from '#shared/adapters/aws/tables.ts';
import { ulidIds } from '#shared/adapters/system.ts';
import { buildEvent, type ChainHead } from '#shared/audit/chain.ts';
import { DEFAULT_ARCHIVE_CONCURRENCY } from '#shared/evidence/archiver.ts';
import { LOCAL_AWS_CREDENTIALS, startEmbeddedDynamo, startEmbeddedS3 } from '../local/embedded-stores.ts';
import { DEFAULT_STREAM_MAPPING, startLocalArchiving } from '../local/event-stream.ts';
import { table } from './stats.ts';

export interface ArchiverReport {
  events: number;
  streams: number;
  seedSeconds: number;
  seconds: number;
  eventsPerSecond: number;
  invocations: number;
  deadLettered: number;
}

/** Seeds `count` chained events over `count / 100` streams, then times the stream archiving them all. */
export async function runArchiverBench(workDir: string, count = 100_000): Promise<ArchiverReport> {
  const dynamo = await startEmbeddedDynamo();
  const s3 = await startEmbeddedS3({ directory: join(workDir, 's3') });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_AWS_CREDENTIALS,
  });
  try {
    const streams = Math.max(1, Math.floor(count / 100));
    const seedStarted = performance.now();
    await seed(dynamo.client, dynamo.tables.events, count, streams);
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const archiving = await startLocalArchiving({
      dynamo,
      archive: new S3ArchiveStore(client, s3.bucket),
      dataDir: workDir,
      persistent: false,
      settings: { pollIntervalMs: 3_600_000 },
    });
    const started = performance.now();
    await archiving.flush();
    const seconds = (performance.now() - started) / 1000;
    await archiving.stop();
    const { invocations, delivered, deadLettered } = archiving.stream.stats;
    if (delivered !== count) throw new Error(`the stream delivered ${delivered} of ${count} events`);
    return {
      events: count,
      streams,
      seedSeconds,
      seconds,
      eventsPerSecond: count / seconds,
      invocations,
      deadLettered,
    };
  } finally {
    client.destroy();
    await s3.stop();
    await dynamo.stop();
  }
}

/** Events written as the chain store writes them (item = event + table and index keys), 25 per BatchWriteItem. */
async function seed(
  client: Parameters<typeof documentClient>[0],
  tableName: string,
  count: number,
  streams: number,
): Promise<void> {
  const doc = documentClient(client);
  const heads = new Map<string, ChainHead>();
  const start = Date.now() - count;
  const items = Array.from({ length: count }, (_, index) => {
    const stream = `request/req_${String(index % streams).padStart(26, '0')}`;
    const event = buildEvent(
      {
        type: 'access.requested',
        stream,
        actor: { id: 'github-actions:repo:acme/app:ref:refs/heads/main', groups: ['ci'] },
        subject: { cluster: 'prod', namespaces: ['app'] },
        details: { purpose: 'deploy', access: 'view', durationSeconds: 900 },
      },
      heads.get(stream),
      ulidIds.next(),
      new Date(start + index),
    );
    heads.set(stream, { seq: event.chain.seq, hash: event.chain.hash });
    return { ...event, stream, seq: event.chain.seq, ...timeIndexKeys(event) };
  });
  let next = 0;
  const writer = async () => {
    while (next < items.length) {
      const chunk = items.slice(next, next + 25);
      next += 25;
      let pending: Record<string, unknown>[] = chunk.map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const result = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }));
        pending = (result.UnprocessedItems?.[tableName] ?? []) as Record<string, unknown>[];
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

/** The BENCHMARKS.md section. */
export function archiverMarkdown(report: ArchiverReport): string {
  return `## Archiver: events from the table's stream to S3 objects

bench/archiver.ts: ${report.events.toLocaleString('en')} chained events over ${report.streams.toLocaleString('en')} streams,
seeded into dynalite (in memory) in ${report.seedSeconds.toFixed(0)} s, then archived by the local events stream
(local/event-stream.ts, batches of ${DEFAULT_STREAM_MAPPING.batchSize}, one batch at a time as one shard is) calling the real
audit-archive handler, which writes each event's object (a HEAD, then a PUT, ${DEFAULT_ARCHIVE_CONCURRENCY} at a time) and one
manifest per batch to s3rver on disk. Timed from the stream's first read to the last batch archived.

${table(
  ['events', 'seconds', 'events/s', 'invocations', 'dead-lettered'],
  [
    [
      report.events.toLocaleString('en'),
      report.seconds.toFixed(1),
      report.eventsPerSecond.toFixed(0),
      String(report.invocations),
      String(report.deadLettered),
    ],
  ],
)}

Locally the bound is s3rver, which writes two files per object and answers on the same Node.js thread as dynalite and
the stream; in AWS a shard's batches run one at a time too, so throughput per shard is the batch's slowest PUT times
the batches, and the table's stream has as many shards as its partitions need.
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-archiver-'));
  try {
    const report = await runArchiverBench(work, Number(process.argv[2] ?? 100_000));
    console.log(archiverMarkdown(report));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}
