/**
 * Masking rules (issue 5, point 2): the `masking` section of gatehouse.config.yaml, also loadable alone for
 * `gatehouse mask --rules FILE`. A rule chooses values by Kubernetes kind, namespace and field path (or Table column), or
 * enables detectors, and says what to do with what it chooses. The rule language is documented in README.md
 * ("Masking rules"); this file is its single definition.
 */
import * as z from 'zod';
import { ScannerOptionsSchema } from './detectors/options.ts';
import { DETECTOR_NAMES } from './model.ts';
import { parsePath, parsePattern } from './paths.ts';

/** A name, a glob (`*` matches any characters) or a `/regular expression/flags`. */
const pattern = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    const problem = parsePattern(text).problem;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const fieldPath = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    const problem = parsePath(text).problem;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Where the HMAC key of `hash` rules comes from; the key itself never sits in a config file. */
export const HashKeyRefSchema = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as MASKING_KEY') }),
  z.strictObject({ file: z.string().min(1) }),
]);

export const MaskingRuleSchema = z
  .strictObject({
    /** Named in the masking record (`rule:<name>`) and in `--explain`. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes'),
    /** Kubernetes kinds the rule applies to (`Secret`, `ConfigMap`, globs allowed). @default every kind */
    kinds: z.array(pattern).min(1).optional(),
    /** Namespaces the rule applies to (globs allowed); cluster-scoped objects have none. @default every namespace */
    namespaces: z.array(pattern).min(1).optional(),
    /** Field paths from the object's root (`data`, `spec.containers[*].env[*].value`, `**.patientName`). */
    paths: z.array(fieldPath).min(1).optional(),
    /** Sibling fields the object holding the matched field must have: `{ name: '/PATIENT|SSN/i' }`. */
    where: z.record(z.string().min(1), pattern).optional(),
    /** Table (`kubectl get`) columns whose cells the rule masks, by column name. */
    columns: z.array(pattern).min(1).optional(),
    /** Detectors this rule enables (in string values under `paths`, or everywhere); `all` for every detector. */
    detectors: z.union([z.literal('all'), z.array(z.enum(DETECTOR_NAMES)).min(1)]).optional(),
    /** `keep` leaves the chosen values alone, detectors included. */
    action: z.enum(['redact', 'partial', 'hash', 'keep']),
    /** For `partial`: how many trailing characters stay visible. */
    keepLast: z.number().int().min(1).max(8).optional(),
    /** The token's label (`[MASKED:<LABEL>]`) for values chosen by path or column. @default the rule name, upper case */
    label: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,31}$/, 'upper-case letters, digits and underscores')
      .optional(),
  })
  .superRefine((rule, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (!rule.paths && !rule.columns && !rule.detectors) {
      problem('paths', 'a rule needs paths, columns or detectors');
    }
    if (rule.detectors && rule.columns) problem('columns', 'detectors apply to every cell: drop columns');
    if (rule.detectors && rule.label) problem('label', 'detector tokens are labelled by detector: drop label');
    if (rule.detectors && rule.action === 'keep') problem('action', 'keep applies to paths, not detectors');
    if (rule.where && !rule.paths) problem('where', 'where needs paths');
    if (rule.action === 'partial' && rule.keepLast === undefined) problem('keepLast', 'partial needs keepLast');
    if (rule.action !== 'partial' && rule.keepLast !== undefined) problem('keepLast', 'keepLast is for partial only');
  });

export const MaskingConfigSchema = z
  .strictObject({
    /** What the detectors look for (see shared/masking/detectors/options.ts). */
    detectors: ScannerOptionsSchema.prefault({}),
    /** The HMAC key of `hash` rules, resolved by the relay or the CLI: `{ env: NAME }` or `{ file: PATH }`. */
    hashKey: HashKeyRefSchema.optional(),
    /** Append DEFAULT_MASKING_RULES after `rules` (the first rule matching a value wins, so yours override them). */
    defaults: z.boolean().default(true),
    rules: z.array(MaskingRuleSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const names = config.rules.map((rule) => rule.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) {
        ctx.addIssue({ code: 'custom', path: ['rules', index, 'name'], message: `rule name "${name}" is used twice` });
      }
    });
    config.rules.forEach((rule, index) => {
      if (rule.action === 'hash' && !config.hashKey) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', index, 'action'],
          message: 'hash needs masking.hashKey ({ env: NAME } or { file: PATH })',
        });
      }
    });
  });

export type MaskingRule = z.output<typeof MaskingRuleSchema>;
export type MaskingConfig = z.output<typeof MaskingConfigSchema>;
/** The `masking` section as written (every field optional). */
export type MaskingConfigInput = z.input<typeof MaskingConfigSchema>;
export type HashKeyRef = z.output<typeof HashKeyRefSchema>;

/** Environment variable names that suggest PHI or a credential. */
const PHI_ENV_NAME =
  '/patient|ssn|social_?sec|dob|birth|mrn|medical|diagnos|member|subscriber|insur|beneficiary|npi|mbi|phone|email|address|zip|password|passwd|secret|token|api_?key|credential/i';

/**
 * What a hospital wants on day one: Secret values redacted, PHI-looking environment values redacted, person names and
 * birth dates redacted by field name, every detector on in every other string, Kubernetes' own bookkeeping left alone.
 */
export const DEFAULT_MASKING_RULES: readonly MaskingRule[] = [
  {
    name: 'kubernetes-bookkeeping',
    // Ids, versions and timestamps the apiserver writes: never PHI, and kubectl needs them intact.
    paths: [
      'metadata.uid',
      'metadata.resourceVersion',
      'metadata.generation',
      'metadata.creationTimestamp',
      'metadata.managedFields',
      'metadata.ownerReferences[*].uid',
      'metadata.continue',
    ],
    action: 'keep',
  },
  { name: 'secret-data', kinds: ['Secret'], paths: ['data', 'stringData'], action: 'redact', label: 'SECRET' },
  {
    name: 'phi-env',
    paths: ['**.env[*].value'],
    where: { name: PHI_ENV_NAME },
    action: 'redact',
    label: 'ENV',
  },
  {
    name: 'person-names',
    paths: [
      '**./^(patient_?(full_?)?name|(first|last|full|given|family|middle|maiden)_?name|surname)$/i',
      '**./^patient$/i./^name$/i',
    ],
    columns: ['/^(patient|patient[ _-]?name|(first|last|full)[ _-]?name)$/i'],
    action: 'redact',
    label: 'NAME',
  },
  // A FHIR Patient resource keeps its names in `name` beside `"resourceType": "Patient"`.
  {
    name: 'fhir-patient-names',
    paths: ['**.name'],
    where: { resourceType: 'Patient' },
    action: 'redact',
    label: 'NAME',
  },
  {
    name: 'birth-dates',
    paths: ['**./^(dob|date_?of_?birth|birth_?date)$/i'],
    columns: ['/^(dob|date[ _-]?of[ _-]?birth|birth[ _-]?date)$/i'],
    action: 'redact',
    label: 'DOB',
  },
  { name: 'detectors', detectors: 'all', action: 'redact' },
];

/** The rules in force: the configured ones, then the defaults unless `defaults: false`. */
export function effectiveRules(config: MaskingConfig): MaskingRule[] {
  return config.defaults ? [...config.rules, ...DEFAULT_MASKING_RULES] : [...config.rules];
}
