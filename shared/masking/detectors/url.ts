/**
 * Identifying query values: in `GET /fhir/Patient?family=Doe&birthdate=1980-03-05`, the values of configured parameters
 * (compared case-insensitively, FHIR modifiers such as `name:exact` included) are detections; the URL and the other
 * parameters stay readable. A `?` counts only right after a path, never after a space or a quote. The scanner goes on
 * inside each value, so a date or an email there is claimed by its own detector.
 */
import { TOKEN_PREFIXES } from '../model.ts';

function endsQuery(code: number): boolean {
  // whitespace, quotes, angle brackets, backtick, backslash (a JSON escape) and the fragment
  return (
    code <= 32 || code === 34 || code === 39 || code === 60 || code === 62 || code === 96 || code === 92 || code === 35
  );
}

/** Where the query that starts at the `?` at `question` ends, or -1 when this `?` does not start a query. */
export function queryEnd(text: string, question: number): number {
  if (question === 0 || endsQuery(text.charCodeAt(question - 1))) return -1;
  let index = question + 1;
  while (index < text.length && !endsQuery(text.charCodeAt(index))) index += 1;
  return index;
}

function startsWithToken(text: string, at: number): boolean {
  return text.charCodeAt(at) === 91 && TOKEN_PREFIXES.some((prefix) => text.startsWith(prefix, at));
}

/** The value of the parameter after the `?` or `&` at `separator` when its name is identifying. */
export function detectQueryValue(
  text: string,
  separator: number,
  end: number,
  identifyingParameters: ReadonlySet<string>,
): { start: number; end: number } | undefined {
  let equals = separator + 1;
  while (equals < end && text.charCodeAt(equals) !== 61 && text.charCodeAt(equals) !== 38) equals += 1;
  if (equals >= end || text.charCodeAt(equals) !== 61) return undefined;
  const valueStart = equals + 1;
  let valueEnd = valueStart;
  while (valueEnd < end && text.charCodeAt(valueEnd) !== 38) valueEnd += 1;
  if (valueEnd === valueStart || startsWithToken(text, valueStart)) return undefined;
  const name = text.slice(separator + 1, equals).toLowerCase();
  const modifier = name.indexOf(':');
  return identifyingParameters.has(modifier < 0 ? name : name.slice(0, modifier))
    ? { start: valueStart, end: valueEnd }
    : undefined;
}
