/** Node flags `gatehouse mask` runs with: see node-flags.mjs. */
export declare const MASK_NODE_FLAGS: readonly string[];
