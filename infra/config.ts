import { resolve } from 'node:path';
import { loadConfigFile } from '../shared/adapters/fs/config-file.ts';
import { bundleConfig } from '../shared/config/bundle.ts';
import type { GatehouseConfig } from '../shared/config/schema.ts';
import { loadPolicyEngine } from '../shared/policy/policy-engine.ts';

/** The Gatehouse configuration as the CDK app needs it: the validated content and where its files are. */
export interface InfraConfig {
  /** Absolute path of the configuration file. */
  readonly file: string;
  readonly config: GatehouseConfig;
  /** The configuration and its policies as the functions receive them (shared/config/bundle.ts). */
  readonly bundle: string;
}

/**
 * Reads and validates the Gatehouse configuration for synthesis with the same loader the functions use, and parses and
 * validates its Cedar policies: a bad file or policy stops `cdk synth`, not the first request after a deploy.
 */
export function loadInfraConfig(file: string): InfraConfig {
  const absolute = resolve(file);
  const loaded = loadConfigFile(absolute);
  loadPolicyEngine({ files: loaded.policyFiles });
  return {
    file: absolute,
    config: loaded.config,
    bundle: bundleConfig(loaded),
  };
}
