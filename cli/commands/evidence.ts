/**
 * `gatehouse evidence --from T --to T --out DIR`: exports the evidence of a time range through GET /v1/evidence (the
 * caller must be an auditor) as the bundle `gatehouse audit verify --dir DIR` reads (shared/evidence/export-layout.ts):
 * events.jsonl, the digests and their public keys byte for byte as stored, the recordings of the sessions that ended in
 * the range (sessions/<day>/<id>.cast, each checked against its session.ended event), manifest.json and report.html,
 * with asciinema-player embedded from node_modules when it is installed. The bundle
 * is written in a temporary directory beside DIR and renamed into place, so a failure leaves nothing half-written.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import * as z from 'zod';
import {
  archiveObjectBody,
  digestKey,
  parseDigestKey,
  publicKeyKey,
  sha256Hex,
} from '#shared/evidence/archive-layout.ts';
import type { AuditEvent } from '#shared/audit/event.ts';
import type { EvidenceAnswer } from '#shared/evidence/auditor-service.ts';
import type { SignedDigest } from '#shared/evidence/digest.ts';
import {
  EXPORT_EVENTS_FILE,
  EXPORT_MANIFEST_FILE,
  EXPORT_REPORT_FILE,
  type EvidenceExportManifest,
} from '#shared/evidence/export-layout.ts';
import {
  renderEvidenceReport,
  type DigestSummary,
  type PlayerAssets,
  type ReportRecording,
} from '#shared/evidence/report.ts';
import { recordingMismatch, sessionRecordings } from '#shared/evidence/session-recordings.ts';
import { CommandFailedError, UsageError } from '../errors.ts';
import { ApiClient, parseApiUrl, type Fetch } from '../lib/api-client.ts';
import { DEFAULT_AUDIENCE, resolveOidcToken } from '../lib/oidc-token.ts';
import { loadPlayerAssets } from '../lib/player-assets.ts';
import { ApiProblemError, problemError } from '../lib/problem.ts';

export interface EvidenceCommandDeps {
  env?: NodeJS.ProcessEnv;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  fetch?: Fetch;
  now?: () => Date;
  /** The player embedded in report.html; null for none. @default asciinema-player from node_modules, when installed */
  player?: PlayerAssets | null;
}

interface EvidenceOptions {
  from: string;
  to: string;
  out: string;
  api?: string;
  oidcToken?: string;
  oidcTokenFile?: string;
  audience: string;
}

/** The most pages one export follows: a 31-day range at 1,000 events a page, with room for its digests. */
const MAX_PAGES = 10_000;

const isoTime = z.iso.datetime({ offset: true });

/** What the export takes from a page; checked, because the server's answer names files this command writes. */
const PageSchema = z.object({
  events: z.array(z.looseObject({ id: z.string(), time: z.string(), chain: z.looseObject({}) })),
  digests: z.array(z.object({ hour: isoTime, key: z.string(), body: z.string() })),
  publicKeys: z.array(z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), key: z.string(), pem: z.string() })),
  coverage: z.object({ exportedEvents: z.number(), uncoveredEvents: z.number() }).optional(),
  nextCursor: z.string().nullable(),
});

export function evidenceCommand(deps: EvidenceCommandDeps = {}): Command {
  const env = () => deps.env ?? process.env;
  const out = (text: string) => (deps.stdout ?? ((chunk: string) => void process.stdout.write(chunk)))(text);
  const progress = (line: string) =>
    (deps.stderr ?? ((chunk: string) => void process.stderr.write(chunk)))(`gatehouse: ${line}\n`);
  return new Command('evidence')
    .description('export the evidence of a time range (auditors): events, signed digests, public keys and a report')
    .requiredOption('--from <time>', 'start of the range, ISO-8601 (e.g. 2026-03-01T00:00:00Z)')
    .requiredOption('--to <time>', 'end of the range (exclusive), ISO-8601; at most 31 days after --from')
    .requiredOption('--out <dir>', 'directory to create for the bundle (must not exist or be empty)')
    .option('--api <url>', 'Gatehouse API URL (default: GATEHOUSE_API)')
    .option('--oidc-token <jwt>', 'the OIDC token itself (prefer GATEHOUSE_OIDC_TOKEN)')
    .option('--oidc-token-file <file>', 'file holding the OIDC token')
    .option('--audience <aud>', 'audience of the GitHub Actions OIDC token', DEFAULT_AUDIENCE)
    .exitOverride()
    .action(async (options: EvidenceOptions) => {
      for (const [flag, value] of [
        ['--from', options.from],
        ['--to', options.to],
      ] as const) {
        if (!isoTime.safeParse(value).success) throw new UsageError(`${flag} is not an ISO-8601 date-time: ${value}`);
      }
      const target = resolve(options.out);
      if (!isEmptyOrAbsent(target)) throw new UsageError(`--out ${options.out} exists and is not empty`);
      const api = parseApiUrl(options.api ?? env().GATEHOUSE_API);
      const oidc = await resolveOidcToken({ ...options, env: env(), fetch: deps.fetch });
      const client = new ApiClient({ apiUrl: api.href, bearerToken: oidc.token, fetch: deps.fetch, progress });

      const collected = await fetchEvidence(client, options.from, options.to, progress);
      collected.recordings = await fetchRecordings(client, collected, progress);
      const player = deps.player === undefined ? loadPlayerAssets() : (deps.player ?? undefined);
      const bundle = buildBundle(collected, (deps.now ?? (() => new Date()))(), player);
      writeAtomically(target, bundle.files);
      out(
        `Wrote ${target}: ${bundle.counts.events} events, ${bundle.counts.digests} digests, ${bundle.counts.publicKeys} public key(s), ${bundle.counts.recordings} session recording(s)` +
          `${bundle.counts.uncoveredEvents ? `; ${bundle.counts.uncoveredEvents} event(s) not in a digest yet` : ''}.\n` +
          `${player ? '' : 'asciinema-player is not installed: report.html shows session transcripts without a player.\n'}` +
          `Open ${join(target, EXPORT_REPORT_FILE)}, or check it with: gatehouse audit verify --dir ${target}\n`,
      );
      const problems = collected.recordings.filter((recording) => !recording.bytes || recording.mismatch);
      if (problems.length > 0) {
        throw new CommandFailedError(
          problems
            .map((recording) =>
              recording.bytes
                ? recording.mismatch!
                : `the audit bucket has no recording ${recording.ref.key} (named by session.ended)`,
            )
            .join('\n'),
        );
      }
    });
}

