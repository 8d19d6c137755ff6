/**
 * US street addresses and ZIP codes. A street address is a house number, one to four capitalised words (or an ordinal,
 * `5th`) and a street suffix (`St`, `Street`, `Ave`, …, in title or upper case), with an optional unit and an optional
 * `, City, ST`. A ZIP (`12345`, `12345-6789`) counts only after `, ST ` (a state abbreviation after a comma, as in an
 * address) or shortly after zip or postal: otherwise every port and count would be a ZIP.
 */
import { digitsAt, endsToken, hasContextBefore, isDigit, isUpper } from './characters.ts';

const STREET_SUFFIXES = [
  'Street',
  'St',
  'Avenue',
  'Ave',
  'Road',
  'Rd',
  'Boulevard',
  'Blvd',
  'Lane',
  'Ln',
  'Drive',
  'Dr',
  'Court',
  'Ct',
  'Place',
  'Pl',
  'Way',
  'Terrace',
  'Ter',
  'Circle',
  'Cir',
  'Parkway',
  'Pkwy',
  'Highway',
  'Hwy',
  'Square',
  'Sq',
  'Trail',
  'Trl',
  'Plaza',
  'Alley',
  'Row',
  'Loop',
  'Pike',
  'Crescent',
];
const SUFFIX = `(?:${STREET_SUFFIXES.flatMap((suffix) => [suffix, suffix.toUpperCase()]).join('|')})`;
const WORD = `(?:[A-Z][A-Za-z'-]*|\\d+(?:st|nd|rd|th))`;
const UNIT = `(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|APT|SUITE|STE|UNIT)\\.? ?#?[A-Za-z0-9-]+|,? #[A-Za-z0-9-]+)`;
const CITY_STATE = `(?:, [A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*){0,3}, [A-Z]{2}(?![A-Za-z]))`;
const STREET_ADDRESS = new RegExp(
  `\\d{1,6}(?:-\\d{1,4})? (?:[NSEW]\\.? )?(?:${WORD} ){1,4}${SUFFIX}\\.?(?![A-Za-z])${UNIT}?${CITY_STATE}?`,
  'y',
);

/** `1234 Main St`, `10 W 42nd Street, Apt 5B, New York, NY` (the ZIP after it is a ZIP detection of its own). */
export function detectStreetAddress(text: string, start: number, runEnd: number): number {
  if (runEnd - start > 6 || text.charCodeAt(runEnd) !== 32) return -1;
  const word = text.charCodeAt(runEnd + 1);
  if (!isUpper(word) && !isDigit(word)) return -1;
  STREET_ADDRESS.lastIndex = start;
  return STREET_ADDRESS.test(text) ? STREET_ADDRESS.lastIndex : -1;
}

const STATES = new Set(
  (
    'AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK ' +
    'OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI'
  ).split(' '),
);
const ZIP_CONTEXT = /(?<!g)zip|postal/i;

/** True for `, ST ` right before `start`. */
function followsStateAfterComma(text: string, start: number): boolean {
  if (start < 5 || text.charCodeAt(start - 1) !== 32) return false;
  if (!isUpper(text.charCodeAt(start - 2)) || !isUpper(text.charCodeAt(start - 3))) return false;
  const beforeState = text.charCodeAt(start - 4);
  const comma = beforeState === 32 ? text.charCodeAt(start - 5) : beforeState;
  return comma === 44 && STATES.has(text.slice(start - 3, start - 1));
}

export function detectZip(text: string, start: number, runEnd: number): number {
  if (runEnd - start !== 5) return -1;
  const end = text.charCodeAt(runEnd) === 45 && digitsAt(text, runEnd + 1, 4) ? runEnd + 5 : runEnd;
  if (!endsToken(text, end)) return -1;
  return followsStateAfterComma(text, start) || hasContextBefore(text, start, ZIP_CONTEXT) ? end : -1;
}
