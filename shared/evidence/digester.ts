/**
 * The hourly digester (DESIGN.md section 2.5, decision 0010): for each archive hour, the manifests written in it become
 * one signed digest chained to the previous hour's. Pure: the archive and the signing key are ports, time is a Clock.
 *
 * Why an hour, once digested, stays complete: manifests are keyed by the hour they are written in, and the digester
 * runs for an hour only once that hour has ended plus {@link DIGEST_DELAY_MS} (ten minutes: an archiver batch's
 * longest run), so no manifest can land in an hour that is already digested.
 */
import type { Clock } from '../ports.ts';
import {
  DIGESTS_PREFIX,
  HOUR_MS,
  MANIFESTS_PREFIX,
  PUBLIC_KEYS_PREFIX,
  digestKey,
  hourStart,
  manifestHourPrefix,
  parseDigestKey,
  publicKeyKey,
  sha256Hex,
  type ArchiveManifest,
  type ArchivedObjectEntry,
} from './archive-layout.ts';
import { buildDigestBody, digestSigningInput, publicKeySha256, signedDigestBytes } from './digest.ts';
import type { ArchiveStore, DigestSigner } from './ports.ts';

/** How long after an hour ends its digest is made: longer than any archiver batch takes to write its manifest. */
export const DIGEST_DELAY_MS = 10 * 60_000;

/** How many hours `digestUpTo` looks back, one GET each, before it lists the digests to find the latest. */
const LOOK_BACK_HOURS = 48;

/** The last hour that ended at least `delayMs` before `now`: the newest hour that may be digested. */
export function lastDigestibleHour(now: Date, delayMs = DIGEST_DELAY_MS): Date {
  return new Date(hourStart(new Date(now.getTime() - delayMs)).getTime() - HOUR_MS);
}

export interface DigestResult {
  hour: string;
  key: string;
  objects: number;
  /** False when the digest already existed and was kept as it was. */
  written: boolean;
}

export interface DigesterDeps {
  store: ArchiveStore;
  signer: DigestSigner;
  clock: Clock;
}

/** Writes digests: one hour (`digestHour`) or every missing hour up to a target (`digestUpTo`). */
export class Digester {
  private publishedKey: Promise<string> | undefined;

  constructor(private readonly deps: DigesterDeps) {}

  /**
   * Digests the hour starting at `hour` from its manifests, chained to the stored digest of the hour before (none only
   * for the very first digest). An existing digest is kept as it is: digests are write-once.
   */
  async digestHour(hour: Date): Promise<DigestResult> {
    const start = hourStart(hour);
    const key = digestKey(start);
    const existing = await this.deps.store.get(key);
    if (existing) return { hour: start.toISOString(), key, objects: countObjects(existing), written: false };

    const previousHour = new Date(start.getTime() - HOUR_MS);
    const previousBytes = await this.deps.store.get(digestKey(previousHour));
    const publicKeySha256 = await this.publishKey();
    const body = buildDigestBody({
      hour: start,
      previous: previousBytes ? { hour: previousHour, bytes: previousBytes } : undefined,
      objects: await this.manifestEntries(start),
      signedAt: this.deps.clock.now(),
      keyId: this.deps.signer.keyId,
      publicKeySha256,
    });
    const signature = await this.deps.signer.sign(digestSigningInput(body));
    const bytes = signedDigestBytes({ digest: body, signature: Buffer.from(signature).toString('base64') });
    const outcome = await this.deps.store.putIfAbsent(key, bytes, sha256Hex(bytes));
    return { hour: body.hour, key, objects: body.objects.length, written: outcome === 'written' };
  }

  /**
   * Writes every missing digest, in hour order, from the one after the latest existing digest up to `targetHour`
   * (inclusive), each chained to the one before; an hour with no manifests gets a digest with no objects. With no
   * digest at all, the chain starts at the hour of the first manifest (or at the target when there is none).
   */
  async digestUpTo(targetHour: Date): Promise<DigestResult[]> {
    const target = hourStart(targetHour);
    const latest = await this.latestDigestHour(target);
    let first: Date;
    if (latest) first = new Date(latest.getTime() + HOUR_MS);
    else {
      const firstManifest = await this.firstManifestHour();
      first = firstManifest && firstManifest < target ? firstManifest : target;
    }
    const results: DigestResult[] = [];
    for (let hour = first; hour <= target; hour = new Date(hour.getTime() + HOUR_MS)) {
      results.push(await this.digestHour(hour));
    }
    return results;
  }

  /** Every object the hour's manifests list. */
  private async manifestEntries(hour: Date): Promise<ArchivedObjectEntry[]> {
    const entries: ArchivedObjectEntry[] = [];
    for await (const { key } of this.deps.store.list(manifestHourPrefix(hour))) {
      const bytes = await this.deps.store.get(key);
      if (!bytes) continue;
      const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as ArchiveManifest;
      entries.push(...manifest.objects);
    }
    return entries;
  }

  /** The latest digest at or before `target`: a GET per hour back from it, then a listing of every digest. */
  private async latestDigestHour(target: Date): Promise<Date | undefined> {
    for (let back = 0; back < LOOK_BACK_HOURS; back += 1) {
      const hour = new Date(target.getTime() - back * HOUR_MS);
      if (await this.deps.store.get(digestKey(hour))) return hour;
    }
    let latest: Date | undefined;
    for await (const { key } of this.deps.store.list(DIGESTS_PREFIX)) {
      if (key.startsWith(PUBLIC_KEYS_PREFIX)) continue;
      const hour = parseDigestKey(key);
      if (hour && hour <= target && (!latest || hour > latest)) latest = hour;
    }
    return latest;
  }

  private async firstManifestHour(): Promise<Date | undefined> {
    for await (const { key } of this.deps.store.list(MANIFESTS_PREFIX)) {
      const match = /^manifests\/(\d{4}-\d{2}-\d{2})\/(\d{2})\//.exec(key);
      if (match) return new Date(`${match[1]}T${match[2]}:00:00.000Z`);
    }
    return undefined;
  }

  /**
   * Publishes the signer's public key (write-once) under digests/keys/ before the first digest it signs; answers its
   * SHA-256.
   */
  private publishKey(): Promise<string> {
    this.publishedKey ??= (async () => {
      const pem = await this.deps.signer.publicKeyPem();
      const sha256 = publicKeySha256(pem);
      const bytes = Buffer.from(pem, 'utf8');
      await this.deps.store.putIfAbsent(publicKeyKey(sha256), bytes, sha256Hex(bytes));
      return sha256;
    })().catch((error: unknown) => {
      this.publishedKey = undefined;
      throw error;
    });
    return this.publishedKey;
  }
}

function countObjects(bytes: Uint8Array): number {
  try {
    return (JSON.parse(Buffer.from(bytes).toString('utf8')) as { digest: { objects: unknown[] } }).digest.objects
      .length;
  } catch {
    return 0;
  }
}
