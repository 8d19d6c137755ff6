/**
 * `gatehouse requests show ID`: where one access request stands (status, approvers' decisions, grant), read live from
 * the API with the caller's OIDC token. `gatehouse requests list`: the requests whose credentials `gatehouse token`
 * cached on this machine. The API has no "my requests" query, so the list says what it lists rather than pretend to be
 * complete.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import * as z from 'zod';
import { UsageError } from '../errors.ts';
import { ApiClient, parseApiUrl, type Fetch } from '../lib/api-client.ts';
import { cacheDirectory } from '../lib/credential-cache.ts';
import { resolveOidcToken } from '../lib/oidc-token.ts';
import { ApiProblemError, problemError } from '../lib/problem.ts';
import type { RequestStatus } from './token.ts';

const CachedRequestSchema = z.object({
  requestId: z.string().regex(/^req_[0-9A-HJKMNP-TV-Z]{26}$/),
  grantId: z.string().optional(),
  grantExpiresAt: z.string(),
  tokenExpiresAt: z.string(),
});

export type CachedRequest = z.infer<typeof CachedRequestSchema>;

/**
 * The requests whose credentials `gatehouse token` cached in `directory`, newest grant first. Only granted requests
 * are cached (never the token's secret part here: the files are read for their ids and times); unreadable files are
 * skipped, as the cache itself skips them.
 */
export function cachedRequests(directory: string): CachedRequest[] {
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const found = new Map<string, CachedRequest>();
  for (const name of names) {
    try {
      const parsed = CachedRequestSchema.safeParse(JSON.parse(readFileSync(join(directory, name), 'utf8')));
      if (parsed.success) found.set(parsed.data.requestId, parsed.data);
    } catch {
      // Not a cache entry.
    }
  }
  return [...found.values()].sort((a, b) => Date.parse(b.grantExpiresAt) - Date.parse(a.grantExpiresAt));
}

export interface RequestsCommandDeps {
  env?: NodeJS.ProcessEnv;
  stdout?: (text: string) => void;
  fetch?: Fetch;
}

interface ShowOptions {
  api?: string;
  oidcToken?: string;
  oidcTokenFile?: string;
  audience: string;
  json?: boolean;
}

/** Builds `gatehouse requests` with `show` and `list`. */
export function requestsCommand(deps: RequestsCommandDeps = {}): Command {
  const env = () => deps.env ?? process.env;
  const out = (text: string) => (deps.stdout ?? ((chunk: string) => void process.stdout.write(chunk)))(text);
  const requests = new Command('requests').description('access requests: where one stands, and those made from here');

  requests
    .command('show')
    .description('show an access request: status, the approvers asked and their decisions, the grant')
    .argument('<id>', 'the request id (req_...)')
    .option('--api <url>', 'Gatehouse API URL (default: GATEHOUSE_API)')
    .option('--oidc-token <jwt>', 'the OIDC token itself (prefer GATEHOUSE_OIDC_TOKEN)')
    .option('--oidc-token-file <file>', 'file holding the OIDC token')
    .option('--audience <aud>', 'audience of the GitHub Actions OIDC token', 'gatehouse')
    .option('--json', 'print the API answer as JSON')
    .exitOverride()
    .action(async (id: string, options: ShowOptions) => {
      if (!/^req_[0-9A-HJKMNP-TV-Z]{26}$/.test(id)) throw new UsageError(`not a request id: ${id.slice(0, 40)}`);
      const api = parseApiUrl(options.api ?? env().GATEHOUSE_API);
      const oidc = await resolveOidcToken({ ...options, env: env(), fetch: deps.fetch });
      const client = new ApiClient({ apiUrl: api.href, bearerToken: oidc.token, fetch: deps.fetch });
      let body: RequestDetails;
      try {
        ({ body } = await client.get<RequestDetails>(`/v1/access-requests/${id}`));
      } catch (error) {
        if (error instanceof ApiProblemError) throw problemError(error.problem);
        throw error;
      }
      out(options.json ? `${JSON.stringify(body, null, 2)}\n` : formatRequest(body));
    });

  requests
    .command('list')
    .description('list the requests whose credentials `gatehouse token` cached on this machine')
    .option('--json', 'print the entries as JSON')
    .exitOverride()
    .action((options: { json?: boolean }) => {
      const directory = cacheDirectory(env());
      const entries = cachedRequests(directory);
      if (options.json) return out(`${JSON.stringify(entries, null, 2)}\n`);
      out(`Requests with a credential cached by \`gatehouse token\` in ${directory}.\n`);
      out('Only granted requests are cached; `gatehouse requests show ID` asks the API about any request.\n');
      if (entries.length === 0) return out('\nnone cached\n');
      const now = Date.now();
      const rows = entries.map((e) => [
        e.requestId,
        e.grantId ?? '-',
        Date.parse(e.grantExpiresAt) > now ? 'active' : 'ended',
        e.grantExpiresAt,
      ]);
      out(`\n${columns([['REQUEST', 'GRANT', 'GRANT STATE', 'GRANT UNTIL'], ...rows])}`);
    });
  return requests.exitOverride();
}

interface RequestDetails extends RequestStatus {
  requester?: string;
  cluster?: string;
  namespaces?: string[];
  access?: string;
  durationSeconds?: number;
  purpose?: string;
  ticket?: string;
  createdAt?: string;
  grant?: RequestStatus['grant'] & { revokedAt?: string };
}

/** A request as a short block of labelled lines. Text the requester or approvers wrote is kept on one line. */
export function formatRequest(body: RequestDetails): string {
  const line = (text: unknown) => String(text ?? '').replace(/[\p{Cc}\u2028\u2029]+/gu, ' ');
  const rows: [string, string][] = [
    ['request', line(body.id)],
    ['status', line(body.status)],
    ['requester', line(body.requester)],
    [
      'access',
      `${line(body.access)} on ${line(body.cluster)}/${line(body.namespaces?.join(','))} for ${line(body.durationSeconds)}s`,
    ],
    ['purpose', line(body.purpose)],
  ];
  if (body.ticket) rows.push(['ticket', line(body.ticket)]);
  rows.push(['created', line(body.createdAt)]);
  const { approval, grant } = body;
  if (approval) {
    const groups = approval.groups.map((g) => `${g.name} (quorum ${g.quorum})`).join(', ');
    rows.push(['approval', `${line(approval.status)}: ${line(groups)}; until ${line(approval.expiresAt)}`]);
    if (approval.decisions.length === 0) rows.push(['', 'no decisions yet']);
    for (const d of approval.decisions) {
      const reason = d.reason ? `: ${line(d.reason)}` : '';
      rows.push([
        '',
        `${line(d.approverId)} ${d.decision === 'approve' ? 'approved' : 'denied'} via ${line(d.channel)} at ${line(d.at)}${reason}`,
      ]);
    }
  }
  if (grant) {
    const ended = grant.revokedAt ? `, revoked at ${line(grant.revokedAt)}` : '';
    rows.push(['grant', `${line(grant.id)} ${line(grant.status)} until ${line(grant.expiresAt)}${ended}`]);
  }
  return columns(rows);
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '),
    )
    .join('\n')
    .concat('\n');
}
