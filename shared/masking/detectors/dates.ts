/**
 * Dates tied to a person. In `contextual` mode a date without a time of day is always masked (a birth date, an admission
 * date), but a timestamp — RFC 3339 in metadata, the prefix of a log line — only shortly after a word such as dob, birth,
 * admit, discharge, death or dos. `all` masks every date and timestamp. Years run 1800–2199; two-digit years, bare
 * `YYYYMMDD` (a resourceVersion shape) and month-year alone are not dates here. The span covers the time part when there
 * is one.
 */
import { endsToken, hasContextBefore, isDigit, isLetter, numberAt, startsToken } from './characters.ts';

export type DateMode = 'contextual' | 'all';

const YEAR = '(?:1[89]|2[01])\\d\\d';
const MONTH_NAME =
  '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)';
/** 03/05/1980, 5-3-1980, 05.03.1980 (month or day first: either reading may hold) */
const YEAR_LAST = new RegExp(`(\\d\\d?)([-/.])(\\d\\d?)\\2${YEAR}`, 'y');
/** 5 Mar 1980, 05-Mar-1980, 5th March, 1980 */
const DAY_MONTH_YEAR = new RegExp(`(\\d\\d?)(?:st|nd|rd|th)?[ -]${MONTH_NAME}\\.?,?[ -]${YEAR}`, 'iy');
/** March 5, 1980, Mar. 5th 1980 */
const MONTH_DAY_YEAR = new RegExp(`${MONTH_NAME}\\.? (\\d\\d?)(?:st|nd|rd|th)?,? ${YEAR}`, 'iy');
/** T10:11:12.123Z, ` 10:11:12,123`, ` 10:11 +0100` */
const TIME_PART = /(?:T| |, )\d\d?:\d\d(?::\d\d(?:[.,]\d{1,9})?)?(?:Z| ?[+-]\d\d(?::?\d\d)?)?/y;

const PERSON_DATE_CONTEXT =
  /dob|d\.o\.b|birth|\bborn|admit|admission|discharg|death|\bdied|deceased|\bdos\b|date of service|service ?date/i;

