/** Check digits and number ranges that turn a digit shape into an identifier. Read from the text, separators skipped. */
import { isDigit } from './characters.ts';

/** The Luhn sum of the digits in `[start, end)`, rightmost digit undoubled (ISO/IEC 7812-1). */
function luhnSum(text: string, start: number, end: number): number {
  let sum = 0;
  let double = false;
  for (let index = end - 1; index >= start; index -= 1) {
    const code = text.charCodeAt(index);
    if (!isDigit(code)) continue;
    let digit = code - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum;
}

export function isLuhnValid(text: string, start: number, end: number): boolean {
  return luhnSum(text, start, end) % 10 === 0;
}

/**
 * NPI check digit: Luhn over the 10 digits prefixed by the card issuer prefix 80840 (CMS, "Requirements for NPI check
 * digit"). The prefix's digits always add 24 to the sum.
 */
export function isValidNpi(text: string, start: number): boolean {
  const first = text.charCodeAt(start);
  return (first === 49 || first === 50) && (luhnSum(text, start, start + 10) + 24) % 10 === 0;
}

/** SSA rules: area not 000, 666 or 900–999; group not 00; serial not 0000. */
export function isValidSsn(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/**
 * Issuer prefixes of the card networks (ISO/IEC 7812 IIN ranges): Visa 4; Mastercard 51–55 and 2221–2720; Amex 34, 37;
 * Discover 6011, 644–649, 65; UnionPay 62; JCB 3528–3589; Diners 300–305, 36, 38–39. `six` is the first six digits.
 */
export function hasCardIssuerPrefix(six: number): boolean {
  const one = Math.floor(six / 100_000);
  const two = Math.floor(six / 10_000);
  const three = Math.floor(six / 1000);
  const four = Math.floor(six / 100);
  return (
    one === 4 ||
    (two >= 51 && two <= 55) ||
    (four >= 2221 && four <= 2720) ||
    two === 34 ||
    two === 37 ||
    four === 6011 ||
    (three >= 644 && three <= 649) ||
    two === 65 ||
    two === 62 ||
    (four >= 3528 && four <= 3589) ||
    (three >= 300 && three <= 305) ||
    two === 36 ||
    two === 38 ||
    two === 39
  );
}
