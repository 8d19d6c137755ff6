/**
 * On the events table's DynamoDB stream (NEW_IMAGE): archives each inserted event to the audit bucket with a manifest
 * per batch (shared/evidence/archiver.ts). Events are append-only, so a MODIFY or REMOVE record is a tamper signal:
 * logged by its keys and counted (AuditItemChanged), never archived. Reports partial failures with the first failed
 * record's sequence number; the event source mapping retries from it with backoff, bisects on error, and sends what
 * still fails to its SQS on-failure destination, which `gatehouse audit redrive` empties back into the archive.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { toEvent } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { EVENTS_TABLE } from '#shared/adapters/aws/tables.ts';
import type { AuditEvent } from '#shared/audit/event.ts';
import { archiveEvents } from '#shared/evidence/archiver.ts';
import { getArchiveRuntime } from './lib/archive-runtime.ts';
import { logger, metrics, tracer } from './lib/observability.ts';

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const records = event.Records ?? [];
    metrics.addMetric('ArchiveRecords', 'Count', records.length);
    const failed = new Set<number>();
    const inserts: { position: number; event: AuditEvent }[] = [];
    records.forEach((record, position) => {
      if (record.eventName === 'INSERT') {
        try {
          inserts.push({ position, event: insertedEvent(record) });
        } catch {
          failed.add(position); // retried, then sent to the dead-letter queue: an unreadable record is never skipped
        }
      } else {
        logger.warn('audit event item changed: events are append-only', { change: itemChange(record) });
        metrics.addMetric('AuditItemChanged', 'Count', 1);
      }
    });

    const result = await archiveEvents(
      inserts.map((insert) => insert.event),
      getArchiveRuntime(),
    );
    for (const failure of result.failures) failed.add(inserts[failure.index]!.position);
    metrics.addMetric('AuditEventsArchived', 'Count', result.written);
    metrics.addMetric('ArchiveFailures', 'Count', failed.size);
    if (failed.size === 0) return { batchItemFailures: [] };

    // Lambda retries from the first failed record on: the records after it come again whatever they did.
    const first = records[Math.min(...failed)]!;
    logger.error('audit events could not be archived', {
      failed: failed.size,
      records: records.length,
      reason: result.failures[0]?.message ?? 'an inserted record without a readable NewImage',
    });
    // Without a sequence number, an empty identifier makes Lambda retry the whole batch (a complete failure).
    return { batchItemFailures: [{ itemIdentifier: first.dynamodb?.SequenceNumber ?? '' }] };
  });

function insertedEvent(record: DynamoDBRecord): AuditEvent {
  const image = record.dynamodb?.NewImage;
  if (!image) throw new TypeError('an INSERT record without NewImage (the stream view must be NEW_IMAGE)');
  return toEvent(unmarshall(image as Record<string, AttributeValue>));
}

/** What a changed item's record may say in a log: the item's audit stream and seq, and the record's place. */
function itemChange(record: DynamoDBRecord) {
  const keys = record.dynamodb?.Keys;
  return {
    eventName: record.eventName,
    stream: keys?.[EVENTS_TABLE.partitionKey]?.S,
    seq: keys?.[EVENTS_TABLE.sortKey]?.N,
    sequenceNumber: record.dynamodb?.SequenceNumber,
  };
}