function isDayAndMonth(day: number, month: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/** A date or timestamp; `personal` false for a timestamp that is not PHI, which the scanner then skips whole. */
export interface DateMatch {
  start: number;
  end: number;
  personal: boolean;
}

/** The date that starts at `start`, its date part ending at `dateEnd`, with its time part if it has one. */
function finish(text: string, start: number, dateEnd: number, mode: DateMode): DateMatch | undefined {
  TIME_PART.lastIndex = dateEnd;
  const timed = TIME_PART.test(text);
  const end = timed ? TIME_PART.lastIndex : dateEnd;
  if (!endsToken(text, end)) return undefined;
  const personal = !timed || mode === 'all' || hasContextBefore(text, start, PERSON_DATE_CONTEXT);
  return { start, end, personal };
}

/** A date from the digit run `[start, runEnd)`; a month-name-first date reaches back before it. */
export function detectDate(text: string, start: number, runEnd: number, mode: DateMode): DateMatch | undefined {
  const digits = runEnd - start;
  const next = text.charCodeAt(runEnd);
  let match: RegExpExecArray | null = null;
  let dateEnd = -1;
  if (digits === 4 && (next === 45 || next === 47)) {
    dateEnd = yearFirstEnd(text, start, next);
  } else if (digits <= 2) {
    if ((next === 45 || next === 47 || next === 46) && mayBeYearLast(text, runEnd, next)) {
      YEAR_LAST.lastIndex = start;
      match = YEAR_LAST.exec(text);
      if (match) {
        const first = Number(match[1]);
        const second = Number(match[3]);
        if (!isDayAndMonth(first, second) && !isDayAndMonth(second, first)) match = null;
      }
    }
    if (!match && mayStartMonthAfterDay(text, runEnd)) {
      DAY_MONTH_YEAR.lastIndex = start;
      match = DAY_MONTH_YEAR.exec(text);
      if (match && !isDayAndMonth(Number(match[1]), 1)) match = null;
    }
    if (!match) return detectMonthFirst(text, start, mode);
    dateEnd = start + match[0].length;
  }
  if (dateEnd < 0) return undefined;
  // A date inside a path (`/logs/2024/03/05/`) is a directory, not a person's date.
  const separator = text.charCodeAt(runEnd);
  if (separator === 47 && (text.charCodeAt(start - 1) === 47 || text.charCodeAt(dateEnd) === 47)) return undefined;
  return finish(text, start, dateEnd, mode);
}

/**
 * `2024-03-05`, `2024/3/5` (the year's four digits at `start`, then `separator`): where the date part ends, or -1. Read
 * by char codes, as the regular expression `(?:1[89]|2[01])\d\d([-/])(\d\d?)\1(\d\d?)` would match it: a log line
 * starts with one, so it is the commonest date there is.
 */
function yearFirstEnd(text: string, start: number, separator: number): number {
  const century = numberAt(text, start, start + 2);
  if (century < 18 || century > 21) return -1;
  const monthStart = start + 5;
  const monthEnd = digitRunEnd(text, monthStart, 2);
  if (monthEnd === monthStart || text.charCodeAt(monthEnd) !== separator) return -1;
  const dayStart = monthEnd + 1;
  const dayEnd = digitRunEnd(text, dayStart, 2);
  if (dayEnd === dayStart) return -1;
  return isDayAndMonth(numberAt(text, dayStart, dayEnd), numberAt(text, monthStart, monthEnd)) ? dayEnd : -1;
}

/**
 * What YEAR_LAST needs after the first number and `separator`, tested before it runs: one or two digits, the same
 * separator, a year's first digit. An address (`10.0.59.152`) or a version (`7.4.0`) fails here.
 */
function mayBeYearLast(text: string, separatorAt: number, separator: number): boolean {
  const secondEnd = digitRunEnd(text, separatorAt + 1, 2);
  if (secondEnd === separatorAt + 1 || text.charCodeAt(secondEnd) !== separator) return false;
  const century = text.charCodeAt(secondEnd + 1);
  return century === 49 || century === 50;
}

/** The end of the digits from `at`, at most `most` of them. */
function digitRunEnd(text: string, at: number, most: number): number {
  let end = at;
  while (end < at + most && isDigit(text.charCodeAt(end))) end += 1;
  return end;
}

const MONTH_PREFIXES = new Set(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((prefix) =>
    monthKey(prefix, 0),
  ),
);

/** j f m a s o n d: most words after a number fail on their first letter, before the set lookup. */
const MONTH_INITIALS = [106, 102, 109, 97, 115, 111, 110, 100];

/** The first three letters at `at`, lower-cased, as one number: a month test without slicing. */
function monthKey(text: string, at: number): number {
  return ((text.charCodeAt(at) | 32) << 16) | ((text.charCodeAt(at + 1) | 32) << 8) | (text.charCodeAt(at + 2) | 32);
}

/** Cheap test before the regex: a month name follows the day (`5 Mar`, `05-Mar`, `5th March`). */
function mayStartMonthAfterDay(text: string, dayEnd: number): boolean {
  let index = dayEnd;
  if (isLetter(text.charCodeAt(index))) index += 2; // an ordinal suffix
  const separator = text.charCodeAt(index);
  if (separator !== 32 && separator !== 45) return false;
  return MONTH_INITIALS.includes(text.charCodeAt(index + 1) | 32) && MONTH_PREFIXES.has(monthKey(text, index + 1));
}

/** `March 5, 1980`: the digit run follows a month name and a space. */
function detectMonthFirst(text: string, start: number, mode: DateMode): DateMatch | undefined {
  if (text.charCodeAt(start - 1) !== 32) return undefined;
  let wordEnd = start - 1;
  if (text.charCodeAt(wordEnd - 1) === 46) wordEnd -= 1;
  let wordStart = wordEnd;
  while (wordStart > 0 && wordEnd - wordStart < 10 && isLetter(text.charCodeAt(wordStart - 1))) wordStart -= 1;
  if (wordEnd - wordStart < 3 || !MONTH_PREFIXES.has(monthKey(text, wordStart)) || !startsToken(text, wordStart)) {
    return undefined;
  }
  MONTH_DAY_YEAR.lastIndex = wordStart;
  const match = MONTH_DAY_YEAR.exec(text);
  if (!match || !isDayAndMonth(Number(match[1]), 1)) return undefined;
  return finish(text, wordStart, wordStart + match[0].length, mode);
}
