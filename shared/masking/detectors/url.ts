/**
 * Identifying query values: in `GET /fhir/Patient?family=Doe&birthdate=1980-03-05`, the values of configured parameters
 * (compared case-insensitively, FHIR modifiers such as `name:exact` included) are detections; the URL and the other
 * parameters stay readable. A `?` counts only right after a path, never after a space or a quote.
 */
import type { Detection } from '../model.ts';
import { TOKEN_PREFIXES } from '../model.ts';

function endsQuery(code: number): boolean {
  // whitespace, quotes, angle brackets, backtick, backslash (a JSON escape) and the fragment
  return (
    code <= 32 || code === 34 || code === 39 || code === 60 || code === 62 || code === 96 || code === 92 || code === 35
  );
}

function startsWithToken(text: string, at: number): boolean {
  return TOKEN_PREFIXES.some((prefix) => text.startsWith(prefix, at));
}

/** Adds a detection per identifying value of the query at `question`; returns where the query ends. */
export function detectQueryValues(
  text: string,
  question: number,
  identifyingParameters: ReadonlySet<string>,
  found: Detection[],
): number {
  if (question === 0 || endsQuery(text.charCodeAt(question - 1))) return question + 1;
  let index = question + 1;
  while (index < text.length) {
    const nameStart = index;
    let code = text.charCodeAt(index);
    while (index < text.length && !endsQuery(code) && code !== 61 && code !== 38) code = text.charCodeAt(++index);
    if (index >= text.length || code !== 61) {
      if (code === 38) {
        index += 1;
        continue;
      }
      break;
    }
    const nameEnd = index;
    const valueStart = index + 1;
    index = valueStart;
    code = text.charCodeAt(index);
    while (index < text.length && !endsQuery(code) && code !== 38) code = text.charCodeAt(++index);
    if (
      index > valueStart &&
      !startsWithToken(text, valueStart) &&
      isIdentifying(text, nameStart, nameEnd, identifyingParameters)
    ) {
      found.push({ detector: 'url', start: valueStart, end: index });
    }
    if (code !== 38) break;
    index += 1;
  }
  return index;
}

function isIdentifying(text: string, start: number, end: number, parameters: ReadonlySet<string>): boolean {
  const name = text.slice(start, end).toLowerCase();
  const modifier = name.indexOf(':');
  return parameters.has(modifier < 0 ? name : name.slice(0, modifier));
}