interface CollectedEvidence {
  range: { from: string; to: string };
  events: AuditEvent[];
  digests: Map<string, string>;
  publicKeys: Map<string, string>;
  uncoveredEvents: number;
  /** The recordings the range's session.ended events name, as the bucket returned them. */
  recordings?: ReportRecording[];
}

/** Follows the cursors of GET /v1/evidence to the last page. */
async function fetchEvidence(
  client: ApiClient,
  from: string,
  to: string,
  progress: (line: string) => void,
): Promise<CollectedEvidence> {
  const collected: CollectedEvidence = {
    range: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    events: [],
    digests: new Map(),
    publicKeys: new Map(),
    uncoveredEvents: 0,
  };
  let cursor: string | null = null;
  for (let pages = 0; pages < MAX_PAGES; pages += 1) {
    const query = new URLSearchParams({ from, to, ...(cursor ? { cursor } : {}) });
    let body: unknown;
    try {
      ({ body } = await client.get<EvidenceAnswer>(`/v1/evidence?${query}`));
    } catch (error) {
      if (error instanceof ApiProblemError) throw problemError(error.problem);
      throw error;
    }
    const parsed = PageSchema.safeParse(body);
    if (!parsed.success)
      throw new CommandFailedError('the Gatehouse API answered /v1/evidence with an unexpected shape');
    const page = parsed.data;
    collected.events.push(...(page.events as unknown as AuditEvent[]));
    for (const digest of page.digests) {
      const hour = parseDigestKey(digest.key);
      // The key becomes a file path: only a digest key of the hour it claims is written.
      if (!hour || digestKey(hour) !== digest.key) throw new CommandFailedError(`unexpected digest key ${digest.key}`);
      collected.digests.set(digest.key, digest.body);
    }
    for (const key of page.publicKeys) {
      if (key.key !== publicKeyKey(key.sha256)) throw new CommandFailedError(`unexpected public key ${key.key}`);
      collected.publicKeys.set(key.key, key.pem);
    }
    if (page.coverage) collected.uncoveredEvents = page.coverage.uncoveredEvents;
    if (page.nextCursor === null) return collected;
    cursor = page.nextCursor;
    if ((pages + 1) % 10 === 0) progress(`${collected.events.length} events, ${collected.digests.size} digests so far`);
  }
  throw new CommandFailedError(`the export did not end within ${MAX_PAGES} pages`);
}

const RecordingPartSchema = z.object({
  recording: z.object({
    key: z.string(),
    offset: z.number().int().nonnegative(),
    size: z.number().int().nonnegative(),
    body: z.base64(),
    nextOffset: z.number().int().nonnegative().nullable(),
  }),
});

/**
 * Reads each recording the events name, part by part (GET /v1/evidence?recording=KEY&offset=N), and checks it against
 * its session.ended event. A recording the bucket does not have is kept as missing; one whose SHA-256 differs is kept
 * as found, flagged: both are evidence and both fail the export after it is written.
 */
