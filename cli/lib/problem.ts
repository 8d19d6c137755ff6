/** Reading the API's RFC 7807 problem+json answers, and mapping them to the CLI's exit codes. */
import { CommandFailedError, UsageError } from '../errors.ts';

/** The parts of a problem+json body the CLI shows; anything else the server sends is ignored. */
export interface ApiProblem {
  status: number;
  title: string;
  detail: string;
  type?: string;
}

/** Bad input (exit 2): the request itself is wrong, so retrying it as-is cannot succeed. */
const BAD_INPUT_STATUSES = new Set([400, 413, 415, 422]);

/** Control characters (newlines, escapes) would let a server break the one-line message or drive the terminal. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]+/g;

/** One printable line of at most `max` characters. */
export function oneLine(text: string, max = 500): string {
  const line = text.replace(CONTROL_CHARACTERS, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Parses a problem body; a non-JSON or shapeless body still yields the status and its reason phrase. */
export function parseProblem(status: number, statusText: string, body: string): ApiProblem {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    value = undefined;
  }
  const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const title = typeof record.title === 'string' && record.title.trim() ? record.title : statusText || `HTTP ${status}`;
  const detail = typeof record.detail === 'string' ? record.detail : '';
  return {
    status,
    title: oneLine(title, 120),
    detail: oneLine(detail),
    ...(typeof record.type === 'string' ? { type: record.type } : {}),
  };
}

/** The error the CLI exits with for a problem: 2 for bad input, 1 for every denial or failure. */
export function problemError(problem: ApiProblem): Error {
  const message = problem.detail ? `${problem.title}: ${problem.detail}` : problem.title;
  return BAD_INPUT_STATUSES.has(problem.status) ? new UsageError(message) : new CommandFailedError(message);
}

/** The API answered with a problem; `problem` says which. */
export class ApiProblemError extends Error {
  override name = 'ApiProblemError';
  constructor(readonly problem: ApiProblem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
  }
}
