import { isNode, LineCounter, parseDocument } from 'yaml';
import * as z from 'zod';
import { MaskingConfigSchema, type MaskingConfig } from '../masking/rules.ts';
import { GatehouseConfigSchema, type GatehouseConfig } from './schema.ts';
import { ConfigError, validateAgainst } from './validate.ts';

export { ConfigError, contentVersion, type ConfigProblem } from './validate.ts';

/** Parses and validates the YAML text of `gatehouse.config.yaml`. Pure: the caller reads the file. */
export function parseConfig(text: string, file: string): GatehouseConfig {
  return parseYamlAgainst(GatehouseConfigSchema, text, file);
}

/**
 * Parses a masking rules file (`gatehouse mask --rules FILE`): the `masking` section alone, or a whole Gatehouse config
 * (it has `version`), of which only `masking` is read.
 */
export function parseMaskingRules(text: string, file: string): MaskingConfig {
  const whole = /^version\s*:/m.test(text);
  if (!whole) return parseYamlAgainst(MaskingConfigSchema, text, file);
  return parseYamlAgainst(z.looseObject({ masking: MaskingConfigSchema.prefault({}) }), text, file).masking;
}

/** Parses YAML and validates it against a schema; every problem is located by line and column. */
function parseYamlAgainst<Schema extends z.ZodType>(schema: Schema, text: string, file: string): z.output<Schema> {
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
  return validateAgainst(schema, document.toJS(), file, (path) => {
    // The deepest node that exists: an unknown key's issue points at its parent, a missing key's at the object.
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const node = document.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) {
        const position = lineCounter.linePos(node.range[0]);
        return { line: position.line, column: position.col };
      }
    }
    return undefined;
  });
}
