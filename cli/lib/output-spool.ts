/**
 * Where `gatehouse mask` keeps a JSON document's masked output until the whole document is masked: a file of its own
 * (mode 0600, in a fresh directory under the system's temp directory), so nothing is written to stdout when the input
 * turns out not to be JSON halfway, and the output does not sit in memory beside the input. What it holds is masked
 * output; it is removed when written out or discarded.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class OutputSpool {
  readonly #dir: string;
  readonly #file: string;
  #fd: number | undefined;

  constructor(parent = tmpdir()) {
    this.#dir = mkdtempSync(join(parent, 'gatehouse-mask-'));
    this.#file = join(this.#dir, 'output');
    this.#fd = openSync(this.#file, 'wx', 0o600);
  }

  /** Appends a piece (synchronously: the masker emits pieces from inside a synchronous walk). */
  write(piece: string): void {
    if (this.#fd === undefined) throw new Error('the spool is closed');
    writeSync(this.#fd, piece);
  }

  /** Everything written, in chunks, to `write`; the spool is removed after, whatever happens. */
  async drainTo(write: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    this.#close();
    try {
      for await (const chunk of createReadStream(this.#file, { highWaterMark: 64 * 1024 })) {
        await write(chunk as Buffer);
      }
    } finally {
      this.discard();
    }
  }

  /** Removes the spool and what it holds. */
  discard(): void {
    this.#close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
