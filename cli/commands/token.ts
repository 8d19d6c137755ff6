/**
 * `gatehouse token --api URL --cluster NAME --namespace NS --access LEVEL --duration SECONDS --purpose TEXT
 * [--via relay]`: asks the Gatehouse API for just-in-time access with the caller's OIDC token and prints the
 * ExecCredential for kubectl: an EKS token, or with `--via relay` a relay credential that only the Gatehouse relay
 * accepts (renewed from /token while the grant is active). It is the exec credential plugin `gatehouse kubeconfig`
 * writes, and a CI helper. Only the credential goes to stdout;
 * progress (request id, token fingerprint, never a token) goes to stderr.
 */
import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { fingerprint } from '#shared/audit/fingerprint.ts';
import { CommandFailedError } from '../errors.ts';
import { checkAccessOptions, withAccessOptions, type AccessOptions, type AccessVia } from '../lib/access-options.ts';
import { ApiClient, parseApiUrl, type Fetch } from '../lib/api-client.ts';
import { CredentialCache, cacheDirectory, type CacheEntry, type CacheKey } from '../lib/credential-cache.ts';
import { formatExecCredential, requestedExecApiVersion } from '../lib/exec-credential.ts';
import { principalFingerprint, resolveOidcToken } from '../lib/oidc-token.ts';
import { ApiProblemError, problemError } from '../lib/problem.ts';

/** A cached credential with less than this left is not handed to kubectl: a call could outlive it. */
export const MIN_CREDENTIAL_LEFT_MS = 60_000;
/** A grant with less than this left is not worth a fresh token; a new request is. */
const MIN_GRANT_LEFT_MS = 60_000;
/** The long poll's wait per request: the API's maximum, under API Gateway's 29 s integration timeout. */
export const LONG_POLL_SECONDS = 20;
/** On a terminal the spinner turns this often; in a CI log a "still waiting" line is written at most this often. */
const SPINNER_INTERVAL_MS = 120;
const PLAIN_HEARTBEAT_MS = 30_000;

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
  /** Whether stderr is a terminal (a live spinner line) or a log (plain lines). @default process.stderr.isTTY */
  isTTY?: boolean;
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

/** The API's answer to POST /v1/access-requests, as far as the CLI reads it. */
export interface CreatedRequest {
  id: string;
  status: string;
  grantId?: string;
  expiresAt?: string;
  credential?: ApiCredential;
  pollUrl?: string;
  approvalUrl?: string;
  approvalGroups?: { name: string; quorum: number }[];
}

/** GET /v1/access-requests/{id}, as far as the wait reads it. */
export interface RequestStatus {
  id: string;
  status: string;
  approval?: {
    status: string;
    groups: { name: string; quorum: number }[];
    expiresAt: string;
    decisions: { approverId: string; decision: 'approve' | 'deny'; reason?: string; channel: string; at: string }[];
  };
  grant?: { id: string; status: string; expiresAt: string };
}

/** What the wait needs besides the API: progress lines, the clock and the live status line. */
export interface WaitContext {
  progress: (line: string) => void;
  now: () => Date;
  status: StatusLine;
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
          via: options.via,
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
            entry = await freshToken(client, cached, options.via, progress);
          }
          const status = options.quiet
            ? StatusLine.silent()
            : new StatusLine(writeErr, deps.isTTY ?? process.stderr.isTTY === true);
          entry ??= await requestAccess(client, options, { progress, now, status });
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
  via: AccessVia,
  progress: (line: string) => void,
): Promise<CacheEntry | undefined> {
  progress(`cached credential of ${cached.requestId} is expiring; asking for a fresh one`);
  try {
    const { body } = await client.post<ApiCredential>(`/v1/access-requests/${cached.requestId}/token`, undefined);
    return { ...cached, ...credentialOf(body, via) };
  } catch (error) {
    if (error instanceof ApiProblemError && [404, 409].includes(error.problem.status)) {
      progress(`${cached.requestId} can no longer issue tokens (${error.problem.title}); requesting access anew`);
      return undefined;
    }
    throw error;
  }
}

