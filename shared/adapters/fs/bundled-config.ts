import { readFileSync } from 'node:fs';
import { unbundleConfig, type LoadedConfig } from '../../config/bundle.ts';
import { ConfigError } from '../../config/validate.ts';

/**
 * Reads the JSON bundle `cdk synth` wrote into a function (see shared/config/bundle.ts). Kept apart from the YAML loader
 * so a Lambda bundle carries no YAML parser.
 */
export function loadBundledConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(file, [{ path: '', message: `the bundled configuration cannot be read: ${file}` }]);
  }
  return unbundleConfig(text, file);
}
