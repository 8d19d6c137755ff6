import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDeadLetters } from '../../shared/adapters/local/local-dead-letters.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { StreamFailureRecordSchema } from '../../shared/evidence/archive-redrive.ts';
import { LocalEventStream, type LocalEventStreamOptions } from '../../local/event-stream.ts';
import { appendEvents, startArchiveFixture, type ArchiveFixture } from '../support/archive.ts';

type Handler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;

describe('the local events stream (the event source mapping on dynalite)', () => {
  let fixture: ArchiveFixture;
  let events: AuditEvent[];
  let file = 0;

  beforeAll(async () => {
    fixture = await startArchiveFixture();
    events = await appendEvents(fixture, 10, 2);
  });

  afterAll(async () => {
    await fixture.stop();
  });

  /** A stream over the fixture's table with a scripted handler that records every invocation's event ids. */
  function stream(handler: Handler, options: Partial<LocalEventStreamOptions> = {}) {
    file += 1;
    const deadLetters = new LocalDeadLetters(join(fixture.directory, `dead-letters-${file}.jsonl`));
    const invocations: string[][] = [];
    const local = new LocalEventStream({
      client: fixture.dynamo.client,
      table: fixture.dynamo.names.events,
      deadLetters,
      batchSize: 4,
      maxRetryAttempts: 2,
      initialBackoffMs: 1,
      maxBackoffMs: 4,
      handler: async (event) => {
        invocations.push(event.Records.map((record) => record.dynamodb!.NewImage!.id!.S!));
        return handler(event);
      },
      ...options,
    });
    const failureRecords = () =>
      deadLetters.pending().map((letter) => StreamFailureRecordSchema.parse(JSON.parse(letter.body)));
    return { local, invocations, deadLetters, failureRecords };
  }
  const ids = (from: number, to: number) => events.slice(from, to).map((event) => event.id);
  const sequenceOf = (event: DynamoDBStreamEvent, id: string) =>
    event.Records.find((record) => record.dynamodb!.NewImage!.id!.S === id)!.dynamodb!.SequenceNumber!;

  it('delivers every item once, in time order, in batches of the batch size, as INSERT records with NEW_IMAGE', async () => {
    const seen: DynamoDBStreamEvent[] = [];
    const { local, invocations } = stream(async (event) => {
      seen.push(event);
    });

    await local.flush();
    await local.flush();

    expect(invocations).toEqual([ids(0, 4), ids(4, 8), ids(8, 10)]);
    const record = seen[0]!.Records[0]!;
    expect(record.eventName).toBe('INSERT');
    expect(record.dynamodb!.StreamViewType).toBe('NEW_IMAGE');
    expect(record.dynamodb!.Keys).toEqual({
      stream: { S: events[0]!.chain.stream },
      seq: { N: String(events[0]!.chain.seq) },
    });
    expect(record.dynamodb!.NewImage!.chain!.M!.hash!.S).toBe(events[0]!.chain.hash);
    const sequenceNumbers = seen.flatMap((event) => event.Records.map((r) => BigInt(r.dynamodb!.SequenceNumber!)));
    expect(sequenceNumbers).toEqual([...sequenceNumbers].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('retries from the first failed record it was told of, after a backoff', async () => {
    let failuresLeft = 2;
    const { local, invocations, failureRecords } = stream(async (event) => {
      const id = events[5]!.id;
      if (failuresLeft > 0 && event.Records.some((record) => record.dynamodb!.NewImage!.id!.S === id)) {
        failuresLeft -= 1;
        return { batchItemFailures: [{ itemIdentifier: sequenceOf(event, id) }] };
      }
    });

    await local.flush();

    expect(invocations).toEqual([ids(0, 4), ids(4, 8), ids(5, 8), ids(5, 8), ids(8, 10)]);
    expect(failureRecords()).toEqual([]);
  });

  it('bisects a batch whose invocation fails until the failing record is alone, then dead-letters it', async () => {
    const poison = events[6]!.id;
    const { local, invocations, failureRecords } = stream(async (event) => {
      if (event.Records.some((record) => record.dynamodb!.NewImage!.id!.S === poison)) throw new Error('poison');
    });

    await local.flush();

    expect(invocations).toEqual([
      ids(0, 4),
      ids(4, 8),
      ids(4, 6),
      ids(6, 8),
      ids(6, 7),
      // the record alone: the first try and two retries
      ids(6, 7),
      ids(6, 7),
      ids(7, 8),
      ids(8, 10),
    ]);
    const [failure] = failureRecords();
    expect(failureRecords()).toHaveLength(1);
    expect(failure!.DDBStreamBatchInfo).toMatchObject({
      batchSize: 1,
      startSequenceNumber: failure!.DDBStreamBatchInfo.endSequenceNumber,
      approximateArrivalOfFirstRecord: events[6]!.time,
      approximateArrivalOfLastRecord: events[6]!.time,
    });
    expect(failure!.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 });
  });

  it('dead-letters what still fails after the last retry, and moves on', async () => {
    const { local, invocations, failureRecords } = stream(async (event) => {
      const id = events[2]!.id;
      if (event.Records.some((record) => record.dynamodb!.NewImage!.id!.S === id)) {
        return { batchItemFailures: [{ itemIdentifier: sequenceOf(event, id) }] };
      }
    });

    await local.flush();
    await local.flush();

    expect(invocations).toEqual([ids(0, 4), ids(2, 4), ids(2, 4), ids(4, 8), ids(8, 10)]);
    expect(failureRecords().map((record) => record.DDBStreamBatchInfo)).toEqual([
      expect.objectContaining({
        batchSize: 2,
        approximateArrivalOfFirstRecord: events[2]!.time,
        approximateArrivalOfLastRecord: events[3]!.time,
      }),
    ]);
  });

  it('resumes from its checkpoint after a restart, re-reading only the margin behind it', async () => {
    const stateFile = join(fixture.directory, 'stream-state.json');
    const first = stream(async () => undefined, { stateFile, rereadMarginMs: 0 });
    await first.local.flush();
    await first.local.stop();
    const more = await appendEvents(fixture, 2, 2);

    const second = stream(async () => undefined, { stateFile, rereadMarginMs: 0 });
    await second.local.flush();

    // The checkpoint's own item is read again (the margin starts at its time), nothing before it.
    expect(second.invocations.flat()).toEqual([events[9]!.id, ...more.map((event) => event.id)]);
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).checkpoint).toBe(`${more[1]!.time}#${more[1]!.id}`);
    await second.local.stop();
  });
});
