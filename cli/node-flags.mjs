/**
 * Node flags `gatehouse mask` runs with (cli/gatehouse.mjs starts it again with them). A list is masked an item at a
 * time, and each item's decoded text, objects and output are garbage at once; V8's default young generation (16 MB
 * semi-spaces, sized for servers) lets that garbage pile up to about twice a 20 MB list before a scavenge. 8 MB
 * semi-spaces cut the peak to under 2× at no measurable cost in speed (BENCHMARKS.md, "PHI masking").
 */
export const MASK_NODE_FLAGS = ['--max-semi-space-size=8'];
