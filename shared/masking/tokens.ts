/**
 * The tokens that replace masked values (model.ts, MaskAction): `[MASKED:<LABEL>]`, `[MASKED:<LABEL>:…<last N>]` and
 * `[HASH:<LABEL>:<16 hex>]`, and how to recognise one so that masking masked output changes nothing.
 */
import { createHmac } from 'node:crypto';
import { DETECTOR_NAMES, detectorLabel, type DetectorName, type MaskAction } from './model.ts';

/**
 * A token as maskToken writes it: a partial token's tail follows `…`, a hash is 16 hex digits. Text that merely looks
 * like one (`[MASKED: see 123-45-6789]`) is not passed over unscanned.
 */
const TOKEN = String.raw`\[(?:MASKED|HASH):[A-Z0-9_]+(?::…[^\]\n]*|:[0-9a-f]{16})?\]`;
/** A whole token, as a value by itself. */
const WHOLE_TOKEN = new RegExp(`^${TOKEN}$`);
/** A token at a given place of a longer text. */
const TOKEN_AT = new RegExp(TOKEN, 'y');

function redacted(label: string): string {
  return `[MASKED:${label}]`;
}

/** A detector's redaction token, made once: a log masks about a value a line. */
const REDACTED_BY_DETECTOR = new Map(DETECTOR_NAMES.map((name) => [name, redacted(detectorLabel(name))]));

export function redactedToken(detector: DetectorName): string {
  return REDACTED_BY_DETECTOR.get(detector)!;
}

/** The token for `value` under `action`. `hashKey` is required for `hash` (createMasker refuses hash rules without it). */
export function maskToken(action: MaskAction, label: string, value: string, hashKey: Uint8Array | undefined): string {
  switch (action.action) {
    case 'redact':
      return redacted(label);
    case 'partial': {
      const characters = Array.from(value);
      // A short value would be mostly or wholly revealed by its tail: it is redacted instead.
      if (characters.length < action.keepLast * 2) return redacted(label);
      return `[MASKED:${label}:…${characters.slice(-action.keepLast).join('')}]`;
    }
    case 'hash': {
      if (!hashKey) throw new Error('hash action without a key');
      return `[HASH:${label}:${createHmac('sha256', hashKey).update(value).digest('hex').slice(0, 16)}]`;
    }
  }
}

/** True when the whole value is a token: masking it again would change a token, not a value. */
export function isToken(value: string): boolean {
  return value.length >= 10 && value.charCodeAt(0) === 0x5b && WHOLE_TOKEN.test(value);
}

/** Where the token starting at `start` ends, or -1 when none starts there. */
export function tokenEndAt(text: string, start: number): number {
  TOKEN_AT.lastIndex = start;
  return TOKEN_AT.test(text) ? TOKEN_AT.lastIndex : -1;
}
