/**
 * The masking engine's shared vocabulary (issue 5; DESIGN.md sections 2.4 and 7): what a detector finds, what a rule
 * does with it, the tokens that replace masked values, and the masking record that feeds `masking.applied` events.
 * Pure: the relay, `gatehouse mask` and the tests all use these, so a token or a record reads the same everywhere.
 */

/** The Safe Harbor identifiers Gatehouse detects in string values (person names are found by field name, see rules). */
export const DETECTOR_NAMES = [
  'ssn',
  'date',
  'phone',
  'email',
  'mrn',
  'health-plan',
  'account',
  'npi',
  'mbi',
  'street-address',
  'zip',
  'ip',
  'url',
  'credit-card',
] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** A span of a string a detector claims: `[start, end)` in UTF-16 code units. */
export interface Detection {
  detector: DetectorName;
  start: number;
  end: number;
}

/**
 * Finds identifiers in free text. Synchronous and allocation-light: the relay calls it for every string value and log
 * line it forwards. Returns detections sorted by `start`, never overlapping (the longest wins where two overlap).
 */
export interface TextScanner {
  scan(text: string): Detection[];
}

/** What happens to a masked value. */
export type MaskAction =
  /** `[MASKED:<LABEL>]` */
  | { action: 'redact' }
  /** `[MASKED:<LABEL>:…<last N characters>]` */
  | { action: 'partial'; keepLast: number }
  /** `[HASH:<LABEL>:<first 16 hex of HMAC-SHA256(key, value)>]`: the same value maps to the same token, unrevealed. */
  | { action: 'hash' };

const DETECTOR_LABELS = new Map<DetectorName, string>(
  DETECTOR_NAMES.map((name) => [name, name.toUpperCase().replace(/-/g, '_')]),
);

/** The label of a detector in tokens: `ssn` → `SSN`, `credit-card` → `CREDIT_CARD`. Made once, used per masked value. */
export function detectorLabel(detector: DetectorName): string {
  return DETECTOR_LABELS.get(detector)!;
}

/**
 * Every token starts with one of these: detectors never match inside a token, so masking masked output changes nothing
 * (masking is idempotent).
 */
export const TOKEN_PREFIXES = ['[MASKED:', '[HASH:'] as const;

/** One line of the masking record: where, why, how many — never the value. */
export interface MaskingRecordEntry {
  /** JSON path of the masked value (`$.items[*].spec.containers[0].env[2].value`), or `line` for text. */
  path: string;
  /** `detector:<name>` or `rule:<rule name>`. */
  by: string;
  count: number;
}

/**
 * What one response (object, list, table, watch event, log chunk) had masked. The items of a `*List` and the rows of a
 * `Table` count together: a path under `items[i]` (`rows[i]`) is recorded once as `$.items[*]…` (`$.rows[*]…`) with the
 * count summed, so a list's record is as long as one item's, not as the list.
 */
export interface MaskingRecord {
  entries: MaskingRecordEntry[];
  /** Sum of the entries' counts. */
  total: number;
}
