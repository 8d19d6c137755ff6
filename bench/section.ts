/** Writes one bench's section of BENCHMARKS.md in place (or appends it), so a bench run alone updates only its own. */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';

/** Replaces the section that starts with `heading` (up to the next `## `) with `markdown`, formatted as the file is. */
export async function writeBenchmarkSection(heading: string, markdown: string): Promise<void> {
  const file = resolve(import.meta.dirname, '..', 'BENCHMARKS.md');
  const current = readFileSync(file, 'utf8');
  const start = current.indexOf(heading);
  let next = start < 0 ? -1 : current.indexOf('\n## ', start + 1);
  if (next >= 0) next += 1;
  const updated =
    start < 0
      ? `${current.trimEnd()}\n\n${markdown}`
      : `${current.slice(0, start)}${markdown}${next >= 0 ? `\n${current.slice(next)}` : ''}`;
  writeFileSync(file, await format(updated, { ...(await resolveConfig(file)), parser: 'markdown' }));
}
