/**
 * Identifiers found from a digit run `[start, runEnd)` that starts a token (or, for a dashed SSN, follows a word and a
 * joiner). Each returns the end of its match, or
 * -1. Bare digit strings are everywhere in cluster data (resourceVersions, UIDs' digits, ports, epoch seconds), so a
 * bare SSN (9 digits), phone (10) or NPI (10) counts only after a word that names it.
 */
import { hasCardIssuerPrefix, isLuhnValid, isValidNpi, isValidSsn } from './checksums.ts';
import { digitsAt, endsToken, hasContextBefore, isDigit, joinedToWordAfter, numberAt } from './characters.ts';

const DASH = 45;
const SPACE = 32;
const DOT = 46;

const SSN_CONTEXT = /ssn|social|\bss#|\btin\b|taxpayer/i;
const PHONE_CONTEXT = /phone|\btel|fax|mobile|\bcell|contact/i;
const NPI_CONTEXT = /npi/i;

/**
 * `123-45-6789`, `123 45 6789` anywhere; `123456789` after ssn, social, tin. A dashed one also where a name glues it
 * to words (`intake-123-45-6789.pdf`): the scanner calls this for a run after `word-` or `word_` too.
 */
export function detectSsn(text: string, start: number, runEnd: number): number {
  const digits = runEnd - start;
  if (digits === 9) {
    const valid =
      endsToken(text, runEnd) &&
      isValidSsn(
        numberAt(text, start, start + 3),
        numberAt(text, start + 3, start + 5),
        numberAt(text, start + 5, runEnd),
      );
    return valid && hasContextBefore(text, start, SSN_CONTEXT) ? runEnd : -1;
  }
  if (digits !== 3) return -1;
  const separator = text.charCodeAt(runEnd);
  if (separator !== DASH && separator !== SPACE) return -1;
  if (!digitsAt(text, runEnd + 1, 2) || text.charCodeAt(runEnd + 3) !== separator || !digitsAt(text, runEnd + 4, 4)) {
    return -1;
  }
  const end = runEnd + 8;
  const valid = isValidSsn(
    numberAt(text, start, runEnd),
    numberAt(text, runEnd + 1, runEnd + 3),
    numberAt(text, runEnd + 4, end),
  );
  // A dashed SSN may end where a name goes on (`123-45-6789.pdf`, `123-45-6789_front`).
  const ends = endsToken(text, end) || (separator === DASH && joinedToWordAfter(text, end));
  return valid && ends ? end : -1;
}

/**
 * North American numbers: `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `555 123 4567`, `+1 555 123 4567`,
 * `1-555-123-4567`. Area code and exchange start with 2–9 (NANP), which `123-456-7890` does not.
 */
const US_PHONE = /(?:\+1[-. ]?|1[-. ])?(?:\((\d{3})\)[-. ]?|(\d{3})[-. ])(\d{3})[-. ]\d{4}/y;
/** E.164 as written in data: `+447911123456`. */
const E164_COMPACT = /\+[1-9]\d{7,14}/y;
/** International with groups: `+44 7911 123456`, `+49-30-1234567`. */
const E164_GROUPED = /\+[1-9]\d{0,3}(?:[ -]\d{1,5}){1,5}(?!\d)/y;

function usPhoneAt(text: string, start: number): number {
  US_PHONE.lastIndex = start;
  const match = US_PHONE.exec(text);
  if (!match) return -1;
  const area = (match[1] ?? match[2])!;
  const end = start + match[0].length;
  return area.charCodeAt(0) >= 50 && match[3]!.charCodeAt(0) >= 50 && endsToken(text, end) ? end : -1;
}

/** A phone number from a digit run, an opening `(` or a `+`. */
export function detectPhone(text: string, start: number, runEnd: number): number {
  const first = text.charCodeAt(start);
  if (first === 40) return usPhoneAt(text, start);
  if (first === 43) return internationalPhoneAt(text, start);
  const digits = runEnd - start;
  const separator = text.charCodeAt(runEnd);
  if (digits === 10) {
    const valid = text.charCodeAt(start) >= 50 && text.charCodeAt(start + 3) >= 50 && endsToken(text, runEnd);
    return valid && hasContextBefore(text, start, PHONE_CONTEXT) ? runEnd : -1;
  }
  const grouped = separator === DASH || separator === SPACE || separator === DOT;
  if (grouped && digits === 3) return digitsAt(text, runEnd + 1, 3) ? usPhoneAt(text, start) : -1;
  if (grouped && digits === 1 && first === 49) return usPhoneAt(text, start);
  return -1;
}

