/**
 * The fixed set of domain errors a use case may raise. shared/http/problem.ts maps each to one HTTP status and
 * problem type in one place. Messages are safe to show a caller: no token, secret or PHI ever goes into one.
 */

export class RequestValidationError extends Error {
  override name = 'RequestValidationError';
  constructor(
    message: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** The request is well formed but names something that does not exist or exceeds a configured bound. */
export class UnprocessableRequestError extends Error {
  override name = 'UnprocessableRequestError';
}

export class AccessDeniedError extends Error {
  override name = 'AccessDeniedError';
  constructor(
    message: string,
    readonly policies: string[] = [],
  ) {
    super(message);
  }
}

export class NoFreeSlotError extends Error {
  override name = 'NoFreeSlotError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The caller is authenticated but is not the requester, an approver or an admin of this request or grant. */
export class ForbiddenError extends Error {
  override name = 'ForbiddenError';
}

/** The grant exists but is revoked or expired: no token, no second revocation. */
export class GrantNotActiveError extends Error {
  override name = 'GrantNotActiveError';
}

/** Granting failed part way; everything it had created was undone. */
export class GrantFailedError extends Error {
  override name = 'GrantFailedError';
}

/** A capability this deployment does not offer yet (relay mode before the relay exists). */
export class NotAvailableError extends Error {
  override name = 'NotAvailableError';
}

/** The parts of a zod issue a validation error reports (structural, so this module needs no zod import). */
interface SchemaIssue {
  code: string;
  path: readonly PropertyKey[];
  message: string;
  keys?: readonly string[];
}

/**
 * A RequestValidationError listing every schema issue by its path: "the request body is invalid: namespaces: …" for
 * `{ subject: 'the request body', root: '(body)', unknown: 'field' }`, and likewise for a query string.
 */
export function validationErrorFrom(
  issues: readonly SchemaIssue[],
  labels: { subject: string; root: string; unknown: string },
): RequestValidationError {
  const errors = issues.map((issue) => ({
    path: issue.path.map(String).join('.') || labels.root,
    message:
      issue.code === 'unrecognized_keys' ? `unknown ${labels.unknown}(s): ${issue.keys?.join(', ')}` : issue.message,
  }));
  return new RequestValidationError(
    `${labels.subject} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    errors,
  );
}
