/**
 * The configuration as deployed: `cdk synth` validates `gatehouse.config.yaml` and its Cedar files and writes them into
 * every function bundle as one JSON document, so Lambda neither bundles a YAML parser nor reads several files at start.
 */
import type { GatehouseConfig } from './schema.ts';
import { ConfigError, validateConfig } from './validate.ts';

/** A validated configuration with the text of the policy files it names. */
export interface LoadedConfig {
  file: string;
  config: GatehouseConfig;
  policyFiles: { name: string; text: string }[];
  /** Short hashes for /healthz: which configuration and which policies are loaded. */
  versions: { config: string; policies: string };
}

const BUNDLE_FORMAT = 'gatehouse.config-bundle/v1';

export function bundleConfig(loaded: LoadedConfig): string {
  const { config, policyFiles, versions } = loaded;
  return `${JSON.stringify({ format: BUNDLE_FORMAT, config, policyFiles, versions })}\n`;
}

/** Reads a bundle back; the configuration is validated again, so a hand-edited bundle cannot skip the schema. */
export function unbundleConfig(text: string, file: string): LoadedConfig {
  let bundle: { format?: unknown; config?: unknown; policyFiles?: unknown; versions?: unknown };
  try {
    bundle = JSON.parse(text) as typeof bundle;
  } catch {
    throw new ConfigError(file, [{ path: '', message: 'not valid JSON' }]);
  }
  if (bundle.format !== BUNDLE_FORMAT) {
    throw new ConfigError(file, [{ path: 'format', message: `expected ${BUNDLE_FORMAT}` }]);
  }
  return {
    file,
    config: validateConfig(bundle.config, file),
    policyFiles: bundle.policyFiles as LoadedConfig['policyFiles'],
    versions: bundle.versions as LoadedConfig['versions'],
  };
}
