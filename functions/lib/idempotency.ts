import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import type { AccessOutcome } from '#shared/access/access-service.ts';
import { RequestValidationError } from '#shared/access/errors.ts';
import type { AccessRequestInput, Principal } from '#shared/model.ts';
import type { Runtime } from './runtime.ts';

export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError';
}

export class IdempotencyInProgressError extends Error {
  override name = 'IdempotencyInProgressError';
}

interface IdempotentRequest {
  principalId: string;
  key: string;
  body: AccessRequestInput;
}

const KEY_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;
const made = new WeakMap<Runtime, ReturnType<typeof wrap>>();

function wrap(runtime: Runtime) {
  const config = new IdempotencyConfig({
    // Keyed on the caller and their Idempotency-Key: two callers never share a result.
    eventKeyJmesPath: '[principalId, key]',
    // The same key with another body is a client bug, not a replay.
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: 3600,
  });
  const requestAccess = makeIdempotent(
    (request: IdempotentRequest, principal: Principal): Promise<AccessOutcome> =>
      runtime.service.requestAccess(principal, request.body),
    { persistenceStore: runtime.idempotency, config, dataIndexArgument: 0 },
  );
  return { config, requestAccess };
}

/**
 * Creates the access request once per (caller, Idempotency-Key): a retry gets the first outcome back. The stored
 * outcome holds no credential; the caller mints a fresh token for it.
 */
export async function requestAccessOnce(
  runtime: Runtime,
  context: Context,
  principal: Principal,
  key: string,
  body: AccessRequestInput,
): Promise<AccessOutcome> {
  if (!KEY_PATTERN.test(key)) {
    throw new RequestValidationError('Idempotency-Key must be 8 to 128 characters of letters, digits and ._:-');
  }
  let idempotent = made.get(runtime);
  if (!idempotent) {
    idempotent = wrap(runtime);
    made.set(runtime, idempotent);
  }
  idempotent.config.registerLambdaContext(context);
  try {
    return await idempotent.requestAccess({ principalId: principal.id, key, body }, principal);
  } catch (error) {
    if (error instanceof IdempotencyValidationError) {
      throw new IdempotencyConflictError('this Idempotency-Key was used with a different request body');
    }
    if (error instanceof IdempotencyAlreadyInProgressError) {
      throw new IdempotencyInProgressError(
        'a request with this Idempotency-Key is still being processed; retry shortly',
      );
    }
    throw error;
  }
}
