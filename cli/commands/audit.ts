/**
 * `gatehouse audit verify`: checks the evidence of a time range — digest signatures and links, every archived object
 * against its digest, every stream's chain, and DynamoDB against the archive — in an AWS bucket (`--bucket`), the local
 * runtime's data (`--local`) or an evidence export (`--dir`). Prints a summary and every problem with its location;
 * exits 0 when there is none, 1 when there is any, 2 on bad usage or unreadable input.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { EvidenceExportError, readEvidenceExport } from '#shared/adapters/fs/evidence-export.ts';
import { readArchiveEvidence } from '#shared/evidence/evidence-reader.ts';
import {
  formatProblem,
  verifyEvidence,
  type EvidenceInput,
  type EvidenceProblem,
  type EvidenceSummary,
} from '#shared/evidence/verifier.ts';
import { CommandFailedError, UsageError } from '../errors.ts';
import { redriveCommand, type RedriveCommandDeps } from './audit-redrive.ts';

const DEFAULT_DATA_DIR = '.gatehouse';

export interface AuditCommandDeps {
  stdout?: (text: string) => void;
  now?: () => Date;
  redrive?: RedriveCommandDeps;
}

interface VerifyOptions {
  bucket?: string;
  table?: string;
  region?: string;
  local?: boolean;
  dataDir: string;
  dir?: string;
  from?: Date;
  to?: Date;
  publicKey?: string;
  json?: boolean;
}

function isoTime(value: string): Date {
  const time = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(time.getTime())) {
    throw new InvalidArgumentError('an ISO-8601 time, e.g. 2026-11-01T00:00:00Z');
  }
  return time;
}

/** The `gatehouse audit` command and its subcommands. */
export function auditCommand(deps: AuditCommandDeps = {}): Command {
  const audit = new Command('audit')
    .description('the audit archive: verify its evidence, redrive its dead letters')
    .exitOverride();
  audit.addCommand(verifyCommand(deps));
  audit.addCommand(redriveCommand(deps.redrive ?? (deps.stdout ? { stdout: deps.stdout } : {})));
  return audit;
}

function verifyCommand(deps: AuditCommandDeps): Command {
  const stdout = deps.stdout ?? ((text: string) => process.stdout.write(text));
  return new Command('verify')
    .description('check digests, archived objects, chains and DynamoDB-to-S3 completeness; name every problem')
    .option('--bucket <bucket>', 'the audit bucket (AWS)')
    .option('--table <table>', 'with --bucket: the events table, to check DynamoDB against the archive')
    .option('--region <region>', 'with --bucket: the AWS region')
    .option('--local', "the local runtime's data (running or not)")
    .option('-d, --data-dir <dir>', 'with --local: the local runtime data directory', DEFAULT_DATA_DIR)
    .option('--dir <dir>', 'an evidence export directory (gatehouse evidence --out)')
    .option('--from <time>', 'start of the range, ISO-8601 (default: everything)', isoTime)
    .option('--to <time>', 'end of the range, exclusive, ISO-8601 (default: now)', isoTime)
    .option('--public-key <file>', 'PEM public key the digests must be signed with (default: the published keys)')
    .option('--json', 'print the report as JSON')
    .exitOverride()
    .action(async (options: VerifyOptions) => {
      const sources = [options.bucket, options.local, options.dir].filter(Boolean).length;
      if (sources !== 1) throw new UsageError('give exactly one of --bucket, --local or --dir');
      if ((options.table || options.region) && !options.bucket)
        throw new UsageError('--table and --region go with --bucket');
      if (options.to && !options.from) throw new UsageError('--to needs --from');
      if (options.dir && (options.from || options.to))
        throw new UsageError('an export has its own range: no --from/--to');
      const now = deps.now?.() ?? new Date();
      const range = options.from ? { from: options.from, to: options.to ?? now } : undefined;
      if (range && range.from >= range.to) throw new UsageError('--from must be before --to');
      const pinnedPublicKey = options.publicKey ? readPublicKey(options.publicKey) : undefined;

      const { input, problems: sourceProblems } = await readSource(options, range, now, pinnedPublicKey);
      const report = verifyEvidence(input);
      const problems = [...sourceProblems, ...report.problems];
      stdout(
        options.json
          ? `${JSON.stringify({ ok: problems.length === 0, summary: report.summary, problems }, null, 2)}\n`
          : describe(report.summary, problems, input, pinnedPublicKey !== undefined),
      );
      if (problems.length > 0) {
        throw new CommandFailedError(`verification failed: ${problems.length} problem(s)`);
      }
    });
}

async function readSource(
  options: VerifyOptions,
  range: { from: Date; to: Date } | undefined,
  now: Date,
  pinnedPublicKey: string | undefined,
): Promise<{ input: EvidenceInput; problems: EvidenceProblem[] }> {
  if (options.dir) {
    try {
      return readEvidenceExport(options.dir, { pinnedPublicKey });
    } catch (error) {
      if (error instanceof EvidenceExportError || (error as NodeJS.ErrnoException).code) {
        throw new UsageError(`cannot read the export: ${(error as Error).message}`);
      }
      throw error;
    }
  }
  if (options.local) {
    const { openLocalStores } = await import('../../local/local-stores.ts');
    const stores = await openLocalStores(options.dataDir);
    try {
      const input = await readArchiveEvidence({
        store: new S3ArchiveStore(stores.s3, stores.bucket),
        events: new DynamoDbChainStore(stores.dynamodb, stores.eventsTable),
        ...(range ? { range } : {}),
        now,
        pinnedPublicKey,
      });
      return { input, problems: [] };
    } finally {
      await stores.close();
    }
  }
  const [{ S3Client }, { DynamoDBClient }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/client-dynamodb'),
  ]);
  const region = options.region ? { region: options.region } : {};
  const s3 = new S3Client(region);
  const dynamodb = options.table ? new DynamoDBClient(region) : undefined;
  try {
    const input = await readArchiveEvidence({
      store: new S3ArchiveStore(s3, options.bucket!),
      ...(dynamodb ? { events: new DynamoDbChainStore(dynamodb, options.table!) } : {}),
      ...(range ? { range } : {}),
      now,
      pinnedPublicKey,
    });
    return { input, problems: [] };
  } finally {
    s3.destroy();
    dynamodb?.destroy();
  }
}

function readPublicKey(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
    createPublicKey(pem);
  } catch {
    throw new UsageError(`${file} is not a readable PEM public key`);
  }
  return pem;
}

function describe(
  summary: EvidenceSummary,
  problems: readonly EvidenceProblem[],
  input: EvidenceInput,
  pinned: boolean,
): string {
  const lines: string[] = [];
  const range = input.range
    ? `${input.range.from.toISOString()} to ${input.range.to.toISOString()}`
    : 'everything in the archive';
  lines.push(`Range         ${range}`);
  lines.push(
    `Checked       ${summary.digests} digest(s), ${summary.objects} archived object(s), ${summary.events} DynamoDB event(s), ${summary.streams} stream(s)`,
  );
  lines.push(`Pending       ${summary.pending} (archived after the newest digest, or not archived yet)`);
  for (const key of summary.keys) {
    lines.push(
      `Signing key   SHA-256 ${key.sha256} (${key.keyIds.join(', ')}): ${key.digests} digest(s), ${pinned ? 'pinned' : 'published in the archive; pin it with --public-key'}`,
    );
  }
  lines.push(problems.length === 0 ? 'Result        OK: no problems' : `Result        ${problems.length} problem(s):`);
  for (const found of problems) lines.push(`  ${formatProblem(found)}`);
  return `${lines.join('\n')}\n`;
}
