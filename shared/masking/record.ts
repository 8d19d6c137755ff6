/**
 * Builds the masking record (model.ts): paths and the rule or detector that fired, counted per (path, by), never a value.
 */
import type { MaskingRecord, MaskingRecordEntry } from './model.ts';

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
  /** By path, then by rule or detector: no key is built per masked value. */
  readonly #byPath = new Map<string, Map<string, MaskingRecordEntry>>();
  readonly #entries: MaskingRecordEntry[] = [];
  #total = 0;

  add(path: string, by: string, count = 1): void {
    let atPath = this.#byPath.get(path);
    if (!atPath) this.#byPath.set(path, (atPath = new Map()));
    const entry = atPath.get(by);
    if (entry) entry.count += count;
    else {
      const created = { path, by, count };
      atPath.set(by, created);
      this.#entries.push(created);
    }
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
    return { entries: this.#entries.map((entry) => ({ ...entry })), total: this.#total };
  }
}
