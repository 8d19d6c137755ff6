import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ChainConflictError } from '../../audit/audit-log.ts';
import type { ChainStore } from '../../audit/audit-log.ts';
import type { ChainHead } from '../../audit/chain.ts';
import type { AuditEvent } from '../../audit/event.ts';
import { DAY_MS, startOfUtcDay } from '../../evidence/archive-layout.ts';
import type { EventPosition } from '../../evidence/ports.ts';
import { EVENTS_TABLE, StoreError, documentClient, isConditionalCheckFailed, timeIndexKeys } from './tables.ts';

/** Attributes an item carries beside the event itself: the table's keys and the `byTime` index keys. */
const KEY_ATTRIBUTES = [
  EVENTS_TABLE.partitionKey,
  EVENTS_TABLE.sortKey,
  EVENTS_TABLE.timeIndex.partitionKey,
  EVENTS_TABLE.timeIndex.sortKey,
] as const;

/**
 * Audit chains in the events table: one item per event, keyed by stream and seq. The put is conditional on the seq
 * being free, so two writers can never both store a seq — a fork cannot be written, only lost and retried.
 */
export class DynamoDbChainStore implements ChainStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async head(stream: string): Promise<ChainHead | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const result = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#stream = :stream',
          ExpressionAttributeNames: {
            '#stream': EVENTS_TABLE.partitionKey,
            '#seq': EVENTS_TABLE.sortKey,
            '#chain': 'chain',
          },
          ExpressionAttributeValues: { ':stream': stream },
          ProjectionExpression: '#seq, #chain',
          ScanIndexForward: false,
          Limit: 1,
          // The head must be the latest write, or the next put conflicts needlessly (or, worse, chains to a stale link).
          ConsistentRead: true,
        }),
      );
      item = result.Items?.[0];
    } catch (error) {
      throw new StoreError(`the head of audit stream ${stream} could not be read`, { cause: error });
    }
    if (!item) return undefined;
    const chain = item.chain as { hash?: unknown } | undefined;
    if (typeof item.seq !== 'number' || typeof chain?.hash !== 'string') {
      throw new StoreError(`the head of audit stream ${stream} is malformed`);
    }
    return { seq: item.seq, hash: chain.hash };
  }

  async put(event: AuditEvent): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...event,
            [EVENTS_TABLE.partitionKey]: event.chain.stream,
            [EVENTS_TABLE.sortKey]: event.chain.seq,
            ...timeIndexKeys(event),
          },
          ConditionExpression: 'attribute_not_exists(#seq)',
          ExpressionAttributeNames: { '#seq': EVENTS_TABLE.sortKey },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new ChainConflictError(event.chain.stream, event.chain.seq);
      throw new StoreError(`audit event seq ${event.chain.seq} of stream ${event.chain.stream} could not be stored`, {
        cause: error,
      });
    }
  }

  /** Every event of a stream in seq order, read consistently, as they were appended (key attributes removed). */
  async queryEvents(stream: string): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    let start: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#stream = :stream',
            ExpressionAttributeNames: { '#stream': EVENTS_TABLE.partitionKey },
            ExpressionAttributeValues: { ':stream': stream },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) events.push(toEvent(item));
        start = page.LastEvaluatedKey;
      } while (start);
    } catch (error) {
      throw new StoreError(`audit stream ${stream} could not be read`, { cause: error });
    }
    return events;
  }

  /**
   * The events of one UTC day (`YYYY-MM-DD`) in time order, from the `byTime` index, optionally from `fromTime` on
   * (inclusive, an ISO-8601 UTC time as events carry). The index is eventually consistent: the newest writes may lag.
   */
  async queryDay(day: string, fromTime?: string): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    for await (const event of this.dayEvents(day, fromTime ? { op: '>=', timeId: fromTime } : undefined)) {
      events.push(event);
    }
    return events;
  }

  /**
   * The events with `from <= time < to` after `after` (when given), in (time, id) order: read lazily, one index page
   * at a time, so a caller that stops early reads little more than it used.
   */
  async *eventsBetween(from: Date, to: Date, after?: EventPosition): AsyncIterable<AuditEvent> {
    const fromTime = from.toISOString();
    const lower =
      after && after.time >= fromTime
        ? { op: '>' as const, timeId: timeIndexKeys(after).timeId, time: after.time }
        : { op: '>=' as const, timeId: fromTime, time: fromTime };
    const toTime = to.toISOString();
    const firstDay = startOfUtcDay(new Date(lower.time));
    for (let day = firstDay; day < to; day = new Date(day.getTime() + DAY_MS)) {
      for await (const event of this.dayEvents(day.toISOString().slice(0, 10), day === firstDay ? lower : undefined)) {
        if (event.time >= toTime) return;
        yield event;
      }
    }
  }

  /** One day's partition of the `byTime` index, page by page, optionally bounded below by a sort key. */
  private async *dayEvents(day: string, bound?: { op: '>=' | '>'; timeId: string }): AsyncIterable<AuditEvent> {
    const { name, partitionKey, sortKey } = EVENTS_TABLE.timeIndex;
    let start: Record<string, unknown> | undefined;
    do {
      let page;
      try {
        page = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: name,
            KeyConditionExpression: bound ? `#day = :day AND #timeId ${bound.op} :bound` : '#day = :day',
            ExpressionAttributeNames: { '#day': partitionKey, ...(bound ? { '#timeId': sortKey } : {}) },
            ExpressionAttributeValues: { ':day': day, ...(bound ? { ':bound': bound.timeId } : {}) },
            ExclusiveStartKey: start,
          }),
        );
      } catch (error) {
        throw new StoreError(`audit events of ${day} could not be read`, { cause: error });
      }
      for (const item of page.Items ?? []) yield toEvent(item);
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /**
   * The events with `from <= time < to` in time order, read day by day from the `byTime` index (eventually consistent:
   * the newest writes may lag).
   */
  async queryRange(from: Date, to: Date): Promise<AuditEvent[]> {
    const fromTime = from.toISOString();
    const toTime = to.toISOString();
    const events: AuditEvent[] = [];
    const firstDay = startOfUtcDay(from);
    for (let day = firstDay; day < to; day = new Date(day.getTime() + DAY_MS)) {
      const dayEvents = await this.queryDay(day.toISOString().slice(0, 10), day === firstDay ? fromTime : undefined);
      for (const event of dayEvents) if (event.time < toTime) events.push(event);
    }
    return events;
  }
}

/** An event as it was appended: the item without the table's and the index's key attributes. */
export function toEvent(item: Record<string, unknown>): AuditEvent {
  const event = { ...item };
  for (const attribute of KEY_ATTRIBUTES) delete event[attribute];
  return event as unknown as AuditEvent;
}
