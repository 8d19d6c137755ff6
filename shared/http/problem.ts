/**
 * RFC 7807 problem details, and the one place that maps domain errors to HTTP statuses. An error not listed here is
 * not meant for the client: it becomes a bare 500 whose detail says nothing about the cause.
 */
import {
  AccessDeniedError,
  ForbiddenError,
  GrantFailedError,
  GrantNotActiveError,
  NoFreeSlotError,
  NotAvailableError,
  NotFoundError,
  RequestValidationError,
  UnprocessableRequestError,
} from '../access/errors.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [extension: string]: unknown;
}

export interface ProblemResponse {
  problem: Problem;
  headers: Record<string, string>;
}

const TYPE_BASE = 'https://gatehouse.dev/problems/';

/** Errors thrown outside shared/access carry these names; matching by name keeps this module free of adapters. */
const NAMED_ERRORS: Record<string, { status: number; type: string; title: string; exposeMessage: boolean }> = {
  AuthenticationError: { status: 401, type: 'unauthenticated', title: 'Authentication failed', exposeMessage: true },
  SlackSignatureError: {
    status: 401,
    type: 'bad-signature',
    title: 'Request signature not valid',
    exposeMessage: true,
  },
  AuditWriteError: { status: 503, type: 'audit-unavailable', title: 'Audit log unavailable', exposeMessage: false },
  StoreError: { status: 503, type: 'store-unavailable', title: 'State store unavailable', exposeMessage: false },
  PayloadTooLargeError: {
    status: 413,
    type: 'payload-too-large',
    title: 'Request body too large',
    exposeMessage: true,
  },
  UnsupportedMediaTypeError: {
    status: 415,
    type: 'unsupported-media-type',
    title: 'Unsupported media type',
    exposeMessage: true,
  },
  IdempotencyConflictError: {
    status: 409,
    type: 'idempotency-conflict',
    title: 'Idempotency key reused',
    exposeMessage: true,
  },
  IdempotencyInProgressError: {
    status: 409,
    type: 'idempotency-in-progress',
    title: 'Request with this idempotency key is in progress',
    exposeMessage: true,
  },
};

const GENERIC_DETAIL: Record<string, string> = {
  AuditWriteError: 'the audit log could not record this step, so nothing was done; retry shortly',
  StoreError: 'the state store is unavailable, so nothing was done; retry shortly',
};

export function problemFor(error: unknown, instance?: string): ProblemResponse {
  const make = (status: number, type: string, title: string, detail: string, extra: Record<string, unknown> = {}) => ({
    problem: { type: TYPE_BASE + type, title, status, detail, ...(instance ? { instance } : {}), ...extra },
    headers: {} as Record<string, string>,
  });

  if (error instanceof RequestValidationError) {
    return make(400, 'invalid-request', 'Invalid request', error.message, { errors: error.errors });
  }
  if (error instanceof UnprocessableRequestError)
    return make(422, 'unprocessable', 'Request cannot be met', error.message);
  if (error instanceof AccessDeniedError) {
    return make(403, 'access-denied', 'Access denied by policy', error.message, { policies: error.policies });
  }
  if (error instanceof ForbiddenError) return make(403, 'forbidden', 'Not allowed', error.message);
  if (error instanceof NotFoundError) return make(404, 'not-found', 'Not found', error.message);
  if (error instanceof GrantNotActiveError) return make(409, 'grant-not-active', 'Grant not active', error.message);
  if (error instanceof NotAvailableError) return make(501, 'not-available', 'Not available', error.message);
  if (error instanceof NoFreeSlotError) {
    const response = make(503, 'no-free-slot', 'No free access slot', error.message, {
      retryAfterSeconds: error.retryAfterSeconds,
    });
    response.headers['Retry-After'] = String(error.retryAfterSeconds);
    return response;
  }
  if (error instanceof GrantFailedError) return make(503, 'grant-failed', 'Grant failed', error.message);

  const name = error instanceof Error ? error.name : '';
  const known = NAMED_ERRORS[name];
  if (known) {
    const detail = known.exposeMessage ? (error as Error).message : (GENERIC_DETAIL[name] ?? known.title);
    const response = make(known.status, known.type, known.title, detail);
    if (name === 'AuthenticationError') response.headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
    if (known.status === 503) response.headers['Retry-After'] = '5';
    return response;
  }
  return make(500, 'internal', 'Internal error', 'an internal error occurred; it has been logged');
}