async function fetchRecordings(
  client: ApiClient,
  collected: CollectedEvidence,
  progress: (line: string) => void,
): Promise<ReportRecording[]> {
  const recordings: ReportRecording[] = [];
  for (const ref of sessionRecordings(collected.events)) {
    const parts: Buffer[] = [];
    let offset: number | null = 0;
    let missing = false;
    while (offset !== null) {
      const query = new URLSearchParams({ ...collected.range, recording: ref.key, offset: String(offset) });
      let body: unknown;
      try {
        ({ body } = await client.get<unknown>(`/v1/evidence?${query}`));
      } catch (error) {
        if (error instanceof ApiProblemError && error.problem.status === 404) {
          missing = true;
          break;
        }
        if (error instanceof ApiProblemError) throw problemError(error.problem);
        throw error;
      }
      const parsed = RecordingPartSchema.safeParse(body);
      if (!parsed.success || parsed.data.recording.key !== ref.key || parsed.data.recording.offset !== offset) {
        throw new CommandFailedError(`the Gatehouse API answered for recording ${ref.key} with an unexpected shape`);
      }
      parts.push(Buffer.from(parsed.data.recording.body, 'base64'));
      const next: number | null = parsed.data.recording.nextOffset;
      if (next !== null && next <= offset) throw new CommandFailedError(`recording ${ref.key}: a part goes backwards`);
      offset = next;
    }
    if (missing) {
      recordings.push({ ref });
      continue;
    }
    const bytes = Buffer.concat(parts);
    const mismatch = recordingMismatch(ref, bytes);
    recordings.push({ ref, bytes, ...(mismatch ? { mismatch } : {}) });
    if (recordings.length % 10 === 0) progress(`${recordings.length} session recording(s) so far`);
  }
  return recordings;
}

interface Bundle {
  files: Map<string, Buffer>;
  counts: { events: number; digests: number; publicKeys: number; recordings: number; uncoveredEvents: number };
}

/** The bundle's files by relative path, manifest.json last (it holds the SHA-256 of every other file). */
export function buildBundle(collected: CollectedEvidence, generatedAt: Date, player?: PlayerAssets): Bundle {
  const events = [...collected.events].sort(byTimeStreamSeq);
  const files = new Map<string, Buffer>();
  files.set(EXPORT_EVENTS_FILE, Buffer.concat(events.map((event) => archiveObjectBody(event))));
  const digests = [...collected.digests].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [key, body] of digests) files.set(key, Buffer.from(body, 'utf8'));
  for (const [key, pem] of collected.publicKeys) files.set(key, Buffer.from(pem, 'utf8'));
  const recordings = collected.recordings ?? [];
  // Keys come from sessionRecordings, which takes only sessions/<day>/<ULID>.cast: safe as file paths.
  for (const recording of recordings) if (recording.bytes) files.set(recording.ref.key, Buffer.from(recording.bytes));
  const counts = {
    events: events.length,
    digests: digests.length,
    publicKeys: collected.publicKeys.size,
    recordings: recordings.filter((recording) => recording.bytes).length,
    uncoveredEvents: collected.uncoveredEvents,
  };
  files.set(
    EXPORT_REPORT_FILE,
    Buffer.from(
      renderEvidenceReport({
        range: collected.range,
        generatedAt: generatedAt.toISOString(),
        events,
        digests: digests.flatMap(([, body]) => digestSummary(body)),
        uncoveredEvents: collected.uncoveredEvents,
        recordings,
        ...(player ? { player } : {}),
      }),
      'utf8',
    ),
  );
  const manifest: EvidenceExportManifest = {
    range: collected.range,
    generatedAt: generatedAt.toISOString(),
    counts,
    files: Object.fromEntries([...files].map(([path, bytes]) => [path, sha256Hex(bytes)])),
    recordings: Object.fromEntries(
      recordings.map(({ ref, bytes, mismatch }) => [
        ref.key,
        {
          sessionId: ref.sessionId,
          ...(ref.grantId ? { grantId: ref.grantId } : {}),
          sha256: ref.sha256,
          bytes: ref.bytes,
          status: !bytes ? 'missing' : mismatch ? 'sha256-mismatch' : 'verified',
        },
      ]),
    ),
  };
  files.set(EXPORT_MANIFEST_FILE, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));
  return { files, counts };
}

/** Event time, then stream and seq: the order of events.jsonl. */
function byTimeStreamSeq(a: AuditEvent, b: AuditEvent): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.chain.stream !== b.chain.stream) return a.chain.stream < b.chain.stream ? -1 : 1;
  return a.chain.seq - b.chain.seq;
}

/** What the report says of a digest; one that does not parse is left out (`audit verify` reports it). */
function digestSummary(body: string): DigestSummary[] {
  try {
    const { digest } = JSON.parse(body) as SignedDigest;
    return [
      {
        hour: digest.hour,
        objects: digest.objects.length,
        keyId: digest.keyId,
        publicKeySha256: digest.publicKeySha256,
        signedAt: digest.signedAt,
      },
    ];
  } catch {
    return [];
  }
}

function isEmptyOrAbsent(directory: string): boolean {
  try {
    return readdirSync(directory).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw new UsageError(`--out ${directory} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Writes every file under a temporary sibling of `target`, then renames it to `target` (same filesystem: atomic). */
function writeAtomically(target: string, files: Map<string, Buffer>): void {
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const temporary = mkdtempSync(join(parent, `.${basename(target)}.partial-`));
  try {
    for (const [path, bytes] of files) {
      const file = join(temporary, ...path.split('/'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, bytes, { flag: 'wx' });
    }
    // An empty directory the caller made may stand where the bundle goes; rename cannot replace it.
    if (!isEmptyOrAbsent(target)) throw new UsageError(`--out ${target} was filled while the export ran`);
    try {
      rmdirSync(target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    renameSync(temporary, target);
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
}
