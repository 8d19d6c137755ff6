/**
 * HTTP helpers for tests of the API over loopback, and the Powertools settings every handler test needs. Import this
 * module before any handler module: the logger, metrics and tracer read these variables when they are made.
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'GatehouseTest';
process.env.POWERTOOLS_SERVICE_NAME ??= 'gatehouse-test';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [extension: string]: unknown;
}

export interface ApiResponse {
  /** The URL requested. */
  url: string;
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; throws when it is not JSON. */
  json<T = Record<string, unknown>>(): T;
}

export interface CallOptions {
  /** The bearer token; no Authorization header without it (unless `headers` sets one). */
  token?: string;
  /** Sent as JSON with `Content-Type: application/json`. */
  body?: unknown;
  /** Sent as is; `headers` should then say its content type. */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** One request to the API at `baseUrl`, answered in full. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.rawBody !== undefined) body = options.rawBody;
  Object.assign(headers, options.headers);
  const response = await fetch(new URL(path, baseUrl), { method, headers, body });
  const text = await response.text();
  return {
    url: response.url,
    status: response.status,
    headers: response.headers,
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}

/**
 * Asserts nothing itself: returns the problem document of an error response after checking the response is one
 * (status, media type, and a body whose `status` repeats the response's), so a test can assert on its detail.
 */
export function problemOf(response: ApiResponse): Problem {
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got ${contentType || 'no content type'}: ${response.text}`);
  }
  const problem = response.json<Problem>();
  if (problem.status !== response.status) {
    throw new Error(`problem status ${problem.status} differs from the response status ${response.status}`);
  }
  for (const member of ['type', 'title', 'detail'] as const) {
    if (typeof problem[member] !== 'string' || problem[member].length === 0) {
      throw new Error(`problem document has no ${member}: ${response.text}`);
    }
  }
  return problem;
}
