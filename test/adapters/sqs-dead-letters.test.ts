import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqsDeadLetters, REDRIVE_VISIBILITY_TIMEOUT_SECONDS } from '../../shared/adapters/aws/sqs-dead-letters.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { archiveObjectKey } from '../../shared/evidence/archive-layout.ts';
import { redriveCommand } from '../../cli/commands/audit-redrive.ts';
import { LOCAL_AWS_CREDENTIALS } from '../../local/embedded-stores.ts';
import {
  appendEvents,
  archiveDifferences,
  manifestListings,
  startArchiveFixture,
  type ArchiveFixture,
} from '../support/archive.ts';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/gatehouse-archive-dlq';
const sqs = mockClient(SQSClient);

/** Lambda's on-failure record for a batch whose records arrived between `first` and `last`. */
function failureRecord(first: string, last: string, batchSize: number): string {
  return JSON.stringify({
    requestContext: {
      requestId: 'r-1',
      functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:archive',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 11,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: new Date().toISOString(),
    DDBStreamBatchInfo: {
      shardId: 'shardId-00000001573689847184-864758bb',
      startSequenceNumber: '800000000003126276362',
      endSequenceNumber: '800000000003126276363',
      approximateArrivalOfFirstRecord: first,
      approximateArrivalOfLastRecord: last,
      batchSize,
      streamArn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/events/stream/2026-01-01T00:00:00.000',
    },
  });
}

describe('SqsDeadLetters', () => {
  afterEach(() => sqs.reset());

  it('receives with a long poll and a visibility timeout long enough for a repair, and deletes by receipt handle', async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [{ MessageId: 'm-1', ReceiptHandle: 'rh-1', Body: '{}' }] });
    sqs.on(DeleteMessageCommand).resolves({});
    const letters = new SqsDeadLetters(new SQSClient({ region: 'eu-west-1' }), QUEUE_URL);

    const received = await letters.receive();
    await letters.delete(received[0]!);

    expect(received).toEqual([{ id: 'm-1', receipt: 'rh-1', body: '{}' }]);
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 2,
      VisibilityTimeout: REDRIVE_VISIBILITY_TIMEOUT_SECONDS,
    });
    expect(sqs.commandCalls(DeleteMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      ReceiptHandle: 'rh-1',
    });
  });

  it('turns an SQS failure into a StoreError that names no message content', async () => {
    sqs.on(ReceiveMessageCommand).rejects(new Error('AccessDenied for arn:aws:iam::111122223333:role/x'));
    const letters = new SqsDeadLetters(new SQSClient({ region: 'eu-west-1' }), QUEUE_URL);

    await expect(letters.receive()).rejects.toMatchObject({
      name: 'StoreError',
      message: 'the dead-letter queue could not be read',
    });
  });
});

describe('gatehouse audit redrive --queue-url (SQS on aws-sdk-client-mock, dynalite, s3rver)', () => {
  let fixture: ArchiveFixture;
  let events: AuditEvent[];
  const output: string[] = [];

  beforeAll(async () => {
    fixture = await startArchiveFixture();
    events = await appendEvents(fixture, 6);
  });

  afterAll(async () => {
    await fixture.stop();
  });

  afterEach(() => {
    sqs.reset();
    output.length = 0;
  });

  const run = (endpoint = fixture.s3.endpoint) =>
    redriveCommand({
      stdout: (text) => output.push(text),
      awsClients: () => ({
        sqs: new SQSClient({ region: 'eu-west-1' }),
        dynamodb: new DynamoDBClient({
          endpoint: fixture.dynamo.endpoint,
          region: 'us-east-1',
          credentials: LOCAL_AWS_CREDENTIALS,
        }),
        s3: new S3Client({
          endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: LOCAL_AWS_CREDENTIALS,
          maxAttempts: 1,
        }),
      }),
    }).parseAsync(['--queue-url', QUEUE_URL, '--table', fixture.dynamo.names.events, '--bucket', fixture.s3.bucket], {
      from: 'user',
    });

  it('keeps the message when its window cannot be archived', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'm-1', ReceiptHandle: 'rh-1', Body: failureRecord(events[0]!.time, events[5]!.time, 6) },
        ],
      })
      .resolves({});

    // Nothing listens on port 9: every archive write fails.
    await expect(run('http://127.0.0.1:9')).rejects.toMatchObject({ name: 'CommandFailedError' });

    expect(sqs.commandCalls(DeleteMessageCommand)).toEqual([]);
    expect(output.join('')).toContain('not redriven m-1: 6 of 6 events could not be archived');
  });

  it("archives every event of the message's window, then deletes the message", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'm-2', ReceiptHandle: 'rh-2', Body: failureRecord(events[2]!.time, events[3]!.time, 2) },
        ],
      })
      .resolves({});
    sqs.on(DeleteMessageCommand).resolves({});

    await run();

    expect(await archiveDifferences(fixture, events)).toEqual([]);
    const listed = await manifestListings(fixture);
    expect(events.every((event) => listed.get(archiveObjectKey(event)) === 1)).toBe(true);
    expect(sqs.commandCalls(DeleteMessageCommand).map((call) => call.args[0].input)).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-2' },
    ]);
    expect(output.join('')).toMatch(/^redriven m-2: .+, 6 events checked, 6 written\n1 of 1 dead letters redriven\n$/);
  });

  it('refuses a half-given AWS target as bad usage', async () => {
    await expect(
      redriveCommand({ stdout: () => undefined }).parseAsync(['--queue-url', QUEUE_URL], { from: 'user' }),
    ).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('missing --table, --bucket') });
  });
});
