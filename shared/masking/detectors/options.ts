/**
 * What a text scanner looks for: the `masking.detectors` section of the Gatehouse config. Every choice has a default, so
 * `createTextScanner()` with no options runs every detector with the conservative settings documented on each field.
 */
import * as z from 'zod';
import { DETECTOR_NAMES } from '../model.ts';
import { parseCidr } from './network.ts';

/**
 * A JavaScript regular expression source, compiled case-insensitively; its first capture group, if any, is the span.
 * Backreferences are refused: the patterns are combined into one expression, which renumbers their groups.
 */
const patternSource = z
  .string()
  .min(1)
  .refine((source) => {
    try {
      new RegExp(source, 'gi');
      return true;
    } catch {
      return false;
    }
  }, 'must be a valid JavaScript regular expression')
  .refine((source) => !/\\(?:[1-9]|k<)/.test(source), 'must not use backreferences (\\1, \\k<name>)');

/** IPv4 `a.b.c.d/n` or IPv6 `x:…/n`. */
const cidr = z
  .string()
  .refine((value) => parseCidr(value) !== undefined, 'must be a CIDR such as 10.100.0.0/16 or fd00::/8');

/** A label word, then up to four separator characters (`MRN: `, `"mrn":"`), then the number as group 1. */
const LABEL_GAP = `[\\s"':=#-]{0,4}`;

const NUMBER_WORD = `(?:number|num|no\\.?|#)`;

/** `MRN 00123456`, `mrn: "AB1234567"`, `Medical Record Number #1234567`. */
export const DEFAULT_MRN_PATTERNS = [
  `\\b(?:MRN|medical[ _-]?record[ _-]?${NUMBER_WORD})${LABEL_GAP}([A-Z]{0,3}\\d{6,12})\\b`,
];
/** Member, subscriber, policy and beneficiary numbers after their label: `memberId: "XYZ123456789"`. */
export const DEFAULT_HEALTH_PLAN_PATTERNS = [
  `\\b(?:member|subscriber|policy|beneficiary|health[ _-]?plan)[ _-]?(?:id|${NUMBER_WORD})${LABEL_GAP}([A-Z]{0,4}-?\\d{6,15})\\b`,
];
/**
 * `account number 12345678`, `acct# 12345678`. A bare `account id` is left out on purpose: in EKS data it is nearly
 * always a 12-digit AWS account id, which is not PHI.
 */
export const DEFAULT_ACCOUNT_PATTERNS = [
  `\\b(?:acct(?:[ _-]?${NUMBER_WORD})?|account[ _-]?${NUMBER_WORD})${LABEL_GAP}(\\d{6,17})\\b`,
];

/** Query parameters whose values identify a person (FHIR search parameters among them); compared case-insensitively. */
export const DEFAULT_IDENTIFYING_URL_PARAMETERS = [
  'patient',
  'patientid',
  'patient_id',
  'subject',
  'mrn',
  'ssn',
  'dob',
  'birthdate',
  'birth_date',
  'name',
  'given',
  'family',
  'email',
  'phone',
  'telecom',
  'address',
  'address-postalcode',
  'identifier',
  'member',
  'memberid',
  'member_id',
];

/** Loopback and unspecified addresses never identify anyone; cluster ranges are added by configuration. */
export const DEFAULT_NON_PHI_CIDRS = ['127.0.0.0/8', '0.0.0.0/32', '::1/128', '::/128'];

export const ScannerOptionsSchema = z.strictObject({
  /** Detectors to run. @default every detector */
  enabled: z.array(z.enum(DETECTOR_NAMES)).default([...DETECTOR_NAMES]),
  /**
   * `contextual` (default): a date without a time of day, or any date or timestamp within a few words after a word such as
   * dob, birth, born, admit, discharge, death, deceased or dos. RFC 3339 timestamps elsewhere (creationTimestamp, log
   * prefixes) are not PHI. `all`: every date, timestamps included.
   */
  dates: z.enum(['contextual', 'all']).default('contextual'),
  /** Patterns for medical record numbers, matched case-insensitively. Only matches containing a digit count. */
  mrnPatterns: z.array(patternSource).default(DEFAULT_MRN_PATTERNS),
  /** Patterns for health plan beneficiary / member numbers. */
  healthPlanPatterns: z.array(patternSource).default(DEFAULT_HEALTH_PLAN_PATTERNS),
  /** Patterns for account numbers. */
  accountPatterns: z.array(patternSource).default(DEFAULT_ACCOUNT_PATTERNS),
  /** IP ranges that are never masked: add the cluster's service, pod and node CIDRs. @default loopback and unspecified */
  nonPhiCidrs: z.array(cidr).default(DEFAULT_NON_PHI_CIDRS),
  /** Query parameters whose values are masked in URLs (the URL itself stays). */
  identifyingUrlParameters: z.array(z.string().min(1)).default(DEFAULT_IDENTIFYING_URL_PARAMETERS),
});

/** Options as written in config (every field optional). */
export type ScannerOptions = z.input<typeof ScannerOptionsSchema>;
/** Options with defaults applied. */
export type ResolvedScannerOptions = z.output<typeof ScannerOptionsSchema>;
