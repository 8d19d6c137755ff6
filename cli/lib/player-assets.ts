/**
 * asciinema-player's browser bundle, read from node_modules when the evidence report is written, so the report embeds
 * it and opens offline. The package is a dependency (`asciinema-player` 3.x); when it is absent the report has
 * transcripts and no player.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PlayerAssets } from '#shared/evidence/report.ts';

/** The player's script and style, or undefined when the package is not installed. */
export function loadPlayerAssets(): PlayerAssets | undefined {
  const require = createRequire(import.meta.url);
  let script: string;
  let css: string;
  try {
    // Subpaths the package exports (its package.json is not one of them).
    script = require.resolve('asciinema-player/dist/bundle/asciinema-player.min.js');
    css = require.resolve('asciinema-player/dist/bundle/asciinema-player.css');
  } catch {
    return undefined;
  }
  let version = '';
  try {
    const manifest = JSON.parse(readFileSync(join(dirname(script), '..', '..', 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    if (typeof manifest.version === 'string') version = manifest.version;
  } catch {
    // The label is only shown in the footer.
  }
  return {
    script: readFileSync(script, 'utf8'),
    css: readFileSync(css, 'utf8'),
    label: `asciinema-player ${version}`.trim(),
  };
}