function internationalPhoneAt(text: string, start: number): number {
  const us = usPhoneAt(text, start);
  if (us >= 0) return us;
  E164_COMPACT.lastIndex = start;
  if (E164_COMPACT.test(text) && endsToken(text, E164_COMPACT.lastIndex)) return E164_COMPACT.lastIndex;
  E164_GROUPED.lastIndex = start;
  if (!E164_GROUPED.test(text)) return -1;
  const end = E164_GROUPED.lastIndex;
  let digits = 0;
  for (let index = start; index < end; index += 1) if (isDigit(text.charCodeAt(index))) digits += 1;
  return digits >= 10 && digits <= 15 && endsToken(text, end) ? end : -1;
}

/** NPI: 10 digits starting 1 or 2 with the CMS check digit, after the word npi (`us-npi","value":"…"` included). */
export function detectNpi(text: string, start: number, runEnd: number): number {
  if (runEnd - start !== 10 || !endsToken(text, runEnd) || !isValidNpi(text, start)) return -1;
  return hasContextBefore(text, start, NPI_CONTEXT, true) ? runEnd : -1;
}

/**
 * Medicare Beneficiary Identifier (CMS MBI format): 11 characters, `1EG4-TE5-MK73` or `1EG4TE5MK73`. Positions 1, 4, 7,
 * 10, 11 are digits (position 1 not 0); 2, 5, 8, 9 letters; 3 and 6 letters or digits. Letters are upper case and never
 * S, L, O, I, B or Z.
 */
const MBI_LETTER = '[AC-HJKMNP-RT-Y]';
const MBI = new RegExp(
  `[1-9]${MBI_LETTER}[AC-HJKMNP-RT-Y\\d]\\d(-?)${MBI_LETTER}[AC-HJKMNP-RT-Y\\d]\\d\\1${MBI_LETTER}{2}\\d{2}`,
  'y',
);

export function detectMbi(text: string, start: number, runEnd: number): number {
  if (runEnd - start !== 1) return -1;
  MBI.lastIndex = start;
  return MBI.test(text) && endsToken(text, MBI.lastIndex) ? MBI.lastIndex : -1;
}

/** `4111 1111 1111 1111`, `3782-822463-10005`: one separator throughout. */
const CARD_GROUPED = /\d{4}([ -])\d{4,6}(?:\1\d{1,5}){1,3}(?!\d)/y;

/** The shape CARD_GROUPED starts with, tested before it runs: `2024-03-05` and `8080 ` fail here. */
function isCardSeparator(code: number): boolean {
  return code === SPACE || code === DASH;
}

/** Card numbers: 13–19 digits, bare or grouped, a known issuer prefix and a valid Luhn check digit. */
export function detectCreditCard(text: string, start: number, runEnd: number): number {
  const digits = runEnd - start;
  if (digits >= 13 && digits <= 19) return isCard(text, start, runEnd) ? runEnd : -1;
  if (digits !== 4 || !isCardSeparator(text.charCodeAt(runEnd)) || !digitsAt(text, runEnd + 1, 4)) return -1;
  CARD_GROUPED.lastIndex = start;
  if (!CARD_GROUPED.test(text)) return -1;
  // The pattern takes as many groups as there are: a number after the card in the same style (`4111 1111 1111 1111
  // 123-45-6789`) joins it. Fewer groups, longest first, find the card in front.
  for (let end = CARD_GROUPED.lastIndex; end > runEnd; end = text.lastIndexOf(text[runEnd]!, end - 1)) {
    if (isCard(text, start, end)) return end;
  }
  return -1;
}

/** 13–19 digits in `[start, end)` (separators aside) that end a token, with an issuer's prefix and a valid Luhn digit. */
function isCard(text: string, start: number, end: number): boolean {
  if (!endsToken(text, end)) return false;
  let count = 0;
  let prefix = 0;
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (!isDigit(code)) continue;
    if (count < 6) prefix = prefix * 10 + code - 48;
    count += 1;
  }
  return count >= 13 && count <= 19 && hasCardIssuerPrefix(prefix) && isLuhnValid(text, start, end);
}
