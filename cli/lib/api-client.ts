/**
 * The Gatehouse HTTP API as the CLI calls it: JSON in and out, problem+json errors, and a bounded retry when the API
 * answers 503 with Retry-After (no free slot, audit log briefly unavailable).
 */
import { CommandFailedError, UsageError } from '../errors.ts';
import { ApiProblemError, parseProblem } from './problem.ts';

/** How many times a 503 with Retry-After is tried in all, and the longest wait honoured between tries. */
export const MAX_ATTEMPTS = 3;
export const MAX_RETRY_AFTER_SECONDS = 30;

export type Fetch = typeof fetch;

export interface ApiClientProps {
  /** The API's base URL, e.g. https://gatehouse.example.com or http://127.0.0.1:8787. */
  apiUrl: string;
  /** The caller's OIDC token; sent as a bearer token, never printed. */
  bearerToken: string;
  fetch?: Fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Progress lines for stderr (never a token). */
  progress?: (line: string) => void;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/**
 * Checks an API URL: https, or http only to a loopback address (the local runtime), because every call carries the
 * caller's OIDC token as a bearer token (RFC 6750 section 5.3: bearer tokens only over TLS).
 */
export function parseApiUrl(value: string | undefined): URL {
  if (value === undefined || value.trim() === '') {
    throw new UsageError('no API URL: pass --api or set GATEHOUSE_API');
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new UsageError(`--api is not a URL: ${JSON.stringify(value.slice(0, 100))}`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new UsageError('--api must be an https:// URL (http:// only for a loopback address)');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError('--api must not carry credentials, a query or a fragment');
  }
  return url;
}

export class ApiClient {
  private readonly base: URL;
  private readonly fetch: Fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly props: ApiClientProps) {
    this.base = parseApiUrl(props.apiUrl);
    this.fetch = props.fetch ?? fetch;
    this.sleep = props.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** POSTs JSON and returns the JSON answer; a problem answer throws {@link ApiProblemError}. */
  async post<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    return this.call<T>('POST', path, body, headers);
  }

  async get<T>(path: string): Promise<ApiResponse<T>> {
    return this.call<T>('GET', path, undefined, {});
  }

  private async call<T>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<ApiResponse<T>> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`);
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await this.fetch(url, {
          method,
          headers: {
            Accept: 'application/json, application/problem+json',
            Authorization: `Bearer ${this.props.bearerToken}`,
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          redirect: 'error',
          signal: AbortSignal.timeout(60_000),
        });
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
        const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (cause as Error | undefined)?.name;
        throw new CommandFailedError(`cannot reach the Gatehouse API at ${this.base.origin} (${code ?? 'error'})`);
      }
      const text = await response.text();
      if (response.ok) {
        try {
          return { status: response.status, body: JSON.parse(text) as T };
        } catch {
          throw new CommandFailedError(`the Gatehouse API answered ${response.status} with a body that is not JSON`);
        }
      }
      const problem = parseProblem(response.status, response.statusText, text);
      const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
      if (response.status === 503 && retryAfter !== undefined && attempt < MAX_ATTEMPTS) {
        const wait = Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS);
        this.props.progress?.(`${problem.title}; retrying in ${wait}s (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`);
        await this.sleep(wait * 1000);
        continue;
      }
      throw new ApiProblemError(problem);
    }
  }
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 section 10.2.3); anything else is ignored. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
