/**
 * Redrive of the archiver's dead letters. When the stream's retries run out, Lambda sends an on-failure record that
 * names the batch (shard, sequence numbers, arrival times of its first and last records) but not its records, and the
 * stream keeps records for 24 hours only. So the redrive re-reads the batch's time window from DynamoDB, the source of
 * truth, archives it all (what was archived costs a HEAD), and deletes the message only once its window is archived.
 */
import * as z from 'zod';
import { repairArchive, type RepairDeps } from './archiver.ts';
import type { DeadLetter, DeadLetters } from './ports.ts';

/** Margin around a batch's arrival times: an event's `time` is taken just before its put, and clocks differ a little. */
export const REDRIVE_MARGIN_MS = 5 * 60_000;

/** What Lambda's on-failure record for a DynamoDB stream says of the failed batch. */
export const StreamBatchInfoSchema = z.object({
  shardId: z.string(),
  startSequenceNumber: z.string(),
  endSequenceNumber: z.string(),
  approximateArrivalOfFirstRecord: z.iso.datetime({ offset: true }),
  approximateArrivalOfLastRecord: z.iso.datetime({ offset: true }),
  batchSize: z.number().int().nonnegative(),
  streamArn: z.string(),
});
export type StreamBatchInfo = z.infer<typeof StreamBatchInfoSchema>;

/** Lambda's on-failure invocation record for a stream batch (the dead-letter message body). */
export const StreamFailureRecordSchema = z.looseObject({
  requestContext: z.looseObject({ condition: z.string(), approximateInvokeCount: z.number() }).optional(),
  timestamp: z.string().optional(),
  DDBStreamBatchInfo: StreamBatchInfoSchema,
});
export type StreamFailureRecord = z.infer<typeof StreamFailureRecordSchema>;

/** The time range of events a failed batch can hold. */
export function redriveWindow(batch: StreamBatchInfo): { from: Date; to: Date } {
  return {
    from: new Date(Date.parse(batch.approximateArrivalOfFirstRecord) - REDRIVE_MARGIN_MS),
    to: new Date(Date.parse(batch.approximateArrivalOfLastRecord) + REDRIVE_MARGIN_MS),
  };
}

export type RedriveOutcome =
  | { id: string; status: 'redriven'; from: string; to: string; checked: number; written: number }
  | { id: string; status: 'failed'; reason: string };

/**
 * Empties the dead-letter queue back into the archive: each message's window repaired, then the message deleted. A
 * message whose window could not be archived, or that is not an on-failure record, stays for the next redrive.
 */
export async function redriveDeadLetters(deps: RepairDeps & { letters: DeadLetters }): Promise<RedriveOutcome[]> {
  const outcomes: RedriveOutcome[] = [];
  const seen = new Set<string>();
  for (;;) {
    // A message that failed comes back once its visibility timeout ends: seen twice means the queue has been gone through.
    const fresh = (await deps.letters.receive()).filter((letter) => !seen.has(letter.id));
    if (fresh.length === 0) return outcomes;
    for (const letter of fresh) {
      seen.add(letter.id);
      outcomes.push(await redriveOne(letter, deps));
    }
  }
}

async function redriveOne(letter: DeadLetter, deps: RepairDeps & { letters: DeadLetters }): Promise<RedriveOutcome> {
  let record: StreamFailureRecord;
  try {
    record = StreamFailureRecordSchema.parse(JSON.parse(letter.body));
  } catch {
    return { id: letter.id, status: 'failed', reason: 'not a DynamoDB stream on-failure record' };
  }
  const window = redriveWindow(record.DDBStreamBatchInfo);
  try {
    const { checked, written } = await repairArchive(window, deps);
    await deps.letters.delete(letter);
    return {
      id: letter.id,
      status: 'redriven',
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      checked,
      written,
    };
  } catch (error) {
    return { id: letter.id, status: 'failed', reason: error instanceof Error ? error.message : String(error) };
  }
}