/** POST /v1/access-requests; an Idempotency-Key makes the bounded 503 retries one request, never two grants. */
async function requestAccess(client: ApiClient, options: TokenOptions, context: WaitContext): Promise<CacheEntry> {
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
      ...(options.via === 'relay' ? { via: 'relay' } : {}),
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
      ...credentialOf(body.credential ?? {}, options.via),
    };
  }
  if (status === 202) return awaitApproval(client, requestId, body, options.wait, context, options.via);
  throw new CommandFailedError(`the API answered ${status} (${String(body.status).slice(0, 40)}) without a credential`);
}

/**
 * Pending approval: say which request waits for whom, then long-poll the request (`?waitSeconds=20&unlike=pending`)
 * until it is granted, denied or expired, or `--wait` runs out. The API answers a long poll the moment the status
 * changes, so the credential arrives within a fraction of a second of the deciding click, with one request in flight
 * instead of one every few seconds; 20 s stays under API Gateway's 29 s integration timeout.
 */
export async function awaitApproval(
  client: ApiClient,
  requestId: string,
  created: CreatedRequest,
  waitSeconds: number,
  context: WaitContext,
  via: AccessVia = 'direct',
): Promise<CacheEntry> {
  const { progress, now, status } = context;
  progress(`request ${requestId} needs approval${created.approvalUrl ? `: ${created.approvalUrl}` : ''}`);
  progress(`approvers asked: ${describeGroups(created.approvalGroups ?? [])}`);
  const started = now().getTime();
  const deadline = started + waitSeconds * 1000;
  let last: RequestStatus | undefined;
  // The 202 says who must approve; the first line shows at once, before the first long poll answers.
  const required = (created.approvalGroups ?? []).reduce((sum, group) => sum + group.quorum, 0);
  status.update(
    required > 0
      ? `waiting for approval: 0 of ${required} approval${required === 1 ? '' : 's'}`
      : 'waiting for approval',
    0,
  );
  try {
    for (;;) {
      const left = Math.ceil((deadline - now().getTime()) / 1000);
      if (left <= 0) {
        throw new CommandFailedError(
          `request ${requestId} is still ${last?.status ?? 'pending'} after ${waitSeconds}s (--wait); ` +
            `see \`gatehouse requests show ${requestId}\``,
        );
      }
      const poll = Math.min(LONG_POLL_SECONDS, left);
      const { body } = await client.get<RequestStatus>(
        `/v1/access-requests/${requestId}?waitSeconds=${poll}&unlike=pending`,
      );
      last = body;
      if (body.status === 'granted' && body.grant?.status === 'active') {
        status.done(`approved (${approvalSummary(body)}): grant ${body.grant.id} until ${body.grant.expiresAt}`);
        const { body: credential } = await client.post<ApiCredential>(
          `/v1/access-requests/${requestId}/token`,
          undefined,
        );
        return {
          version: 1,
          requestId,
          grantId: body.grant.id,
          grantExpiresAt: body.grant.expiresAt,
          ...credentialOf(credential, via),
        };
      }
      if (['denied', 'expired', 'revoked'].includes(body.status)) {
        const reason = settledReason(body);
        status.done(`request ${requestId} ${reason}`);
        throw new CommandFailedError(`request ${requestId} ${reason}`);
      }
      if (body.status !== 'pending') {
        // Granted without an active grant, or a status this CLI does not know: polling again would answer at once.
        status.done(`request ${requestId} is ${body.status} without an active grant`);
        throw new CommandFailedError(`request ${requestId} is ${body.status} without an active grant`);
      }
      status.update(`waiting for approval: ${approvalSummary(body)}`, now().getTime() - started);
    }
  } finally {
    status.stop();
  }
}

/** The groups a 202 names, as people read them: `sre (1 approval), pair (2 approvals)`. */
function describeGroups(groups: { name: string; quorum: number }[]): string {
  if (groups.length === 0) return 'the configured approvers';
  return groups.map((g) => `${g.name} (${g.quorum} approval${g.quorum === 1 ? '' : 's'})`).join(', ');
}

