import { monotonicFactory } from 'ulid';
import type { Clock, Ids } from '../ports.ts';

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** Monotonic ULIDs, so ids made within one millisecond still sort in order. */
const nextUlid = monotonicFactory();
export const ulidIds: Ids = { next: () => nextUlid() };
