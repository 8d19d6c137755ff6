import type { ChunkMasker } from '../../shared/masking/streams.ts';

/** Feeds `bytes` to `stream` cut at `cuts` (any order), ends it, and returns everything it wrote. */
export function feedInCuts(stream: ChunkMasker, bytes: Uint8Array, cuts: readonly number[]): Buffer {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...stream.push(bytes.subarray(start, cut)));
    start = cut;
  }
  out.push(...stream.push(bytes.subarray(start)), ...stream.end());
  return Buffer.concat(out);
}
