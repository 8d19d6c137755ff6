import { isNode, LineCounter, parseDocument } from 'yaml';
import type { GatehouseConfig } from './schema.ts';
import { ConfigError, validateConfig } from './validate.ts';

export { ConfigError, contentVersion, type ConfigProblem } from './validate.ts';

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
  return validateConfig(document.toJS(), file, (path) => {
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
