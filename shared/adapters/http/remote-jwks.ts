/**
 * Fetches issuers' signing keys over HTTPS for the OidcVerifier: the JWKS URL from config or from the issuer's
 * discovery document (OpenID Connect Discovery 1.0, section 4), then jose's remote JWKS with a cache and a cooldown.
 *
 * Rate limits, so a flood of tokens cannot make Gatehouse hammer an IdP:
 * - an unknown `kid` refetches the key set at most once per cooldown window (jose's cooldownDuration: the window
 *   starts at each successful fetch, and concurrent lookups share one request);
 * - after a failed fetch of the discovery document or the key set, lookups fail fast with `jwks_unavailable` until the
 *   cooldown has passed, instead of retrying on every request.
 */
import type { JWTVerifyGetKey } from 'jose';
import { createRemoteJWKSet, customFetch } from 'jose';
import type { FetchImplementation } from 'jose';
import type { IssuerConfig } from '../../config/schema.ts';
import { AuthenticationError } from '../../identity/errors.ts';

export interface RemoteKeyResolverOptions {
  /**
   * How long a fetched key set is used before it is fetched again, in milliseconds.
   * @default 600_000 (10 minutes)
   */
  cacheMaxAgeMs?: number;
  /**
   * The rate limit window, in milliseconds: at most one refetch for unknown key ids, and no retry after a failure,
   * within it.
   * @default 30_000
   */
  cooldownMs?: number;
  /**
   * Timeout of each HTTP request, in milliseconds.
   * @default 5_000
   */
  timeoutMs?: number;
  /**
   * Largest discovery document or key set accepted, in bytes.
   * @default 262_144
   */
  maxResponseBytes?: number;
  /** The fetch to use; the global one by default. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Milliseconds since the epoch, for the failure cooldown; Date.now by default, as jose's own cache uses. */
  now?: () => number;
}

/** What the OidcVerifier takes as `keys`. */
export type KeyResolver = (issuer: IssuerConfig) => JWTVerifyGetKey;

const DEFAULTS = {
  cacheMaxAgeMs: 600_000,
  cooldownMs: 30_000,
  timeoutMs: 5_000,
  maxResponseBytes: 262_144,
};

/**
 * Returns the key resolver per issuer, memoised: one discovery document, one key set cache and one cooldown per
 * issuer for the life of the process. Fetch failures surface as AuthenticationError `jwks_unavailable`.
 */
export function remoteKeyResolver(options: RemoteKeyResolverOptions = {}): KeyResolver {
  const settings = {
    cacheMaxAgeMs: options.cacheMaxAgeMs ?? DEFAULTS.cacheMaxAgeMs,
    cooldownMs: options.cooldownMs ?? DEFAULTS.cooldownMs,
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
    fetch: options.fetch ?? ((url: string, init: RequestInit) => globalThis.fetch(url, init)),
    now: options.now ?? Date.now,
  };
  const resolvers = new Map<string, JWTVerifyGetKey>();
  return (issuer) => {
    const key = `${issuer.issuer}\n${issuer.jwksUri ?? ''}`;
    let resolver = resolvers.get(key);
    if (!resolver) {
      resolver = new IssuerKeys(issuer, settings).getKey;
      resolvers.set(key, resolver);
    }
    return resolver;
  };
}

type Settings = Required<RemoteKeyResolverOptions>;

class IssuerKeys {
  readonly #issuer: IssuerConfig;
  readonly #settings: Settings;
  #jwksUri: Promise<URL> | undefined;
  #keySet: JWTVerifyGetKey | undefined;
  #discoveryFailedAt = Number.NEGATIVE_INFINITY;
  #jwksFailedAt = Number.NEGATIVE_INFINITY;

  constructor(issuer: IssuerConfig, settings: Settings) {
    this.#issuer = issuer;
    this.#settings = settings;
    if (issuer.jwksUri) this.#jwksUri = Promise.resolve(new URL(issuer.jwksUri));
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const keySet = await this.#remoteKeySet();
    return keySet(header, token);
  };

  #unavailable(): AuthenticationError {
    return new AuthenticationError('jwks_unavailable', { issuer: this.#issuer.issuer });
  }

  #coolingDown(failedAt: number): boolean {
    return this.#settings.now() - failedAt < this.#settings.cooldownMs;
  }

  async #remoteKeySet(): Promise<JWTVerifyGetKey> {
    if (this.#keySet) return this.#keySet;
    const jwksUri = await this.#discoverJwksUri();
    this.#keySet ??= createRemoteJWKSet(jwksUri, {
      cacheMaxAge: this.#settings.cacheMaxAgeMs,
      cooldownDuration: this.#settings.cooldownMs,
      timeoutDuration: this.#settings.timeoutMs,
      [customFetch]: this.#fetchKeySet,
    });
    return this.#keySet;
  }

  /** The discovery document is fetched once; a failure is remembered for one cooldown, then retried. */
  #discoverJwksUri(): Promise<URL> {
    if (this.#jwksUri) return this.#jwksUri;
    if (this.#coolingDown(this.#discoveryFailedAt)) return Promise.reject(this.#unavailable());
    const discovery = this.#fetchDiscovery().catch((error: unknown) => {
      this.#discoveryFailedAt = this.#settings.now();
      if (this.#jwksUri === discovery) this.#jwksUri = undefined;
      throw error;
    });
    this.#jwksUri = discovery;
    return discovery;
  }

  async #fetchDiscovery(): Promise<URL> {
    // OpenID Connect Discovery 1.0 section 4: the document lives under the issuer, path appended.
    const url = `${this.#issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: unknown;
    try {
      const response = await this.#settings.fetch(url, {
        method: 'GET',
        redirect: 'manual',
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.#settings.timeoutMs),
      });
      document = JSON.parse(await readOk(response, this.#settings.maxResponseBytes));
    } catch {
      throw this.#unavailable();
    }
    if (typeof document !== 'object' || document === null) throw this.#unavailable();
    const { issuer, jwks_uri: jwksUri } = document as Record<string, unknown>;
    // Section 4.3: the issuer in the document must be identical to the one it was fetched for (mix-up defence).
    if (issuer !== this.#issuer.issuer || typeof jwksUri !== 'string' || !isAllowedUrl(jwksUri)) {
      throw this.#unavailable();
    }
    return new URL(jwksUri);
  }

  /** jose's fetch hook: maps every failure to `jwks_unavailable` and remembers it for one cooldown. */
  readonly #fetchKeySet: FetchImplementation = async (url, init) => {
    if (this.#coolingDown(this.#jwksFailedAt)) throw this.#unavailable();
    try {
      const response = await this.#settings.fetch(url, init);
      const body = await readOk(response, this.#settings.maxResponseBytes);
      if (!isJwkSet(JSON.parse(body))) throw new Error('not a JWK set');
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    } catch {
      this.#jwksFailedAt = this.#settings.now();
      throw this.#unavailable();
    }
  };
}

/** https, or http on loopback only: the same rule the config schema applies to issuer URLs. */
function isAllowedUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    );
  } catch {
    return false;
  }
}

function isJwkSet(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const keys = (value as { keys?: unknown }).keys;
  return Array.isArray(keys) && keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key));
}

/** The body of a 200 response as UTF-8 text, read up to a byte limit; anything else throws. */
async function readOk(response: Response, maxBytes: number): Promise<string> {
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel();
    throw new Error(`unexpected HTTP status ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body.cancel();
    throw new Error('response too large');
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error('response too large');
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
