#!/usr/bin/env node
// Runs the TypeScript CLI straight from a fresh `npm ci`, with no build step: tsx compiles on load.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
