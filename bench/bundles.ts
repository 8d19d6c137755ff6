/**
 * Lambda bundle sizes and cold import times. Every handler in functions/ is bundled with esbuild using the options
 * GatehouseFunction gives NodejsFunction (GATEHOUSE_BUNDLING), and, as CDK's afterBundling hook does, cedar-wasm's
 * .wasm is copied beside the bundles that load it. Cold import: `node` importing the bundle, against an empty `node`
 * start, interleaved in the same run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { GATEHOUSE_BUNDLING } from '../infra/constructs/gatehouse-function.ts';
import { median } from './stats.ts';

export interface BundleResult {
  name: string;
  file: string;
  bytes: number;
  /** Bytes per package (node_modules name, or the first two path segments of our own files), largest first. */
  packages: [string, number][];
}

/** esbuild options equal to what NodejsFunction passes for GATEHOUSE_BUNDLING (see aws-lambda-nodejs bundling.js). */
export function esbuildOptions(projectRoot: string): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: GATEHOUSE_BUNDLING.format === 'esm' ? 'esm' : 'cjs',
    target: GATEHOUSE_BUNDLING.target,
    minify: GATEHOUSE_BUNDLING.minify,
    sourcemap: GATEHOUSE_BUNDLING.sourceMap,
    banner: { js: GATEHOUSE_BUNDLING.banner },
    mainFields: GATEHOUSE_BUNDLING.mainFields,
    external: GATEHOUSE_BUNDLING.externalModules,
    tsconfig: join(projectRoot, 'tsconfig.json'),
    logLevel: 'error',
  };
}

/**
 * What-if: every `import { z } from 'zod'` read as `import * as z from 'zod'`. esbuild cannot tree-shake zod 4 through
 * the `z` re-export, so one such import anywhere bundles all of zod classic with its ~40 locales.
 */
export function handlerEntries(projectRoot: string): string[] {
  return readdirSync(join(projectRoot, 'functions'))
    .filter((file) => file.endsWith('.ts'))
    .sort()
    .map((file) => join(projectRoot, 'functions', file));
}

export async function buildBundles(projectRoot: string, outDir: string): Promise<BundleResult[]> {
  const cedarWasm = join(projectRoot, 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm');
  const results: BundleResult[] = [];
  for (const entry of handlerEntries(projectRoot)) {
    const name = basename(entry, '.ts');
    const dir = join(outDir, name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'index.mjs');
    const result = await build({
      ...esbuildOptions(projectRoot),
      entryPoints: [entry],
      outfile: file,
      metafile: true,
    });
    if (readFileSync(file, 'utf8').includes('cedar_wasm_bg.wasm'))
      copyFileSync(cedarWasm, join(dir, 'cedar_wasm_bg.wasm'));
    const output = Object.values(result.metafile.outputs).find((candidate) => candidate.entryPoint)!;
    results.push({ name, file, bytes: output.bytes, packages: byPackage(output) });
  }
  return results;
}

function byPackage(output: Metafile['outputs'][string]): [string, number][] {
  const sizes = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const key = match ? match[1]! : path.split('/').slice(0, 2).join('/');
    sizes.set(key, (sizes.get(key) ?? 0) + input.bytesInOutput);
  }
  return [...sizes].sort((a, b) => b[1] - a[1]);
}

export interface ColdImportResult {
  rounds: number;
  emptyMedianMs: number;
  /** Median wall time of `node` importing each bundle, by bundle name. */
  medianMs: Map<string, number>;
}

/**
 * Spawns `node -e ""` and `node -e "await import(bundle)"` for every bundle, in rounds (a fresh process each, so each
 * is a cold start), up to `rounds` rounds or `budgetMs`. Rounds interleave the runs so drift on a shared machine hits
 * every column alike.
 */
export function coldImports(bundles: BundleResult[], rounds: number, budgetMs: number): ColdImportResult {
  const runs = [
    { name: '(empty node)', code: '' },
    ...bundles.map((bundle) => ({
      name: bundle.name,
      code: `await import(${JSON.stringify(pathToFileURL(bundle.file).href)})`,
    })),
  ];
  const samples = new Map<string, number[]>(runs.map((run) => [run.name, []]));
  const deadline = performance.now() + budgetMs;
  let done = 0;
  for (; done < rounds && performance.now() < deadline; done += 1) {
    for (const run of runs) {
      const start = performance.now();
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', run.code], {
        cwd: bundles[0] ? join(bundles[0].file, '..') : undefined,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 30_000,
      });
      const elapsed = performance.now() - start;
      if (child.status !== 0) throw new Error(`${run.name}: node exited ${child.status}: ${child.stderr.toString()}`);
      samples.get(run.name)!.push(elapsed);
    }
  }
  const medianMs = new Map([...samples].map(([name, values]) => [name, median(values)]));
  return { rounds: done, emptyMedianMs: medianMs.get('(empty node)')!, medianMs };
}
