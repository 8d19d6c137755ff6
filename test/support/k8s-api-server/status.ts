/**
 * Failures as the apiserver reports them: a `meta/v1` Status with a reason and code
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#responses and k8s.io/apimachinery's StatusReason).
 */

/** The `details` of a Status. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

/** A request failure that becomes a Status response. */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiStatusError';
  }

  /** The Status object sent to the client. */
  toStatus(): Record<string, unknown> {
    return failureStatus(this.code, this.reason, this.message, this.details);
  }
}

/** A Failure Status. */
export function failureStatus(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** `pods`, or `deployments.apps`: how the apiserver names a resource in messages. */
export function qualifiedResource(group: string, resource: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export const notFound = (group: string, resource: string, name: string): ApiStatusError =>
  new ApiStatusError(404, 'NotFound', `${qualifiedResource(group, resource)} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });

export const alreadyExists = (group: string, resource: string, name: string): ApiStatusError =>
  new ApiStatusError(409, 'AlreadyExists', `${qualifiedResource(group, resource)} "${name}" already exists`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });

export const conflict = (group: string, resource: string, name: string, why: string): ApiStatusError =>
  new ApiStatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} "${name}": ${why}`,
    { name, ...(group ? { group } : {}), kind: resource },
  );

export const invalid = (
  group: string,
  kind: string,
  name: string,
  causes: { field: string; message: string; reason?: string }[],
): ApiStatusError =>
  new ApiStatusError(
    422,
    'Invalid',
    `${kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
    {
      name,
      ...(group ? { group } : {}),
      kind,
      causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, field: c.field })),
    },
  );

export const badRequest = (message: string): ApiStatusError => new ApiStatusError(400, 'BadRequest', message);

/** The 404 for a path the server does not serve at all. */
export const pathNotFound = (): ApiStatusError =>
  new ApiStatusError(404, 'NotFound', 'the server could not find the requested resource', {});
