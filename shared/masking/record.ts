/**
 * Builds the masking record (model.ts): paths and the rule or detector that fired, counted per (path, by), never a value.
 */
import type { MaskingRecord, MaskingRecordEntry } from './model.ts';

/** Stands for the index of a list's item or a Table's row: every item's entries count under one path, `$.items[*]…`. */
export const EVERY_ITEM = Symbol('every item');

/** One step of a path as the walker holds it: a key, an array index, or EVERY_ITEM. */
export type PathKey = string | number | typeof EVERY_ITEM;

/** A path as the walker holds it: keys and array indices from the root. */
export type PathSegments = ReadonlyArray<PathKey>;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

function formatPathKey(key: PathKey): string {
  if (key === EVERY_ITEM) return '[*]';
  if (typeof key === 'number') return `[${key}]`;
  if (PLAIN_KEY.test(key)) return `.${key}`;
  return `['${key.replace(/[\\']/g, '\\$&')}']`;
}

/** A formatted path and the paths one key below it: each distinct path is formatted once per record. */
interface PathName {
  readonly path: string;
  readonly below: Map<PathKey, PathName>;
}

/** Counts what was masked where; entries keep the order in which they were first seen. */
export class MaskingRecorder {
  /** By path, then by rule or detector: no key is built per masked value. */
  readonly #byPath = new Map<string, Map<string, MaskingRecordEntry>>();
  readonly #entries: MaskingRecordEntry[] = [];
  readonly #root: PathName = { path: '$', below: new Map() };
  #total = 0;

  /**
   * The JSON path of `segments` (`['items', EVERY_ITEM, 'metadata', 'annotations', 'acme.org/x']` →
   * `$.items[*].metadata.annotations['acme.org/x']`), the same string each time: `add` then finds it by its cached hash.
   */
  pathOf(segments: PathSegments): string {
    let name = this.#root;
    for (const segment of segments) {
      let next = name.below.get(segment);
      if (!next) name.below.set(segment, (next = { path: name.path + formatPathKey(segment), below: new Map() }));
      name = next;
    }
    return name.path;
  }

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
