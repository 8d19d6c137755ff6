/**
 * A real OIDC issuer for development and tests: it serves a discovery document and a JWKS over HTTP on loopback and
 * signs real JWTs, so the verifier, the key resolver and the local runtime run exactly as they do against GitHub or
 * GitLab. It never listens on anything but loopback, and its keys are for development only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { CryptoKey, JWK, JWTHeaderParameters, JWTPayload } from 'jose';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import * as z from 'zod';
import type { Clock } from '../../ports.ts';

export type DevIssuerAlgorithm = 'ES256' | 'RS256';

/** The file, inside the key directory, that keeps the issuer's keys across restarts of the local runtime. */
export const DEV_ISSUER_KEY_FILE = 'dev-issuer-key.json';

export interface DevIssuerOptions {
  /**
   * Algorithm of newly generated keys.
   * @default 'ES256'
   */
  algorithm?: DevIssuerAlgorithm;
  /** Where to load the keys from and save them to ({@link DEV_ISSUER_KEY_FILE}); keys live in memory only without it. */
  keyDirectory?: string;
  /**
   * Time for `iat`, `nbf` and `exp`.
   * @default the system clock
   */
  clock?: Clock;
}

export interface DevIssuerStartOptions {
  /**
   * TCP port; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * A loopback address; anything else is refused.
   * @default '127.0.0.1'
   */
  host?: string;
}

export interface DevIssuerSignOptions {
  audience: string | string[];
  /**
   * Lifetime from now; negative for an already expired token, null for a token without `exp`.
   * @default 300
   */
  expiresInSeconds?: number | null;
  /** `iat` in seconds since the epoch. @default now */
  issuedAt?: number;
  /** `nbf` in seconds since the epoch; omitted by default. */
  notBefore?: number;
  /** `iss`; the URL returned by start() by default. */
  issuer?: string;
  /** Signs with this retained key instead of the newest one. */
  kid?: string;
  /** Protected header fields to set or override, such as `kid` or `typ`. */
  header?: Partial<JWTHeaderParameters>;
}

export interface DevIssuerRequestCounts {
  discovery: number;
  jwks: number;
  other: number;
}

interface SigningKey {
  kid: string;
  alg: DevIssuerAlgorithm;
  privateKey: CryptoKey;
  privateJwk: JWK;
  publicJwk: JWK;
}

const StoredKeysSchema = z.object({
  version: z.literal(1),
  keys: z
    .array(
      z.object({
        kid: z.string().min(1),
        alg: z.enum(['ES256', 'RS256']),
        privateJwk: z.record(z.string(), z.unknown()),
      }),
    )
    .min(1),
});

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** The members of a private JWK that make it private (RFC 7518 sections 6.2.2 and 6.3.2). */
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth']);

const systemClock: Clock = { now: () => new Date() };

export class DevIssuer {
  readonly #algorithm: DevIssuerAlgorithm;
  readonly #keyDirectory: string | undefined;
  readonly #clock: Clock;
  #keys: SigningKey[];
  #server: Server | undefined;
  #issuer: string | undefined;
  #unavailable = false;
  readonly #counts: DevIssuerRequestCounts = { discovery: 0, jwks: 0, other: 0 };

  private constructor(options: DevIssuerOptions, keys: SigningKey[]) {
    this.#algorithm = options.algorithm ?? 'ES256';
    this.#keyDirectory = options.keyDirectory;
    this.#clock = options.clock ?? systemClock;
    this.#keys = keys;
  }

  /**
   * Loads the keys from `keyDirectory` when its key file exists; otherwise generates one key pair (and saves it there
   * when a directory is given, readable by the owner only).
   */
  static async create(options: DevIssuerOptions = {}): Promise<DevIssuer> {
    const algorithm = options.algorithm ?? 'ES256';
    if (options.keyDirectory) {
      const stored = await loadKeys(join(options.keyDirectory, DEV_ISSUER_KEY_FILE));
      if (stored) return new DevIssuer(options, stored);
    }
    const issuer = new DevIssuer(options, [await generateSigningKey(algorithm)]);
    await issuer.#save();
    return issuer;
  }

  /** The issuer URL, once started. */
  get issuer(): string {
    if (!this.#issuer) throw new Error('the dev issuer is not started');
    return this.#issuer;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`;
  }

  /** The key id that sign() uses by default: the newest key's. */
  get currentKid(): string {
    return this.#current().kid;
  }

  get kids(): string[] {
    return this.#keys.map((key) => key.kid);
  }

  /** How many requests each endpoint has answered since start (a copy). */
  get requestCounts(): DevIssuerRequestCounts {
    return { ...this.#counts };
  }

  /** The JWKS the issuer serves: public keys only. */
  publicJwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((key) => ({ ...key.publicJwk })) };
  }

