import { createHash } from 'node:crypto';
import type * as z from 'zod';

import { GatehouseConfigSchema, type GatehouseConfig } from './schema.ts';

/** One problem in a config file, located as a path and, where known, a line and column. */
export interface ConfigProblem {
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** A config file that cannot be used: every problem is listed, so the operator fixes them in one pass. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems
          .map((p) => `  ${file}${p.line ? `:${p.line}:${p.column}` : ''} ${p.path || '(root)'}: ${p.message}`)
          .join('\n'),
    );
  }
}

/** Where a value at a path sits in the source file, when the source format knows (YAML does, JSON here does not). */
export type Locator = (path: (string | number)[]) => { line: number; column: number } | undefined;

/** Validates parsed configuration content against the schema; every issue becomes a located problem. */
export function validateConfig(value: unknown, file: string, locate: Locator = () => undefined): GatehouseConfig {
  return validateAgainst(GatehouseConfigSchema, value, file, locate);
}

/** Validates parsed content against a schema (the whole config, or a section loaded alone); throws ConfigError. */
export function validateAgainst<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  file: string,
  locate: Locator = () => undefined,
): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(
    file,
    result.error.issues.map((issue) => {
      const path = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
      const message =
        issue.code === 'unrecognized_keys'
          ? `unknown key${issue.keys.length === 1 ? '' : 's'}: ${issue.keys.join(', ')}`
          : issue.message;
      return { path: formatPath(path), message, ...locate(path) };
    }),
  );
}

function formatPath(path: (string | number)[]): string {
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('');
}

/** A short, stable version of the configuration and policies, shown by /healthz. */
export function contentVersion(...texts: string[]): string {
  const hash = createHash('sha256');
  for (const text of texts) hash.update(text).update('\0');
  return hash.digest('hex').slice(0, 12);
}
