/**
 * Scheduled daily (EventBridge): checks the previous UTC day's evidence — every event of the events table archived
 * with its exact bytes and every archived event still in the table (checkCompleteness), every archived object listed
 * in a signed digest, the digests' signatures and links, the streams' chains — and emits the count as `ArchiveGaps`,
 * which alarms at 1 or more. Each gap is logged by its kind and location (keys, stream, seq, event id), never content.
 * After an alarm: redrive the dead-letter queue, then `gatehouse audit verify` for the day.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { DAY_MS, startOfUtcDay } from '#shared/evidence/archive-layout.ts';
import { readArchiveEvidence } from '#shared/evidence/evidence-reader.ts';
import { verifyEvidence, type EvidenceSummary } from '#shared/evidence/verifier.ts';
import { getArchiveRuntime } from './lib/archive-runtime.ts';
import { logger, metrics, tracer } from './lib/observability.ts';

let dynamodb: DynamoDBClient | undefined;

export const handler = middy<unknown, { day: string; gaps: number; summary: EvidenceSummary }, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer))
  .use(logMetrics(metrics))
  .handler(async () => {
    const table = process.env.EVENTS_TABLE;
    if (!table) throw new Error('environment variable EVENTS_TABLE is not set');
    dynamodb ??= tracer.captureAWSv3Client(new DynamoDBClient({}));
    const { archive, clock } = getArchiveRuntime();
    const now = clock.now();
    const to = startOfUtcDay(now);
    const from = new Date(to.getTime() - DAY_MS);
    const input = await readArchiveEvidence({
      store: archive,
      events: new DynamoDbChainStore(dynamodb, table),
      range: { from, to },
      now,
    });
    const { summary, problems } = verifyEvidence(input);
    metrics.addMetric('ArchiveGaps', 'Count', problems.length);
    for (const gap of problems) logger.error('archive gap', { kind: gap.kind, location: gap.location });
    const day = from.toISOString().slice(0, 10);
    logger.info('archive reconciled', { day, gaps: problems.length, summary });
    return { day, gaps: problems.length, summary };
  });
