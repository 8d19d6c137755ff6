/**
 * The local runtime's digester: the audit-digest schedule of AWS as a timer, signing with a key file in the data
 * directory (FileDigestSigner) instead of KMS. `digestNow` lets tests and tools digest ended hours without waiting.
 */
import { join } from 'node:path';
import { FileDigestSigner, LOCAL_DIGEST_KEY_FILE } from '#shared/adapters/local/file-digest-signer.ts';
import { systemClock } from '#shared/adapters/system.ts';
import { Digester, lastDigestibleHour, type DigestResult } from '#shared/evidence/digester.ts';
import type { ArchiveStore } from '#shared/evidence/ports.ts';
import type { Clock } from '#shared/ports.ts';

/** How often the local runtime looks for ended hours to digest (AWS runs hourly; a local runtime may sleep). */
export const LOCAL_DIGEST_INTERVAL_MS = 5 * 60_000;

export interface LocalDigesting {
  digester: Digester;
  signer: FileDigestSigner;
  /** Digests every missing hour up to `target` (by default the last hour that ended at least the delay ago). */
  digestNow(target?: Date): Promise<DigestResult[]>;
  stop(): Promise<void>;
}

export function startLocalDigesting(options: {
  archive: ArchiveStore;
  dataDir: string;
  clock?: Clock;
  /** 0 runs no timer (digestNow only). */
  intervalMs?: number;
}): LocalDigesting {
  const clock = options.clock ?? systemClock;
  const signer = FileDigestSigner.open(join(options.dataDir, LOCAL_DIGEST_KEY_FILE));
  const digester = new Digester({ store: options.archive, signer, clock });
  // One run at a time, on the timer or on demand: two runs could both sign the same hour.
  let running: Promise<unknown> = Promise.resolve();
  const digestNow = (target?: Date) => {
    const run = running.then(() => digester.digestUpTo(target ?? lastDigestibleHour(clock.now())));
    running = run.catch(() => undefined);
    return run;
  };
  const intervalMs = options.intervalMs ?? LOCAL_DIGEST_INTERVAL_MS;
  // A failed run is the next run's to repair, as with the schedule in AWS.
  const timer = intervalMs > 0 ? setInterval(() => void digestNow().catch(() => undefined), intervalMs) : undefined;
  timer?.unref();
  return {
    digester,
    signer,
    digestNow,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
