/**
 * `gatehouse token --api URL --cluster NAME --namespace NS --access LEVEL --duration SECONDS --purpose TEXT`: asks the
 * Gatehouse API for just-in-time access with the caller's OIDC token and prints the ExecCredential for kubectl. It is
 * the exec credential plugin `gatehouse kubeconfig` writes, and a CI helper. Only the credential goes to stdout;
 * progress (request id, token fingerprint, never a token) goes to stderr.
 */
import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { fingerprint } from '#shared/audit/fingerprint.ts';
import { CommandFailedError } from '../errors.ts';
import { checkAccessOptions, withAccessOptions, type AccessOptions } from '../lib/access-options.ts';
import { ApiClient, parseApiUrl, type Fetch } from '../lib/api-client.ts';
import { CredentialCache, cacheDirectory, type CacheEntry, type CacheKey } from '../lib/credential-cache.ts';
import { formatExecCredential, requestedExecApiVersion } from '../lib/exec-credential.ts';
import { principalFingerprint, resolveOidcToken } from '../lib/oidc-token.ts';
import { ApiProblemError, problemError } from '../lib/problem.ts';

/** A cached credential with less than this left is not handed to kubectl: a call could outlive it. */
export const MIN_CREDENTIAL_LEFT_MS = 60_000;
/** A grant with less than this left is not worth a fresh token; a new request is. */
const MIN_GRANT_LEFT_MS = 60_000;
const POLL_INTERVAL_MS = 5_000;

export interface TokenCommandDeps {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default writes to process.stdout */
  stdout?: (text: string) => void;
  /** @default writes to process.stderr */
  stderr?: (text: string) => void;
  /** @default the system clock */
  now?: () => Date;
  /** @default global fetch */
  fetch?: Fetch;
  /** @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

interface TokenOptions extends AccessOptions {
  oidcToken?: string;
  cache: boolean;
  quiet?: boolean;
  wait: number;
}

/** The API's ExecCredential (v1). */
interface ApiCredential {
  status?: { token?: unknown; expirationTimestamp?: unknown };
}

interface CreatedRequest {
  id: string;
  status: string;
  grantId?: string;
  expiresAt?: string;
  credential?: ApiCredential;
  pollUrl?: string;
  approvalUrl?: string;
}

interface RequestStatus {
  id: string;
  status: string;
  grant?: { id: string; status: string; expiresAt: string };
}

/** Builds the `token` command. */
export function tokenCommand(deps: TokenCommandDeps = {}): Command {
  return (
    withAccessOptions(
      new Command('token').description(
        'print a just-in-time ExecCredential from the Gatehouse API (a kubectl exec credential plugin and CI helper)',
      ),
    )
      .option('--oidc-token <jwt>', 'the OIDC token itself (prefer GATEHOUSE_OIDC_TOKEN: arguments show in `ps`)')
      .option('--no-cache', 'neither read nor write the credential cache')
      .option('--wait <seconds>', 'how long to wait for an approval', waitSeconds, 600)
      .option('-q, --quiet', 'no progress on stderr')
      // addCommand does not pass the program's exitOverride down; without it a usage error would call process.exit.
      .exitOverride()
      .action(async (options: TokenOptions) => {
        const env = deps.env ?? process.env;
        const write = deps.stdout ?? ((text: string) => void process.stdout.write(text));
        const writeErr = deps.stderr ?? ((text: string) => void process.stderr.write(text));
        const progress = options.quiet ? () => undefined : (line: string) => writeErr(`gatehouse: ${line}\n`);
        const now = deps.now ?? (() => new Date());

        checkAccessOptions(options);
        const apiVersion = requestedExecApiVersion(env.KUBERNETES_EXEC_INFO);
        const api = parseApiUrl(options.api ?? env.GATEHOUSE_API);
        const oidc = await resolveOidcToken({
          oidcToken: options.oidcToken,
          oidcTokenFile: options.oidcTokenFile,
          audience: options.audience,
          env,
          fetch: deps.fetch,
        });
        const key: CacheKey = {
          api: api.href,
          cluster: options.cluster,
          namespaces: options.namespace,
          access: options.access,
          principal: principalFingerprint(oidc.token),
        };
        const cache = options.cache ? new CredentialCache(cacheDirectory(env)) : undefined;
        const cached = cache?.read(key);
        const print = (entry: CacheEntry) => write(formatExecCredential(entry.token, entry.tokenExpiresAt, apiVersion));

        if (cached && Date.parse(cached.tokenExpiresAt) - now().getTime() > MIN_CREDENTIAL_LEFT_MS) {
          // Silent: kubectl calls the plugin for every command, and shows its stderr.
          print(cached);
          return;
        }

        const client = new ApiClient({
          apiUrl: api.href,
          bearerToken: oidc.token,
          fetch: deps.fetch,
          sleep: deps.sleep,
          progress,
        });
        try {
          let entry: CacheEntry | undefined;
          if (cached && Date.parse(cached.grantExpiresAt) - now().getTime() > MIN_GRANT_LEFT_MS) {
            entry = await freshToken(client, cached, progress);
          }
          entry ??= await requestAccess(client, options, { progress, sleep: deps.sleep, now });
          cache?.write(key, entry);
          progress(`credential ${fingerprint(entry.token)} for ${entry.requestId} valid until ${entry.tokenExpiresAt}`);
          print(entry);
        } catch (error) {
          if (error instanceof ApiProblemError) throw problemError(error.problem);
          throw error;
        }
      })
  );
}

function waitSeconds(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed > 3600) throw new InvalidArgumentError('0 to 3600 seconds');
  return parsed;
}

