/**
 * Reads what `audit verify` checks from an archive bucket and (optionally) the events table: the range's event objects,
 * the digests of the hours that can list them, the published public keys and DynamoDB's events of the range. Pure:
 * the bucket and the table are ports.
 */
import {
  DAY_MS,
  DIGESTS_PREFIX,
  EVENTS_PREFIX,
  HOUR_MS,
  PUBLIC_KEYS_PREFIX,
  digestKey,
  hourStart,
  parseArchiveObjectKey,
  parseDigestKey,
  startOfUtcDay,
} from './archive-layout.ts';
import type { ArchiveStore, AuditEventRange } from './ports.ts';
import type { DigestTrust, EvidenceInput, StoredObject } from './verifier.ts';

export interface ArchiveEvidenceOptions {
  store: ArchiveStore;
  /** DynamoDB's side; without it only the archive is checked. */
  events?: AuditEventRange;
  /** `from <= time < to`; everything the archive holds when undefined. */
  range?: { from: Date; to: Date };
  now: Date;
  /** The trust anchor; without it, the keys published under digests/keys/. */
  pinnedPublicKey?: string;
  /** Parallel GETs. */
  concurrency?: number;
}

/** Everything `verifyEvidence` needs about a bucket's range. */
export async function readArchiveEvidence(options: ArchiveEvidenceOptions): Promise<EvidenceInput> {
  const { store, range, now } = options;
  const concurrency = options.concurrency ?? 32;

  const objectKeys: { key: string; lastModified: Date }[] = [];
  for (const prefix of eventPrefixes(range)) {
    for await (const listed of store.list(prefix)) {
      const parsed = parseArchiveObjectKey(listed.key);
      if (range && parsed && !hourInRange(new Date(`${parsed.day}T${parsed.hour}:00:00.000Z`), range)) continue;
      objectKeys.push(listed);
    }
  }
  const fetched = await mapLimit(objectKeys, concurrency, async ({ key, lastModified }) => {
    const bytes = await store.get(key);
    return bytes ? { key, bytes, writtenAt: lastModified } : undefined;
  });
  const objects = fetched.filter((object): object is StoredObject & { writtenAt: Date } => {
    if (!object) return false;
    if (!range) return true;
    const time = eventTime(object.bytes);
    // An object that does not parse stays: the verifier names it.
    return time === undefined || (time >= range.from && time < range.to);
  });

  const digestHours: Date[] = [];
  for await (const { key } of store.list(DIGESTS_PREFIX)) {
    if (key.startsWith(PUBLIC_KEYS_PREFIX)) continue;
    const hour = parseDigestKey(key);
    if (hour) digestHours.push(hour);
  }
  const currentHourEnd = hourStart(now).getTime() + HOUR_MS;
  let earliest = currentHourEnd - HOUR_MS;
  for (const hour of digestHours) earliest = Math.min(earliest, hour.getTime());
  // An object is listed in the digest of the hour it was written in, or the next one when its manifest crossed the hour.
  let latestWrite = 0;
  for (const { writtenAt } of objects) {
    earliest = Math.min(earliest, writtenAt.getTime());
    latestWrite = Math.max(latestWrite, hourStart(writtenAt).getTime() + 2 * HOUR_MS);
  }
  const from = range ? hourStart(range.from).getTime() : hourStart(new Date(earliest)).getTime();
  const to = range
    ? Math.min(currentHourEnd, Math.max(hourStart(new Date(range.to.getTime() - 1)).getTime() + HOUR_MS, latestWrite))
    : currentHourEnd;
  const wanted = digestHours.filter((hour) => hour.getTime() >= from - HOUR_MS && hour.getTime() < to);
  const digests = (
    await mapLimit(wanted, concurrency, async (hour) => {
      const key = digestKey(hour);
      const bytes = await store.get(key);
      return bytes ? { key, bytes } : undefined;
    })
  ).filter((digest): digest is StoredObject => digest !== undefined);

  const trust: DigestTrust = options.pinnedPublicKey
    ? { pinned: options.pinnedPublicKey }
    : { published: await publishedKeys(store) };

  const dynamoRange = range ?? { from: startOfUtcDay(new Date(earliest)), to: now };
  const dynamoEvents = options.events ? await options.events.queryRange(dynamoRange.from, dynamoRange.to) : undefined;

  return {
    ...(range ? { range } : {}),
    digestHours: { from: new Date(from), to: new Date(to) },
    digests,
    objects,
    order: 'key',
    ...(dynamoEvents ? { dynamoEvents } : {}),
    trust,
    now,
  };
}

/** The published public keys, by the name they are published under (the verifier checks it is their SHA-256). */
async function publishedKeys(store: ArchiveStore): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for await (const { key } of store.list(PUBLIC_KEYS_PREFIX)) {
    const match = /^digests\/keys\/([0-9a-f]{64})\.pem$/.exec(key);
    const bytes = match && (await store.get(key));
    if (match && bytes) keys.set(match[1]!, Buffer.from(bytes).toString('utf8'));
  }
  return keys;
}

/** The listing prefixes that hold a range's event objects: one per UTC day, or all events. */
function eventPrefixes(range: { from: Date; to: Date } | undefined): string[] {
  if (!range) return [EVENTS_PREFIX];
  const prefixes: string[] = [];
  for (let day = startOfUtcDay(range.from).getTime(); day < range.to.getTime(); day += DAY_MS) {
    prefixes.push(`${EVENTS_PREFIX}${new Date(day).toISOString().slice(0, 10)}/`);
  }
  return prefixes;
}

function hourInRange(hour: Date, range: { from: Date; to: Date }): boolean {
  return hour.getTime() + HOUR_MS > range.from.getTime() && hour < range.to;
}

function eventTime(bytes: Uint8Array): Date | undefined {
  try {
    const time = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { time?: unknown }).time;
    return typeof time === 'string' ? new Date(time) : undefined;
  } catch {
    return undefined;
  }
}

/** `map` with at most `limit` calls in flight, results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
