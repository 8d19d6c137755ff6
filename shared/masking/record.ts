/**
 * Builds the masking record (model.ts): paths and the rule or detector that fired, counted per (path, by), never a value.
 */
import type { MaskingRecord } from './model.ts';

/** A path as the walker holds it: keys and array indices from the root. */
export type PathSegments = ReadonlyArray<string | number>;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `['items', 3, 'metadata', 'annotations', 'acme.org/x']` → `$.items[3].metadata.annotations['acme.org/x']`. */
export function formatJsonPath(segments: PathSegments): string {
  let path = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) path += `.${segment}`;
    else path += `['${segment.replace(/[\\']/g, '\\$&')}']`;
  }
  return path;
}

/** Counts what was masked where; entries keep the order in which they were first seen. */
export class MaskingRecorder {
  readonly #entries = new Map<string, { path: string; by: string; count: number }>();
  #total = 0;

  add(path: string, by: string, count = 1): void {
    const key = `${by}\u0000${path}`;
    const entry = this.#entries.get(key);
    if (entry) entry.count += count;
    else this.#entries.set(key, { path, by, count });
    this.#total += count;
  }

  /** Adds another record's entries, each path rewritten by `rebase` (a watch event's `$` becomes `$.object`). */
  addRecord(record: MaskingRecord, rebase: (path: string) => string = (path) => path): void {
    for (const entry of record.entries) this.add(rebase(entry.path), entry.by, entry.count);
  }

  get total(): number {
    return this.#total;
  }

  toRecord(): MaskingRecord {
    return { entries: Array.from(this.#entries.values(), (entry) => ({ ...entry })), total: this.#total };
  }
}
