import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import type { Clock, Ids } from '../ports.ts';

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * ulid's own generator asks the OS for one random byte per character (16 calls per id, measurable on the relay's
 * per-request path); this draws the same CSPRNG bytes 4 KiB at a time. A byte / 256 picks one of ulid's 32 characters
 * uniformly (256 is a multiple of 32).
 */
export function pooledRandom(poolBytes = 4096): () => number {
  const pool = new Uint8Array(poolBytes);
  let next = poolBytes;
  return () => {
    if (next === poolBytes) {
      randomFillSync(pool);
      next = 0;
    }
    return pool[next++]! / 256;
  };
}

/** Monotonic ULIDs, so ids made within one millisecond still sort in order. */
const nextUlid = monotonicFactory(pooledRandom());
export const ulidIds: Ids = { next: () => nextUlid() };