  /** Serves discovery and JWKS on loopback and returns the issuer URL, `http://<host>:<port>`. */
  async start(options: DevIssuerStartOptions = {}): Promise<string> {
    if (this.#server) return this.issuer;
    const host = options.host ?? '127.0.0.1';
    if (!LOOPBACK_HOSTS.has(host)) throw new Error(`the dev issuer listens on loopback only, not ${host}`);
    const server = createServer((request, response) => this.#handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.#server = server;
    this.#issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return this.#issuer;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Keep-alive connections from fetch would hold close() open.
      server.closeAllConnections();
    });
  }

  /**
   * While set, both endpoints answer 503, as an IdP in an outage would; requests are still counted.
   * The URL keeps working, unlike after stop().
   */
  setUnavailable(unavailable: boolean): void {
    this.#unavailable = unavailable;
  }

  /** Signs a JWT with the newest key (or `options.kid`'s). `claims` may set any claim; the options set the times. */
  async sign(claims: JWTPayload, options: DevIssuerSignOptions): Promise<string> {
    const key = options.kid ? this.#keys.find((candidate) => candidate.kid === options.kid) : this.#current();
    if (!key) throw new Error(`no retained key has kid ${options.kid}`);
    const now = Math.floor(this.#clock.now().getTime() / 1000);
    const payload: JWTPayload = {
      ...claims,
      iss: options.issuer ?? claims.iss ?? this.issuer,
      aud: options.audience,
      iat: options.issuedAt ?? now,
    };
    if (options.expiresInSeconds !== null) payload.exp = now + (options.expiresInSeconds ?? 300);
    if (options.notBefore !== undefined) payload.nbf = options.notBefore;
    return new SignJWT(payload)
      .setProtectedHeader({ typ: 'JWT', alg: key.alg, kid: key.kid, ...options.header })
      .sign(key.privateKey);
  }

  /**
   * Adds a new key, which sign() uses from now on, and returns its kid. The old keys stay published unless
   * `keepPrevious` is false, as an IdP does during a rotation's overlap and after it.
   */
  async rotate(options: { keepPrevious?: boolean } = {}): Promise<string> {
    const next = await generateSigningKey(this.#algorithm);
    this.#keys = options.keepPrevious === false ? [next] : [...this.#keys, next];
    await this.#save();
    return next.kid;
  }

  #current(): SigningKey {
    const key = this.#keys.at(-1);
    if (!key) throw new Error('the dev issuer has no key');
    return key;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://loopback').pathname;
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : JSON.stringify(body));
    };
    if (path === '/.well-known/openid-configuration') this.#counts.discovery += 1;
    else if (path === '/jwks') this.#counts.jwks += 1;
    else this.#counts.other += 1;

    if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, { error: 'method not allowed' });
    if (this.#unavailable) return send(503, { error: 'temporarily unavailable' });
    if (path === '/.well-known/openid-configuration') {
      return send(200, {
        issuer: this.issuer,
        jwks_uri: this.jwksUri,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [...new Set(this.#keys.map((key) => key.alg))],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'nbf', 'groups', 'email'],
      });
    }
    if (path === '/jwks') return send(200, this.publicJwks());
    return send(404, { error: 'not found' });
  }

  async #save(): Promise<void> {
    if (!this.#keyDirectory) return;
    await mkdir(this.#keyDirectory, { recursive: true, mode: 0o700 });
    const file = join(this.#keyDirectory, DEV_ISSUER_KEY_FILE);
    const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const stored = {
      version: 1,
      keys: this.#keys.map(({ kid, alg, privateJwk }) => ({ kid, alg, privateJwk })),
    };
    // Write then rename, so a crash never leaves a half-written key file behind.
    await writeFile(temporary, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
  }
}

async function generateSigningKey(alg: DevIssuerAlgorithm): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  return toSigningKey(`dev-${randomBytes(8).toString('hex')}`, alg, privateJwk);
}

async function toSigningKey(kid: string, alg: DevIssuerAlgorithm, privateJwk: JWK): Promise<SigningKey> {
  const privateKey = (await importJWK({ ...privateJwk, alg }, alg, { extractable: true })) as CryptoKey;
  const publicMembers = Object.entries(privateJwk).filter(
    ([member]) => !PRIVATE_MEMBERS.has(member) && member !== 'key_ops' && member !== 'ext',
  );
  const publicJwk: JWK = { ...Object.fromEntries(publicMembers), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, privateJwk, publicJwk };
}

async function loadKeys(file: string): Promise<SigningKey[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = StoredKeysSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file} is not a dev issuer key file`);
  return Promise.all(parsed.data.keys.map(({ kid, alg, privateJwk }) => toSigningKey(kid, alg, privateJwk as JWK)));
}
