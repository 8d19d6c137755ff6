import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoadedConfig } from '../../config/bundle.ts';
import { ConfigError, contentVersion, parseConfig } from '../../config/parse.ts';

export type { LoadedConfig } from '../../config/bundle.ts';

/** Reads `gatehouse.config.yaml` and its policy files; a bad file throws ConfigError listing every problem. */
export function loadConfigFile(file: string): LoadedConfig {
  const text = readText(file, file);
  const config = parseConfig(text, file);
  const policyFiles = config.policies.files.map((name, index) => {
    const path = resolve(dirname(file), name);
    return { name, text: readText(path, file, `policies.files[${index}]`) };
  });
  return {
    file,
    config,
    policyFiles,
    versions: { config: contentVersion(text), policies: contentVersion(...policyFiles.map((p) => p.text)) },
  };
}

function readText(path: string, configFile: string, configPath = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'file cannot be read';
    throw new ConfigError(configFile, [{ path: configPath, message: `${reason}: ${path}` }]);
  }
}
