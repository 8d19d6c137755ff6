import { createHash } from 'node:crypto';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { GatehouseConfigSchema, type GatehouseConfig } from './schema.ts';

/** One problem in a config file, located as a YAML path and, where the node exists, a line and column. */
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

/** Parses and validates the YAML text of `gatehouse.config.yaml`. Pure: the caller reads the file. */
export function parseConfig(text: string, file: string): GatehouseConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => {
        const position = lineCounter.linePos(error.pos[0]);
        return { path: '', line: position.line, column: position.col, message: error.message.split('\n')[0]! };
      }),
    );
  }
  const result = GatehouseConfigSchema.safeParse(document.toJS());
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => locate(issue, document, lineCounter)),
    );
  }
  return result.data;
}

function locate(issue: z.core.$ZodIssue, document: ReturnType<typeof parseDocument>, lineCounter: LineCounter) {
  const path = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
  const problem: ConfigProblem = { path: formatPath(path), message: issue.message };
  // The deepest node that exists: an unknown key's issue points at its parent, a missing key's at the object.
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const position = lineCounter.linePos(node.range[0]);
      problem.line = position.line;
      problem.column = position.col;
      break;
    }
  }
  if (issue.code === 'unrecognized_keys') {
    problem.message = `unknown key${issue.keys.length === 1 ? '' : 's'}: ${issue.keys.join(', ')}`;
  }
  return problem;
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
