/** Email addresses, found from their `@`. `image@sha256:…` and `pkg@1.2.3` are not: the domain needs a dot and a TLD. */
import { isAlphanumeric, isLetter } from './characters.ts';

const MAX_LOCAL_PART = 64;

function isLocalPartCharacter(code: number): boolean {
  // RFC 5322 dot-atom characters common in practice: letters, digits and . _ % + -
  return isAlphanumeric(code) || code === 46 || code === 95 || code === 37 || code === 43 || code === 45;
}

/** The address around the `@` at `at`, or undefined. */
export function detectEmail(text: string, at: number): { start: number; end: number } | undefined {
  let start = at;
  while (start > 0 && at - start < MAX_LOCAL_PART && isLocalPartCharacter(text.charCodeAt(start - 1))) start -= 1;
  while (start < at && text.charCodeAt(start) === 46) start += 1;
  if (start === at) return undefined;
  let index = at + 1;
  let labels = 0;
  let lastLabelStart = index;
  for (;;) {
    const labelStart = index;
    while (index < text.length && (isAlphanumeric(text.charCodeAt(index)) || text.charCodeAt(index) === 45)) index += 1;
    if (index === labelStart) break;
    labels += 1;
    lastLabelStart = labelStart;
    if (text.charCodeAt(index) !== 46 || !isAlphanumeric(text.charCodeAt(index + 1))) break;
    index += 1;
  }
  if (labels < 2 || index - lastLabelStart < 2) return undefined;
  for (let tld = lastLabelStart; tld < index; tld += 1) {
    if (!isLetter(text.charCodeAt(tld))) return undefined;
  }
  return { start, end: index };
}
