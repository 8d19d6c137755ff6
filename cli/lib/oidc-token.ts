/**
 * Where the caller's OIDC token comes from, first match wins: `--oidc-token`, `--oidc-token-file`,
 * `GATEHOUSE_OIDC_TOKEN`, then GitHub Actions' id-token endpoint (a job with `permissions: id-token: write`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CommandFailedError, UsageError } from '../errors.ts';
import type { Fetch } from './api-client.ts';

export const DEFAULT_AUDIENCE = 'gatehouse';

export interface OidcTokenSource {
  oidcToken?: string;
  oidcTokenFile?: string;
  audience: string;
  env: NodeJS.ProcessEnv;
  fetch?: Fetch;
}

export interface OidcToken {
  token: string;
  /** Where it came from, for progress lines. */
  source: 'flag' | 'file' | 'env' | 'github-actions';
}

/** Resolves the OIDC token; none found is bad usage (exit 2), a failing GitHub endpoint a failure (exit 1). */
export async function resolveOidcToken(source: OidcTokenSource): Promise<OidcToken> {
  if (source.oidcToken !== undefined) return { token: checked(source.oidcToken, '--oidc-token'), source: 'flag' };
  if (source.oidcTokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(source.oidcTokenFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read --oidc-token-file ${source.oidcTokenFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return { token: checked(text, `--oidc-token-file ${source.oidcTokenFile}`), source: 'file' };
  }
  const fromEnv = source.env.GATEHOUSE_OIDC_TOKEN;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { token: checked(fromEnv, 'GATEHOUSE_OIDC_TOKEN'), source: 'env' };
  }
  const requestUrl = source.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = source.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (requestUrl && requestToken) {
    return {
      token: await githubActionsToken(requestUrl, requestToken, source.audience, source.fetch ?? fetch),
      source: 'github-actions',
    };
  }
  throw new UsageError(
    'no OIDC token: pass --oidc-token-file, set GATEHOUSE_OIDC_TOKEN, or run in GitHub Actions with `permissions: id-token: write`',
  );
}

/** A JWT is three base64url parts; trimming drops the newline a file or `echo` adds. */
function checked(value: string, from: string): string {
  const token = value.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    throw new UsageError(`${from} is not a JWT`);
  }
  return token;
}

/**
 * GitHub Actions' id-token request: GET the request URL with `audience` added, authorised by the request token,
 * answering `{ "value": "<JWT>" }` (what @actions/core getIDToken does).
 */
async function githubActionsToken(requestUrl: string, requestToken: string, audience: string, fetchImpl: Fetch) {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    throw new UsageError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  url.searchParams.set('audience', audience);
  let response: Response;
  try {
    response = await fetchImpl(url, {
      headers: { Authorization: `bearer ${requestToken}`, Accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    throw new CommandFailedError(`cannot reach the GitHub Actions id-token endpoint at ${url.origin}`);
  }
  if (!response.ok) {
    throw new CommandFailedError(
      `the GitHub Actions id-token endpoint answered ${response.status}; does the job have \`permissions: id-token: write\`?`,
    );
  }
  let value: unknown;
  try {
    value = ((await response.json()) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (typeof value !== 'string') throw new CommandFailedError('the GitHub Actions id-token endpoint sent no token');
  return checked(value, 'the GitHub Actions id-token');
}

/** Claims that change with every token issued for the same identity and run. */
const PER_TOKEN_CLAIMS = new Set(['iat', 'exp', 'nbf', 'jti']);

/**
 * Names the caller for the credential cache without keeping the token: SHA-256 of the JWT's (unverified) claims less
 * the per-token ones (iat, exp, nbf, jti). A fresh token for the same identity and run (kubectl may call the plugin
 * many times per job) finds its cached credential; another identity, repository, workflow or run never does, so a
 * shared runner cannot hand one job's grant to another. The API verifies the token; this only picks a cache file.
 */
export function principalFingerprint(token: string): string {
  const hash = createHash('sha256');
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
      const stable = Object.entries(payload)
        .filter(([claim]) => !PER_TOKEN_CLAIMS.has(claim))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return hash
        .update(`claims\0${JSON.stringify(stable)}`)
        .digest('hex')
        .slice(0, 32);
    }
  } catch {
    // Not decodable: fall back to the token itself, which still never shares a cache with another caller.
  }
  return hash.update(`token\0${token}`).digest('hex').slice(0, 32);
}