/** POST /token for the cached request; a grant that ended early (revoked, 409) or vanished means a new request. */
async function freshToken(
  client: ApiClient,
  cached: CacheEntry,
  progress: (line: string) => void,
): Promise<CacheEntry | undefined> {
  progress(`cached credential of ${cached.requestId} is expiring; asking for a fresh one`);
  try {
    const { body } = await client.post<ApiCredential>(`/v1/access-requests/${cached.requestId}/token`, undefined);
    return { ...cached, ...credentialOf(body) };
  } catch (error) {
    if (error instanceof ApiProblemError && [404, 409].includes(error.problem.status)) {
      progress(`${cached.requestId} can no longer issue tokens (${error.problem.title}); requesting access anew`);
      return undefined;
    }
    throw error;
  }
}

/** POST /v1/access-requests; an Idempotency-Key makes the bounded 503 retries one request, never two grants. */
async function requestAccess(
  client: ApiClient,
  options: TokenOptions,
  context: { progress: (line: string) => void; sleep?: (ms: number) => Promise<void>; now: () => Date },
): Promise<CacheEntry> {
  const { progress } = context;
  progress(
    `requesting ${options.access} access to ${options.cluster}/${options.namespace.join(',')} for ${options.duration}s`,
  );
  const { status, body } = await client.post<CreatedRequest>(
    '/v1/access-requests',
    {
      cluster: options.cluster,
      namespaces: options.namespace,
      access: options.access,
      durationSeconds: options.duration,
      purpose: options.purpose,
      ...(options.ticket === undefined ? {} : { ticket: options.ticket }),
    },
    { 'Idempotency-Key': `gatehouse-cli:${randomUUID()}` },
  );
  const requestId = checkedRequestId(body.id);
  if (status === 201 && body.status === 'granted') {
    progress(`granted: request ${requestId}, grant ${body.grantId ?? '?'} until ${body.expiresAt ?? '?'}`);
    if (typeof body.expiresAt !== 'string') throw new CommandFailedError('the API granted access without an expiry');
    return {
      version: 1,
      requestId,
      ...(body.grantId ? { grantId: body.grantId } : {}),
      grantExpiresAt: body.expiresAt,
      ...credentialOf(body.credential ?? {}),
    };
  }
  if (status === 202) return awaitApproval(client, requestId, body, options.wait, context);
  throw new CommandFailedError(`the API answered ${status} (${String(body.status).slice(0, 40)}) without a credential`);
}

/** Pending approval: show where to approve, poll the request until it is granted or settles otherwise. */
async function awaitApproval(
  client: ApiClient,
  requestId: string,
  created: CreatedRequest,
  waitSeconds: number,
  context: { progress: (line: string) => void; sleep?: (ms: number) => Promise<void>; now: () => Date },
): Promise<CacheEntry> {
  const { progress, now } = context;
  const sleep = context.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  progress(`request ${requestId} needs approval${created.approvalUrl ? `: ${created.approvalUrl}` : ''}`);
  const deadline = now().getTime() + waitSeconds * 1000;
  for (;;) {
    const { body } = await client.get<RequestStatus>(`/v1/access-requests/${requestId}`);
    if (body.status === 'granted' && body.grant?.status === 'active') {
      progress(`approved: request ${requestId}, grant ${body.grant.id} until ${body.grant.expiresAt}`);
      const { body: credential } = await client.post<ApiCredential>(
        `/v1/access-requests/${requestId}/token`,
        undefined,
      );
      return {
        version: 1,
        requestId,
        grantId: body.grant.id,
        grantExpiresAt: body.grant.expiresAt,
        ...credentialOf(credential),
      };
    }
    if (['denied', 'expired', 'revoked'].includes(body.status)) {
      throw new CommandFailedError(`request ${requestId} was ${body.status}`);
    }
    if (now().getTime() + POLL_INTERVAL_MS > deadline) {
      throw new CommandFailedError(`request ${requestId} is still ${body.status} after ${waitSeconds}s`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function checkedRequestId(id: unknown): string {
  if (typeof id !== 'string' || !/^req_[0-9A-HJKMNP-TV-Z]{26}$/.test(id)) {
    throw new CommandFailedError('the API answered without a request id');
  }
  return id;
}

function credentialOf(credential: ApiCredential): Pick<CacheEntry, 'token' | 'tokenExpiresAt'> {
  const token = credential.status?.token;
  const expiresAt = credential.status?.expirationTimestamp;
  if (
    typeof token !== 'string' ||
    !token.startsWith('k8s-aws-v1.') ||
    typeof expiresAt !== 'string' ||
    Number.isNaN(Date.parse(expiresAt))
  ) {
    throw new CommandFailedError('the API sent no usable credential');
  }
  return { token, tokenExpiresAt: expiresAt };
}
