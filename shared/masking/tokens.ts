/**
 * The tokens that replace masked values (model.ts, MaskAction): `[MASKED:<LABEL>]`, `[MASKED:<LABEL>:…<last N>]` and
 * `[HASH:<LABEL>:<16 hex>]`, and how to recognise one so that masking masked output changes nothing.
 */
import { createHmac } from 'node:crypto';
import type { MaskAction } from './model.ts';

/** A whole token, as a value by itself. */
const WHOLE_TOKEN = /^\[(?:MASKED|HASH):[A-Z0-9_]+(?::[^\]\n]*)?\]$/;
/** Tokens inside a longer text. */
const TOKEN_IN_TEXT = /\[(?:MASKED|HASH):[A-Z0-9_]+(?::[^\]\n]*)?\]/g;

/** The token for `value` under `action`. `hashKey` is required for `hash` (createMasker refuses hash rules without it). */
export function maskToken(action: MaskAction, label: string, value: string, hashKey: Uint8Array | undefined): string {
  switch (action.action) {
    case 'redact':
      return `[MASKED:${label}]`;
    case 'partial': {
      const characters = Array.from(value);
      // A short value would be mostly or wholly revealed by its tail: it is redacted instead.
      if (characters.length < action.keepLast * 2) return `[MASKED:${label}]`;
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

/** A token's start: one regular expression search is about four times faster than two `includes` on log text. */
const TOKEN_START = /\[(?:MASKED|HASH):/;

/** The `[start, end)` spans of the tokens in a text, in order (empty without one: the check is one quick search). */
export function tokenSpans(text: string): Array<[number, number]> {
  if (!TOKEN_START.test(text)) return [];
  return Array.from(text.matchAll(TOKEN_IN_TEXT), (match) => [match.index, match.index + match[0].length]);
}
