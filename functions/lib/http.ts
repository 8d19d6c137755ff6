/**
 * The HTTP request path shared by the API handlers, as small middy middlewares with one concern each:
 * observability → header normalisation → problem+json errors → authentication. Handlers stay thin.
 */
import { createHash } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { RequestValidationError, validationErrorFrom } from '#shared/access/errors.ts';
import { fingerprint } from '#shared/audit/fingerprint.ts';
import { AuthenticationError } from '#shared/identity/errors.ts';
import type { Principal } from '#shared/model.ts';
import { APPROVAL_PAGE_HEADERS } from '#shared/approvals/confirmation-page.ts';
import { problemFor } from '#shared/http/problem.ts';
import type { AwsAdapters } from './aws-runtime.ts';
import { logger, metrics, tracer } from './observability.ts';
import { getRuntime, type Runtime } from './runtime.ts';

export interface ApiContext extends Context {
  runtime: Runtime;
  /** Set by `authenticate()`; handlers that use it are always behind it. */
  principal: Principal;
}

export type ApiHandler = (event: APIGatewayProxyEvent, context: ApiContext) => Promise<APIGatewayProxyResult>;

type Middleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>;

export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
}

export class UnsupportedMediaTypeError extends Error {
  override name = 'UnsupportedMediaTypeError';
}

export interface ApiHandlerOptions {
  /** Verify the bearer token; `false` only for `/healthz`. @default true */
  authenticate?: boolean;
  /** The AWS adapters the handler uses besides DynamoDB (see `aws-adapters.ts`). @default none */
  adapters?: AwsAdapters;
}

/** Wraps an API handler. */
export function apiHandler(handler: ApiHandler, options: ApiHandlerOptions = {}) {
  const { authenticate: authenticates = true, adapters = {} } = options;
  const chain = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics))
    .use(httpHeaderNormalizer())
    .use(withRuntime(adapters))
    .use(problemJson());
  if (authenticates) chain.use(authenticate());
  // The middlewares above set runtime and principal on the context before the handler runs.
  return chain.handler((event, context) => handler(event, context as ApiContext));
}

function withRuntime(adapters: AwsAdapters): Middleware {
  return {
    before: async (request) => {
      (request.context as ApiContext).runtime = await getRuntime(adapters);
    },
    after: async (request) => {
      countStatus(request.response?.statusCode ?? 200);
    },
  };
}

/** One metric per answer, by status class (Status2xx, Status4xx, Status5xx): what the dashboards and alarms read. */
function countStatus(status: number): void {
  metrics.addMetric(`Status${Math.floor(status / 100)}xx`, 'Count', 1);
}

/** Every error becomes RFC 7807 problem+json; one not meant for the client is logged and answered as a bare 500. */
function problemJson(): Middleware {
  return {
    onError: async (request) => {
      const { problem, headers } = problemFor(request.error, request.event.path);
      if (problem.status >= 500) {
        logger.error('request failed', { errorName: request.error?.name, status: problem.status });
      } else {
        logger.info('request refused', { errorName: request.error?.name, status: problem.status });
      }
      countStatus(problem.status);
      request.response = {
        statusCode: problem.status,
        headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
        body: JSON.stringify(problem),
      };
    },
  };
}

/** Verifies the OIDC bearer token; failures are audited (fingerprint, reason, source) before the 401. */
function authenticate(): Middleware {
  return {
    before: async (request) => {
      const context = request.context as ApiContext;
      const { runtime } = context;
      const header = request.event.headers?.authorization ?? '';
      const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      try {
        if (!token) throw new AuthenticationError('missing');
        context.principal = (await runtime.verifier.verify(token)).principal;
      } catch (error) {
        const reason = error instanceof AuthenticationError ? error.reason : 'jwks_unavailable';
        const sourceIp = request.event.requestContext?.identity?.sourceIp ?? 'unknown';
        await runtime.audit.append({
          type: 'auth.failed',
          stream: authFailureStream(new Date(), sourceIp),
          actor: { id: 'anonymous' },
          details: {
            reason,
            sourceIp,
            path: request.event.path,
            ...(token ? { tokenFingerprint: fingerprint(token) } : {}),
          },
        });
        throw error;
      }
    },
  };
}

/**
 * Failed authentications chain per day and per source shard: a flood from one address contends only with itself,
 * and never with the streams of real requests.
 */
function authFailureStream(now: Date, sourceIp: string): string {
  const shard = createHash('sha256').update(sourceIp).digest()[0]! % 16;
  return `auth/${now.toISOString().slice(0, 10)}/${shard}`;
}

/** The request body's bytes as the client sent them (signatures are computed over these), within a size limit. */
export function readRawBody(event: APIGatewayProxyEvent, maxBytes: number): Buffer {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes) {
    throw new PayloadTooLargeError(`the request body is ${bytes.length} bytes; the limit is ${maxBytes}`);
  }
  return bytes;
}

/** Reads a JSON body within the configured size, refusing other media types, malformed JSON and schema errors. */
export function parseJsonBody<Schema extends z.ZodType>(
  event: APIGatewayProxyEvent,
  schema: Schema,
  maxBytes: number,
  options: { optional?: boolean } = {},
): z.infer<Schema> {
  const raw = event.body ?? '';
  if (raw.length === 0 && options.optional) return schema.parse({});
  const contentType = event.headers?.['content-type'] ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new UnsupportedMediaTypeError('the request body must be application/json');
  }
  const bytes = readRawBody(event, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RequestValidationError('the request body is not valid JSON');
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw validationErrorFrom(result.error.issues, { subject: 'the request body', root: '(body)', unknown: 'field' });
  }
  return result.data;
}

/** A JSON response that no cache may keep: these carry credentials or per-caller state. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** An HTML page for a person on a phone (approval links): no cache, no referrer (the URL carries the token). */
export function html(statusCode: number, body: string): APIGatewayProxyResult {
  return { statusCode, headers: { ...APPROVAL_PAGE_HEADERS }, body };
}

/** Path parameters are ids of a known shape; anything else cannot exist. */
export function pathId(event: APIGatewayProxyEvent, prefix: 'req' | 'grt'): string {
  const id = event.pathParameters?.id ?? '';
  if (!new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`).test(id)) {
    throw new RequestValidationError(`"${id.slice(0, 40)}" is not a ${prefix === 'req' ? 'request' : 'grant'} id`);
  }
  return id;
}
