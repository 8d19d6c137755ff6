/**
 * Medical record, health plan and account numbers by configured patterns. All patterns are compiled once into one
 * case-insensitive regular expression, so a string is searched once however many there are; a pattern's first capture
 * group, if it has one, is the span (so `MRN: 00123456` masks only the number). A match without a digit is not a number
 * and is dropped.
 */
import type { Detection, DetectorName } from '../model.ts';
import { isDigit } from './characters.ts';

export interface IdentifierPatterns {
  regex: RegExp;
  /** Per pattern: its detector, the group that is defined when it matched, and the group that is its span. */
  alternatives: { detector: DetectorName; matchedGroup: number; spanGroup: number }[];
}

function groupCount(source: string): number {
  return new RegExp(`${source}|`).exec('')!.length - 1;
}

/** Undefined when there is no pattern. Patterns may not use backreferences: their group numbers shift once combined. */
export function compilePatterns(
  patterns: readonly { detector: DetectorName; source: string }[],
): IdentifierPatterns | undefined {
  if (patterns.length === 0) return undefined;
  const alternatives: IdentifierPatterns['alternatives'] = [];
  let group = 1;
  for (const { detector, source } of patterns) {
    const groups = groupCount(source);
    alternatives.push({ detector, matchedGroup: group, spanGroup: groups > 0 ? group + 1 : group });
    group += 1 + groups;
  }
  const regex = new RegExp(patterns.map(({ source }) => `(${source})`).join('|'), 'gid');
  return { regex, alternatives };
}

function containsDigit(text: string, start: number, end: number): boolean {
  for (let index = start; index < end; index += 1) if (isDigit(text.charCodeAt(index))) return true;
  return false;
}

/** Adds every pattern match in `text` to `found` (in order of start; the scanner resolves overlaps). */
export function detectPatterns(text: string, { regex, alternatives }: IdentifierPatterns, found: Detection[]): void {
  regex.lastIndex = 0;
  for (let match = regex.exec(text); match; match = regex.exec(text)) {
    if (match[0].length === 0) regex.lastIndex += 1;
    const alternative = alternatives.find(({ matchedGroup }) => match![matchedGroup] !== undefined)!;
    const span = match.indices![alternative.spanGroup];
    if (span && span[1] > span[0] && containsDigit(text, span[0], span[1])) {
      found.push({ detector: alternative.detector, start: span[0], end: span[1] });
    }
  }
}
