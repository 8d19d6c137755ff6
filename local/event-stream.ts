/**
 * The events table's stream for the local runtime. dynalite has no DynamoDB Streams, so this poller reads new items
 * from the table's `byTime` index, turns them into the `DynamoDBStreamEvent` Lambda would deliver (INSERT, NEW_IMAGE as
 * DynamoDB marshals it) and invokes the same audit-archive handler with the event source mapping's semantics: batches
 * in order, `batchItemFailures` honoured (retry from the first failed record), exponential backoff, bisect on a
 * function error, a retry limit and a maximum record age, then an on-failure record to the local dead-letter file.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueryCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { EVENTS_TABLE } from '#shared/adapters/aws/tables.ts';
import { LOCAL_DEAD_LETTER_FILE, LocalDeadLetters } from '#shared/adapters/local/local-dead-letters.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import type { StreamFailureRecord } from '#shared/evidence/archive-redrive.ts';
import type { ArchiveStore } from '#shared/evidence/ports.ts';
import { useArchiveRuntime } from '../functions/lib/archive-runtime.ts';
import { lambdaContext } from './api-server.ts';
import type { EmbeddedDynamo } from './embedded-stores.ts';

/** The event source mapping's settings; the defaults are the CDK stack's. */
export interface StreamMappingSettings {
  batchSize: number;
  /** Retries of a failing batch before it goes to the dead-letter file. */
  maxRetryAttempts: number;
  bisectBatchOnFunctionError: boolean;
  /** Records older than this (by their approximate creation time) are sent to the dead-letter file, not retried. */
  maxRecordAgeMs: number;
  /** Backoff before retry n is `min(initialBackoffMs * 2^(n-1), maxBackoffMs)`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_STREAM_MAPPING: StreamMappingSettings = {
  batchSize: 100,
  maxRetryAttempts: 10,
  bisectBatchOnFunctionError: true,
  maxRecordAgeMs: 24 * 3_600_000,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
};

export interface LocalEventStreamOptions extends Partial<StreamMappingSettings> {
  client: DynamoDBClient;
  table: string;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void | undefined>;
  deadLetters: LocalDeadLetters;
  /** Where the checkpoint survives restarts; without it (an in-memory table) the stream starts from the beginning. */
  stateFile?: string;
  /** How often the table is read for new items. */
  pollIntervalMs?: number;
  /** How far behind the checkpoint each read starts: an event's time is taken before its put, so puts land late. */
  rereadMarginMs?: number;
}

interface StreamState {
  /** The `timeId` of the newest record fully handled (delivered or dead-lettered). */
  checkpoint?: string;
  /** The last sequence number handed out, so numbers keep growing across restarts. */
  sequence: number;
}

/** A record and when its event was created, to the millisecond (the record's own time is in seconds). */
interface PendingRecord {
  record: DynamoDBRecord;
  timeId: string;
  createdAtMs: number;
}

type Invocation = { ok: true } | { ok: false; retryFrom: number } | { ok: false; error: true };

const SHARD_ID = 'shardId-00000000000000000000-local';
/** The stream's checkpoint in the data directory. */
export const STREAM_STATE_FILE = 'archive-stream.json';

export class LocalEventStream {
  private readonly settings: StreamMappingSettings;
  private readonly streamArn: string;
  private state: StreamState;
  /** timeIds already delivered that a re-read within the margin will find again. */
  private readonly seen = new Set<string>();
  private cycle: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  /** Counters for tests and the benchmark. */
  readonly stats = { invocations: 0, delivered: 0, deadLettered: 0 };

  constructor(private readonly options: LocalEventStreamOptions) {
    this.settings = { ...DEFAULT_STREAM_MAPPING, ...definedOnly(options) };
    this.streamArn = `arn:aws:dynamodb:us-east-1:000000000000:table/${options.table}/stream/local`;
    this.state = readState(options.stateFile);
  }

  /** Polls every `pollIntervalMs` until stopped. */
  start(): this {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
    return this;
  }

  /** Reads the table now and resolves once every item it found is archived or dead-lettered. */
  flush(): Promise<void> {
    const run = this.cycle.catch(() => undefined).then(() => this.readAndDeliver());
    this.cycle = run;
    return run;
  }

