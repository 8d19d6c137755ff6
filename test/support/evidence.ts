/**
 * A local data directory with real evidence in it, for `audit verify` tests: dynalite (LevelDB under the directory) and
 * s3rver running as the local runtime runs them (its state file names them, so `audit verify --local` reads through
 * them), audit events appended to their chains in DynamoDB, archived by the real archiver (`archiveEvents`: objects
 * and manifests), and digested by the real digester with the local key file. Also writes an evidence export of a range
 * from the bucket, as the export layout says.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { FileDigestSigner, LOCAL_DIGEST_KEY_FILE } from '#shared/adapters/local/file-digest-signer.ts';
import { ulidIds } from '#shared/adapters/system.ts';
import { buildEvent, type ChainHead } from '#shared/audit/chain.ts';
import type { AuditEvent } from '#shared/audit/event.ts';
import { HOUR_MS, archiveObjectBody, hourStart, parseDigestKey, sha256Hex } from '#shared/evidence/archive-layout.ts';
import { archiveEvents } from '#shared/evidence/archiver.ts';
import { Digester, lastDigestibleHour } from '#shared/evidence/digester.ts';
import { readArchiveEvidence } from '#shared/evidence/evidence-reader.ts';
import {
  EXPORT_EVENTS_FILE,
  EXPORT_MANIFEST_FILE,
  type EvidenceExportManifest,
} from '#shared/evidence/export-layout.ts';
import { verifyEvidence, type EvidenceReport } from '#shared/evidence/verifier.ts';
import { LOCAL_AWS_CREDENTIALS, startEmbeddedDynamo, startEmbeddedS3 } from '../../local/embedded-stores.ts';

export const STREAMS = ['request/req_A', 'grant/grt_B', 'session/ses_C'] as const;

export interface EvidenceFixture {
  dataDir: string;
  now: Date;
  /** The events appended, in append order (per stream, seq ascending). */
  events: AuditEvent[];
  store: S3ArchiveStore;
  /** The raw client: s3rver lets a second PUT overwrite and a DELETE remove, as a tamperer would wish. */
  s3: S3Client;
  bucket: string;
  chain: DynamoDbChainStore;
  signer: FileDigestSigner;
  dynamoClient: Awaited<ReturnType<typeof startEmbeddedDynamo>>['client'];
  /** Reads and verifies the whole data directory (no range) as `audit verify --local` does. */
  verify(options?: { range?: { from: Date; to: Date }; pinnedPublicKey?: string }): Promise<EvidenceReport>;
  /** Stops the stores (data kept). */
  stopStores(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * `hours` archive hours before `now`'s last digestible hour, each with one event per stream, archived in that hour
 * (manifest time: five minutes after the event) and digested up to the last digestible hour.
 */
export async function buildEvidenceFixture(options: { now?: Date; hours?: number } = {}): Promise<EvidenceFixture> {
  const now = options.now ?? new Date();
  const hours = options.hours ?? 3;
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-evidence-'));
  const dynamo = await startEmbeddedDynamo({ directory: join(dataDir, 'dynamodb') });
  const s3 = await startEmbeddedS3({ directory: join(dataDir, 's3') });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
    forcePathStyle: true,
  });
  const store = new S3ArchiveStore(client, s3.bucket);
  const chain = new DynamoDbChainStore(dynamo.client, dynamo.tables.events);
  // The local runtime's state file: `--local` then reads through these stores, as it would through `npm start`'s.
  writeFileSync(
    join(dataDir, 'local.json'),
    JSON.stringify({ apiUrl: '', issuerUrl: '', audience: '', stores: { dynamodb: dynamo.endpoint, s3: s3.endpoint } }),
  );

  const lastHour = lastDigestibleHour(now);
  const firstHour = new Date(lastHour.getTime() - (hours - 1) * HOUR_MS);
  const heads = new Map<string, ChainHead>();
  const events: AuditEvent[] = [];
  for (let hour = 0; hour < hours; hour += 1) {
    const batch: AuditEvent[] = [];
    STREAMS.forEach((stream, index) => {
      const time = new Date(firstHour.getTime() + hour * HOUR_MS + (index + 1) * 60_000);
      const event = buildEvent(
        {
          type: 'access.requested',
          stream,
          actor: { id: 'local:ci:demo', groups: ['ci'] },
          subject: { cluster: 'dev', namespaces: ['app'] },
          details: { purpose: `hour ${hour}` },
        },
        heads.get(stream),
        ulidIds.next(),
        time,
      );
      heads.set(stream, { seq: event.chain.seq, hash: event.chain.hash });
      batch.push(event);
    });
    for (const event of batch) await chain.put(event);
    const writtenAt = new Date(firstHour.getTime() + hour * HOUR_MS + 5 * 60_000);
    const result = await archiveEvents(batch, { archive: store, clock: { now: () => writtenAt }, ids: ulidIds });
    if (result.failures.length > 0) throw new Error(`archiving failed: ${result.failures[0]!.message}`);
    events.push(...batch);
  }
  const signer = FileDigestSigner.open(join(dataDir, LOCAL_DIGEST_KEY_FILE));
  await new Digester({ store, signer, clock: { now: () => now } }).digestUpTo(lastHour);

  let stopped = false;
  const stopStores = async () => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    await s3.stop();
    await dynamo.stop();
  };
  return {
    dataDir,
    now,
    events,
    store,
    s3: client,
    bucket: s3.bucket,
    chain,
    signer,
    dynamoClient: dynamo.client,
    verify: async ({ range, pinnedPublicKey } = {}) =>
      verifyEvidence(
        await readArchiveEvidence({ store, events: chain, now, ...(range ? { range } : {}), pinnedPublicKey }),
      ),
    stopStores,
    remove: async () => {
      await stopStores();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * An evidence export of `range` from the bucket: the range's objects as events.jsonl lines (by event time, then stream
 * and seq), the digests from the hour before the range to the newest, the public keys, and manifest.json.
 */
export async function writeEvidenceExport(
  store: S3ArchiveStore,
  events: readonly AuditEvent[],
  range: { from: Date; to: Date },
  directory: string,
  generatedAt: Date,
): Promise<void> {
  const inRange = events
    .filter((event) => event.time >= range.from.toISOString() && event.time < range.to.toISOString())
    .sort(
      (a, b) =>
        a.time.localeCompare(b.time) || a.chain.stream.localeCompare(b.chain.stream) || a.chain.seq - b.chain.seq,
    );
  const files = new Map<string, Uint8Array>();
  files.set(EXPORT_EVENTS_FILE, Buffer.concat(inRange.map((event) => archiveObjectBody(event))));
  const firstDigestHour = hourStart(range.from).getTime() - HOUR_MS;
  for await (const { key } of store.list('digests/')) {
    const hour = parseDigestKey(key);
    if (key.startsWith('digests/keys/') || (hour && hour.getTime() >= firstDigestHour)) {
      files.set(key, (await store.get(key))!);
    }
  }
  const manifest: EvidenceExportManifest = {
    range: { from: range.from.toISOString(), to: range.to.toISOString() },
    generatedAt: generatedAt.toISOString(),
    counts: { events: inRange.length },
    files: Object.fromEntries([...files].map(([file, bytes]) => [file, sha256Hex(bytes)])),
  };
  for (const [file, bytes] of files) {
    mkdirSync(dirname(join(directory, file)), { recursive: true });
    writeFileSync(join(directory, file), bytes);
  }
  writeFileSync(join(directory, EXPORT_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}