/** `1 of 2 approvals, approved by alice`. */
function approvalSummary(body: RequestStatus): string {
  const approval = body.approval;
  if (!approval) return body.status;
  const required = approval.groups.reduce((sum, group) => sum + group.quorum, 0);
  const approvedBy = approval.decisions.filter((d) => d.decision === 'approve').map((d) => d.approverId);
  const count = `${approvedBy.length} of ${required} approval${required === 1 ? '' : 's'}`;
  return approvedBy.length > 0 ? `${count}, approved by ${approvedBy.join(', ')}` : count;
}

/** Why a request ended without access, from its approval's decisions. */
function settledReason(body: RequestStatus): string {
  const denial = body.approval?.decisions.find((d) => d.decision === 'deny');
  if (body.status === 'denied' && denial) {
    return `was denied by ${denial.approverId}${denial.reason ? `: ${oneLine(denial.reason)}` : ''}`;
  }
  if (body.status === 'expired' && body.approval?.status === 'expired') {
    return `expired: no decision before ${body.approval.expiresAt} (${approvalSummary(body)})`;
  }
  return `was ${body.status}`;
}

/** A reason is the approver's text: one line, bounded, no control characters that could rewrite the terminal. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').slice(0, 300);
}

/**
 * The one live line while the CLI waits. On a terminal: a spinner with the latest status and the time waited, redrawn in
 * place (carriage return, erase line) and replaced by a final line. In a CI log: a plain line whenever the status
 * changes, and a "still waiting" line at most every 30 s, so the log shows progress without a line per poll.
 */
export class StatusLine {
  private text = '';
  /** When the wait began, on this process's clock, so the spinner's time keeps running between answers. */
  private startedAt = 0;
  private frame = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastPlainAt = 0;
  private static readonly FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  static silent(): StatusLine {
    return new StatusLine(() => undefined, false);
  }

  update(text: string, elapsedMs: number): void {
    const changed = text !== this.text;
    this.text = text;
    this.startedAt = Date.now() - elapsedMs;
    if (this.tty) {
      this.timer ??= setInterval(() => this.draw(), SPINNER_INTERVAL_MS);
      this.timer.unref?.();
      this.draw();
    } else if (changed || elapsedMs - this.lastPlainAt >= PLAIN_HEARTBEAT_MS) {
      this.lastPlainAt = elapsedMs;
      this.write(`gatehouse: ${text} (${formatElapsed(elapsedMs)} waited)\n`);
    }
  }

  /** Replaces the live line with a final one. */
  done(text: string): void {
    this.stop();
    this.write(`gatehouse: ${text}\n`);
  }

  /** Stops the spinner and erases its line. */
  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.write('\r\x1b[2K');
    }
    this.timer = undefined;
    this.text = '';
  }

  private draw(): void {
    this.frame = (this.frame + 1) % StatusLine.FRAMES.length;
    const waited = formatElapsed(Date.now() - this.startedAt);
    this.write(`\r\x1b[2K${StatusLine.FRAMES[this.frame]} gatehouse: ${this.text} · ${waited}`);
  }
}

function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function checkedRequestId(id: unknown): string {
  if (typeof id !== 'string' || !/^req_[0-9A-HJKMNP-TV-Z]{26}$/.test(id)) {
    throw new CommandFailedError('the API answered without a request id');
  }
  return id;
}

/** A relay credential is a compact JWS; an EKS token is `k8s-aws-v1.` and a presigned URL. */
const RELAY_CREDENTIAL = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function credentialOf(credential: ApiCredential, via: AccessVia): Pick<CacheEntry, 'token' | 'tokenExpiresAt'> {
  const token = credential.status?.token;
  const expiresAt = credential.status?.expirationTimestamp;
  if (
    typeof token !== 'string' ||
    !(via === 'relay' ? RELAY_CREDENTIAL.test(token) : token.startsWith('k8s-aws-v1.')) ||
    typeof expiresAt !== 'string' ||
    Number.isNaN(Date.parse(expiresAt))
  ) {
    throw new CommandFailedError('the API sent no usable credential');
  }
  return { token, tokenExpiresAt: expiresAt };
}
