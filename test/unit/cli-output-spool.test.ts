import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputSpool } from '../../cli/lib/output-spool.ts';

const parent = mkdtempSync(join(tmpdir(), 'gatehouse-spool-test-'));
afterEach(() => {
  for (const name of readdirSync(parent)) rmSync(join(parent, name), { recursive: true, force: true });
});

describe('OutputSpool', () => {
  it('gives back what was written, in order, from a file only its owner can read, then removes it', async () => {
    const spool = new OutputSpool(parent);
    const [dirName] = readdirSync(parent);
    const file = join(parent, dirName!, 'output');
    const pieces = Array.from({ length: 2000 }, (_, index) => `{"item":${index},"text":"${'é'.repeat(index % 50)}"}`);

    for (const piece of pieces) spool.write(piece);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const chunks: Buffer[] = [];
    await spool.drainTo(async (chunk) => void chunks.push(Buffer.from(chunk)));

    expect(Buffer.concat(chunks).toString('utf8')).toBe(pieces.join(''));
    expect(chunks.length).toBeGreaterThan(1);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('removes what it holds when discarded, and refuses writes after', () => {
    const spool = new OutputSpool(parent);
    spool.write('{"masked":true}');

    spool.discard();

    expect(readdirSync(parent)).toEqual([]);
    expect(() => spool.write('more')).toThrow(/closed/);
  });

  it('is removed when writing it out fails', async () => {
    const spool = new OutputSpool(parent);
    spool.write('x'.repeat(100_000));

    await expect(
      spool.drainTo(async () => {
        throw new Error('EPIPE');
      }),
    ).rejects.toThrow('EPIPE');
    expect(readdirSync(parent)).toEqual([]);
  });
});
