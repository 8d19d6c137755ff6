/**
 * The archiver (DESIGN.md section 2.5): copies events into the object-locked audit bucket, one object per event, and
 * records each batch in a manifest the hourly digest is built from. An event counts as archived only when its object is
 * present AND a manifest lists it, so a batch whose manifest could not be written fails as a whole and is retried: a
 * retry finds the objects already there (a HEAD each) and lists them in its own manifest.
 */
import { canonicalJson } from '../audit/chain.ts';
import type { AuditEvent } from '../audit/event.ts';
import type { Clock, Ids } from '../ports.ts';
import {
  archiveObjectBody,
  archivedObjectEntry,
  manifestKey,
  sha256Hex,
  type ArchiveManifest,
  type ArchivedObjectEntry,
} from './archive-layout.ts';
import type { ArchiveStore, AuditEventRange } from './ports.ts';

/** Objects written at once by one batch: S3 takes far more, a Lambda's sockets (50 by default) do not. */
export const DEFAULT_ARCHIVE_CONCURRENCY = 16;
/** Events archived per batch (and manifest) when repairing a range: the stream's batch size. */
export const DEFAULT_REPAIR_BATCH_SIZE = 100;

export interface ArchiverDeps {
  archive: ArchiveStore;
  clock: Clock;
  /** Names manifests (one ULID per batch). */
  ids: Ids;
  concurrency?: number;
}

/** An event the batch could not archive, by its index in the batch. */
export interface ArchiveFailure {
  index: number;
  eventId: string;
  /** Safe to log: names keys, never content. */
  message: string;
}

export interface ArchiveBatchResult {
  /** Objects this batch wrote. */
  written: number;
  /** Objects that were already there (a replay, or a retry after a lost manifest). */
  existing: number;
  /** The manifest written, when any event was archived. */
  manifestKey?: string;
  failures: ArchiveFailure[];
}

/**
 * Archives a batch: every event's object written unless present (at most `concurrency` at a time), then one manifest
 * listing every event whose object is now present. Never throws for a store failure: failed events are reported, and
 * when the manifest cannot be written every event of the batch is.
 */
export async function archiveEvents(events: readonly AuditEvent[], deps: ArchiverDeps): Promise<ArchiveBatchResult> {
  const failures: ArchiveFailure[] = [];
  const archived = new Map<string, ArchivedObjectEntry>();
  let written = 0;
  let existing = 0;
  await forEachLimited(events, deps.concurrency ?? DEFAULT_ARCHIVE_CONCURRENCY, async (event, index) => {
    try {
      const entry = archivedObjectEntry(event);
      const outcome = await deps.archive.putIfAbsent(entry.key, archiveObjectBody(event), entry.sha256);
      if (outcome === 'written') written += 1;
      else existing += 1;
      archived.set(entry.key, entry);
    } catch (error) {
      failures.push({ index, eventId: String(event.id), message: errorMessage(error) });
    }
  });
  if (archived.size === 0) return { written, existing, failures: sortByIndex(failures) };

  const now = deps.clock.now();
  const batchId = deps.ids.next();
  const key = manifestKey(now, batchId);
  const manifest: ArchiveManifest = {
    schema: 'gatehouse.manifest/v1',
    batchId,
    writtenAt: now.toISOString(),
    objects: [...archived.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
  const body = Buffer.from(`${canonicalJson(manifest)}\n`, 'utf8');
  try {
    await deps.archive.putIfAbsent(key, body, sha256Hex(body));
  } catch (error) {
    // Unlisted objects are not archived yet: the whole batch goes back to be retried (objects then cost a HEAD).
    const message = `manifest ${key} could not be written: ${errorMessage(error)}`;
    const failed = new Set(failures.map((failure) => failure.index));
    events.forEach((event, index) => {
      if (!failed.has(index)) failures.push({ index, eventId: String(event.id), message });
    });
    return { written, existing, failures: sortByIndex(failures) };
  }
  return { written, existing, manifestKey: key, failures: sortByIndex(failures) };
}

/** Some events of a repaired range could not be archived; the range should be repaired again. */
export class ArchiveIncompleteError extends Error {
  override name = 'ArchiveIncompleteError';
  constructor(
    readonly failed: number,
    readonly checked: number,
    readonly firstFailure: string,
  ) {
    super(`${failed} of ${checked} events could not be archived (first: ${firstFailure})`);
  }
}

export interface RepairDeps extends ArchiverDeps {
  events: AuditEventRange;
  batchSize?: number;
}

/**
 * Archives every event with `from <= time < to` as read from the source of truth, in batches with a manifest each:
 * what the stream delivered costs a HEAD, what it lost is written. Throws ArchiveIncompleteError, after trying every
 * batch, when any event could not be archived.
 */
export async function repairArchive(
  range: { from: Date; to: Date },
  deps: RepairDeps,
): Promise<{ checked: number; written: number }> {
  const events = await deps.events.queryRange(range.from, range.to);
  const batchSize = deps.batchSize ?? DEFAULT_REPAIR_BATCH_SIZE;
  let written = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  for (let start = 0; start < events.length; start += batchSize) {
    const result = await archiveEvents(events.slice(start, start + batchSize), deps);
    written += result.written;
    failed += result.failures.length;
    firstFailure ??= result.failures[0]?.message;
  }
  if (firstFailure !== undefined) throw new ArchiveIncompleteError(failed, events.length, firstFailure);
  return { checked: events.length, written };
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

function sortByIndex(failures: ArchiveFailure[]): ArchiveFailure[] {
  return failures.sort((a, b) => a.index - b.index);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
