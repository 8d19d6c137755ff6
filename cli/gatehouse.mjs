#!/usr/bin/env node
// Runs the TypeScript CLI straight from a fresh `npm ci`, with no build step: tsx compiles on load.
import { spawnSync } from 'node:child_process';
import { register } from 'tsx/esm/api';
import { MASK_NODE_FLAGS } from './node-flags.mjs';

if (process.argv[2] === 'mask' && !MASK_NODE_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  // V8 sizes its heap at start: the flags need a process of their own (a shebang cannot carry them portably).
  const child = spawnSync(process.execPath, [...process.execArgv, ...MASK_NODE_FLAGS, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  if (child.error) console.error(`gatehouse: ${child.error.message}`);
  if (child.signal) process.kill(process.pid, child.signal);
  process.exit(child.status ?? 1);
}
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