  /** Stops polling, abandons backoff waits (their records are read again at the next start) and waits for the rest. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.cycle.catch(() => undefined);
  }

  private async readAndDeliver(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const pending = await this.readNew();
    for (const { timeId } of pending) this.seen.add(timeId);
    for (let start = 0; start < pending.length; start += this.settings.batchSize) {
      const batch = pending.slice(start, start + this.settings.batchSize);
      try {
        if (this.stopping.signal.aborted) throw this.stopping.signal.reason;
        await this.deliver(batch);
      } catch (error) {
        // Not handled: the next read finds these again.
        for (const { timeId } of pending.slice(start)) this.seen.delete(timeId);
        throw error;
      }
      const last = batch.at(-1)!.timeId;
      if (!this.state.checkpoint || last > this.state.checkpoint) this.state.checkpoint = last;
      writeState(this.options.stateFile, this.state);
    }
    this.forgetBefore(this.rereadFrom());
  }

  /** Items not delivered yet, in time order, as stream records. */
  private async readNew(): Promise<PendingRecord[]> {
    const from = this.rereadFrom() ?? (await this.earliestTimeId());
    if (!from) return [];
    const { name, partitionKey, sortKey } = EVENTS_TABLE.timeIndex;
    const today = new Date().toISOString().slice(0, 10);
    const found: PendingRecord[] = [];
    for (let day = from.slice(0, 10); day <= today; day = nextDay(day)) {
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await this.options.client.send(
          new QueryCommand({
            TableName: this.options.table,
            IndexName: name,
            KeyConditionExpression: '#day = :day AND #timeId >= :from',
            ExpressionAttributeNames: { '#day': partitionKey, '#timeId': sortKey },
            ExpressionAttributeValues: { ':day': { S: day }, ':from': { S: from } },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) {
          const timeId = item[sortKey]?.S;
          if (!timeId || this.seen.has(timeId)) continue;
          found.push(this.toRecord(item, timeId));
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return found;
  }

  /** The first read of a table with no checkpoint starts at its oldest item. */
  private async earliestTimeId(): Promise<string | undefined> {
    let earliest: string | undefined;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.options.client.send(
        new ScanCommand({
          TableName: this.options.table,
          IndexName: EVENTS_TABLE.timeIndex.name,
          ProjectionExpression: '#timeId',
          ExpressionAttributeNames: { '#timeId': EVENTS_TABLE.timeIndex.sortKey },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const timeId = item[EVENTS_TABLE.timeIndex.sortKey]?.S;
        if (timeId && (!earliest || timeId < earliest)) earliest = timeId;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return earliest;
  }

  private rereadFrom(): string | undefined {
    const checkpoint = this.state.checkpoint;
    if (!checkpoint) return undefined;
    const time = Date.parse(checkpoint.slice(0, checkpoint.indexOf('#')));
    return new Date(time - (this.options.rereadMarginMs ?? 60_000)).toISOString();
  }

  private forgetBefore(from: string | undefined): void {
    if (!from) return;
    for (const timeId of this.seen) if (timeId < from) this.seen.delete(timeId);
  }

  private toRecord(item: Record<string, AttributeValue>, timeId: string): PendingRecord {
    this.state.sequence += 1;
    // The put follows the event's time within milliseconds; the stream would say when the put happened.
    const createdAtMs = Date.parse(timeId.slice(0, timeId.indexOf('#')));
    const keys = {
      [EVENTS_TABLE.partitionKey]: item[EVENTS_TABLE.partitionKey]!,
      [EVENTS_TABLE.sortKey]: item[EVENTS_TABLE.sortKey]!,
    };
    const record: DynamoDBRecord = {
      eventID: randomUUID().replaceAll('-', ''),
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(createdAtMs / 1000),
        Keys: keys as NonNullable<DynamoDBRecord['dynamodb']>['Keys'],
        NewImage: item as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
        SequenceNumber: String(this.state.sequence).padStart(21, '0'),
        SizeBytes: JSON.stringify(item).length,
        StreamViewType: 'NEW_IMAGE',
      },
      eventSourceARN: this.streamArn,
    };
    return { record, timeId, createdAtMs };
  }

  /** One batch through the mapping's retry rules: resolves when it is delivered or dead-lettered. */
  private async deliver(batch: PendingRecord[]): Promise<void> {
    const work: { records: PendingRecord[]; attempts: number }[] = [{ records: batch, attempts: 0 }];
    while (work.length > 0) {
      const { records, attempts } = work.shift()!;
      if (Date.now() - records[0]!.createdAtMs > this.settings.maxRecordAgeMs) {
        this.deadLetter(records, attempts, 'RecordAgeExceeded');
        continue;
      }
      const outcome = await this.invoke(records);
      if (outcome.ok) {
        this.stats.delivered += records.length;
        continue;
      }
      if ('error' in outcome && this.settings.bisectBatchOnFunctionError && records.length > 1) {
        // Splitting does not count as a retry (Lambda's bisect on function error).
        const half = Math.ceil(records.length / 2);
        work.unshift({ records: records.slice(0, half), attempts }, { records: records.slice(half), attempts });
        continue;
      }
      const retry = 'retryFrom' in outcome ? records.slice(outcome.retryFrom) : records;
      this.stats.delivered += records.length - retry.length;
      if (attempts >= this.settings.maxRetryAttempts) {
        this.deadLetter(retry, attempts, 'RetryAttemptsExhausted');
        continue;
      }
      const backoff = Math.min(this.settings.initialBackoffMs * 2 ** attempts, this.settings.maxBackoffMs);
      await sleep(backoff, undefined, { signal: this.stopping.signal });
      work.unshift({ records: retry, attempts: attempts + 1 });
    }
  }

  private async invoke(records: PendingRecord[]): Promise<Invocation> {
    this.stats.invocations += 1;
    let response: DynamoDBBatchResponse | void;
    try {
      response = await this.options.handler({ Records: records.map((pending) => pending.record) });
    } catch {
      return { ok: false, error: true };
    }
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) return { ok: true };
    // The lowest failed sequence number is the checkpoint; an identifier not in the batch fails it as a whole.
    const positions = failures.map((failure) =>
      records.findIndex((pending) => pending.record.dynamodb?.SequenceNumber === failure.itemIdentifier),
    );
    if (positions.some((position) => position < 0)) return { ok: false, error: true };
    return { ok: false, retryFrom: Math.min(...positions) };
  }

  /** The on-failure record Lambda sends to the SQS destination, appended to the dead-letter file. */
  private deadLetter(records: PendingRecord[], attempts: number, condition: string): void {
    const first = records[0]!;
    const last = records.at(-1)!;
    const failure: StreamFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:gatehouse-local-audit-archive',
        condition,
        approximateInvokeCount: attempts + 1,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: SHARD_ID,
        startSequenceNumber: first.record.dynamodb!.SequenceNumber!,
        endSequenceNumber: last.record.dynamodb!.SequenceNumber!,
        approximateArrivalOfFirstRecord: new Date(first.createdAtMs).toISOString(),
        approximateArrivalOfLastRecord: new Date(last.createdAtMs).toISOString(),
        batchSize: records.length,
        streamArn: this.streamArn,
      },
    };
    this.options.deadLetters.send(failure);
    this.stats.deadLettered += records.length;
  }
}

function readState(file: string | undefined): StreamState {
  if (!file || !existsSync(file)) return { sequence: 0 };
  return JSON.parse(readFileSync(file, 'utf8')) as StreamState;
}

function writeState(file: string | undefined, state: StreamState): void {
  if (!file) return;
  // Written aside and renamed, so a crash leaves the old checkpoint or the new one, never half of one.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
}

function definedOnly(options: Partial<StreamMappingSettings>): Partial<StreamMappingSettings> {
  return Object.fromEntries(
    Object.entries(options).filter(([key, value]) => value !== undefined && key in DEFAULT_STREAM_MAPPING),
  ) as Partial<StreamMappingSettings>;
}

/** The local runtime's archiving, as `LocalRuntime.archive` exposes it. */
export interface LocalArchiving {
  stream: LocalEventStream;
  deadLetters: LocalDeadLetters;
  /** Resolves once every event in the table is archived or dead-lettered. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** The audit-archive handler on the events table's stream, writing to `archive` (the embedded s3rver). */
export async function startLocalArchiving(options: {
  dynamo: EmbeddedDynamo;
  archive: ArchiveStore;
  dataDir: string;
  /** Keep the checkpoint in the data directory (a table on disk); an in-memory table starts over each time. */
  persistent: boolean;
  settings?: Partial<StreamMappingSettings> & Pick<LocalEventStreamOptions, 'pollIntervalMs' | 'rereadMarginMs'>;
}): Promise<LocalArchiving> {
  const { handler } = await import('../functions/audit-archive.ts');
  useArchiveRuntime({ archive: options.archive, clock: systemClock, ids: ulidIds });
  const deadLetters = new LocalDeadLetters(join(options.dataDir, LOCAL_DEAD_LETTER_FILE));
  const stream = new LocalEventStream({
    ...options.settings,
    client: options.dynamo.client,
    table: options.dynamo.tables.events,
    handler: async (event) => handler(event, lambdaContext('audit-archive'), { signal: new AbortController().signal }),
    deadLetters,
    ...(options.persistent ? { stateFile: join(options.dataDir, STREAM_STATE_FILE) } : {}),
  }).start();
  return {
    stream,
    deadLetters,
    flush: () => stream.flush(),
    stop: async () => {
      await stream.stop();
      useArchiveRuntime(undefined);
    },
  };
}
