import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, normalize, resolve, sep } from 'node:path';
import { parse } from 'yaml';
import { GatehouseConfigSchema, type GatehouseConfig } from '../shared/config/schema.ts';

/** The Gatehouse configuration as the CDK app needs it: the validated content and where its files are. */
export interface InfraConfig {
  /** Absolute path of the configuration file. */
  readonly file: string;
  readonly config: GatehouseConfig;
  /** The Cedar policy files, relative to the configuration file's directory (as written in it). */
  readonly policyFiles: readonly string[];
}

/**
 * Reads and validates the Gatehouse configuration for synthesis.
 *
 * Kept small on purpose: when `shared/config/load.ts` lands, this becomes a call to it. Policy files must lie inside the
 * configuration's directory, because they are copied into each function bundle at the same relative path.
 */
export function loadInfraConfig(file: string): InfraConfig {
  const absolute = resolve(file);
  const result = GatehouseConfigSchema.safeParse(parse(readFileSync(absolute, 'utf8')));
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`${absolute}: invalid Gatehouse configuration\n${problems.join('\n')}`);
  }
  const policyFiles = result.data.policies.files.map((name) => {
    const relative = normalize(name);
    if (isAbsolute(relative) || relative === '..' || relative.startsWith(`..${sep}`)) {
      throw new Error(`${absolute}: policies.files entry "${name}" must be a path inside ${dirname(absolute)}`);
    }
    readFileSync(resolve(dirname(absolute), relative)); // fail at synth, not at the first request
    return relative;
  });
  return { file: absolute, config: result.data, policyFiles };
}
