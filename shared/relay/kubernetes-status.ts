/**
 * Kubernetes `Status` objects (meta/v1): how the relay answers what it refuses, so kubectl prints the reason as it prints
 * an apiserver's (`Error from server (Forbidden): …`). Messages name the request and the rule, never a value from it.
 */

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'ServiceUnavailable'
  | 'InternalError'
  | 'MethodNotAllowed';

export interface KubernetesStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: StatusReason;
  code: number;
  details?: { name?: string; group?: string; kind?: string };
}

const CODES: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotAcceptable: 406,
  MethodNotAllowed: 405,
  RequestEntityTooLarge: 413,
  InternalError: 500,
  ServiceUnavailable: 503,
};

/** The Status for `reason`, its HTTP code from the reason (as the apiserver pairs them). */
export function failureStatus(reason: StatusReason, message: string): KubernetesStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code: CODES[reason] };
}
