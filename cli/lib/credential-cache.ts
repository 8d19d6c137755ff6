/**
 * The `gatehouse token` credential cache: one file per (API, cluster, namespaces, access, principal), so kubectl's
 * many plugin calls reuse one grant instead of asking for a new one each time. Files are 0600 in a 0700 directory, as
 * kubectl's own exec credential cache is; they hold a short-lived token and never the OIDC token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';

export interface CacheKey {
  api: string;
  cluster: string;
  namespaces: string[];
  access: string;
  principal: string;
  /** A relay credential and an EKS token for the same access are different credentials. @default 'direct' */
  via?: 'direct' | 'relay';
}

/** An EKS token, or a relay credential (a compact JWS). */
const CACHED_TOKEN = /^(k8s-aws-v1\.[A-Za-z0-9_-]+|[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

const CacheEntrySchema = z.object({
  version: z.literal(1),
  requestId: z.string().regex(/^req_[0-9A-HJKMNP-TV-Z]{26}$/),
  grantId: z.string().optional(),
  /** When the grant ends (ISO-8601): until then, /token can mint a fresh credential for it. */
  grantExpiresAt: z.string().refine((value) => !Number.isNaN(Date.parse(value))),
  token: z.string().regex(CACHED_TOKEN),
  /** The credential's expirationTimestamp (ISO-8601). */
  tokenExpiresAt: z.string().refine((value) => !Number.isNaN(Date.parse(value))),
});

export type CacheEntry = z.infer<typeof CacheEntrySchema>;

/** `$GATEHOUSE_CACHE_DIR`, else `$XDG_CACHE_HOME/gatehouse`, else `~/.cache/gatehouse`. */
export function cacheDirectory(env: NodeJS.ProcessEnv): string {
  if (env.GATEHOUSE_CACHE_DIR) return env.GATEHOUSE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gatehouse');
}

export class CredentialCache {
  constructor(private readonly directory: string) {}

  /** The file for a key: a hash, so no part of the key (or a path separator in it) names the file. */
  fileFor(key: CacheKey): string {
    const canonical = JSON.stringify([
      key.api.replace(/\/+$/, ''),
      key.cluster,
      [...key.namespaces].sort(),
      key.access,
      key.principal,
      // Direct keys hash as they always have, so existing cache files stay valid.
      ...(key.via === 'relay' ? ['relay'] : []),
    ]);
    return join(this.directory, `${createHash('sha256').update(canonical).digest('hex').slice(0, 40)}.json`);
  }

  /** The entry for a key, or undefined when there is none or it is unreadable (a bad file is only a cache miss). */
  read(key: CacheKey): CacheEntry | undefined {
    let text: string;
    try {
      text = readFileSync(this.fileFor(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = CacheEntrySchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes atomically (temp file, then rename), so a concurrent kubectl call never reads half a file. */
  write(key: CacheKey, entry: CacheEntry): void {
    this.ensureDirectory();
    const file = this.fileFor(key);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(entry)}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(temp, file);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }

  delete(key: CacheKey): void {
    rmSync(this.fileFor(key), { force: true });
  }

  private ensureDirectory(): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    // An existing directory keeps its mode through mkdir; tighten ours, since it holds credentials. A shared one
    // (sticky, like /tmp, or someone else's) is left alone: the files in it are 0600 regardless.
    const stat = statSync(this.directory);
    const ours = typeof process.getuid !== 'function' || stat.uid === process.getuid();
    if ((stat.mode & 0o077) !== 0 && (stat.mode & 0o1000) === 0 && ours) chmodSync(this.directory, 0o700);
  }
}
