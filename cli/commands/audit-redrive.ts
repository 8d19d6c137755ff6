/**
 * `gatehouse audit redrive`: empties the archiver's dead-letter queue back into the audit archive. Each message names a
 * failed stream batch by its arrival times only, so its time window is re-read from the events table and archived
 * (what is already archived costs a HEAD), and the message is deleted once the whole window is archived.
 */
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { SqsDeadLetters } from '#shared/adapters/aws/sqs-dead-letters.ts';
import { LOCAL_DEAD_LETTER_FILE, LocalDeadLetters } from '#shared/adapters/local/local-dead-letters.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import { redriveDeadLetters, type RedriveOutcome } from '#shared/evidence/archive-redrive.ts';
import type { DeadLetters } from '#shared/evidence/ports.ts';
import { CommandFailedError, UsageError } from '../errors.ts';

const DEFAULT_DATA_DIR = '.gatehouse';

export interface RedriveCommandDeps {
  stdout?: (text: string) => void;
  /** The AWS clients of `--queue-url` mode; tests pass dynalite, s3rver and a mocked SQS. */
  awsClients?: (region: string | undefined) => { sqs: SQSClient; dynamodb: DynamoDBClient; s3: S3Client };
}

interface RedriveOptions {
  queueUrl?: string;
  table?: string;
  bucket?: string;
  region?: string;
  local?: boolean;
  dataDir: string;
}

/** Builds `redrive`, for the `audit` command to add. */
export function redriveCommand(deps: RedriveCommandDeps = {}): Command {
  const out = (text: string) => (deps.stdout ?? ((chunk: string) => void process.stdout.write(chunk)))(text);
  return new Command('redrive')
    .description("empty the archiver's dead-letter queue back into the audit archive")
    .option('--queue-url <url>', 'the dead-letter queue (the stream mapping on-failure destination)')
    .option('--table <name>', 'the events table')
    .option('--bucket <name>', 'the audit bucket')
    .option('--region <region>', 'AWS region (default: the SDK default chain)')
    .option('--local', "the local runtime's dead-letter file, table and bucket")
    .option('-d, --data-dir <dir>', 'the local runtime data directory (with --local)', DEFAULT_DATA_DIR)
    .exitOverride()
    .action(async (options: RedriveOptions) => {
      const target = await openTarget(options, deps);
      let outcomes: RedriveOutcome[];
      try {
        outcomes = await redriveDeadLetters({
          letters: target.letters,
          events: new DynamoDbChainStore(target.dynamodb, target.table),
          archive: new S3ArchiveStore(target.s3, target.bucket),
          clock: systemClock,
          ids: ulidIds,
        });
      } finally {
        await target.close();
      }
      out(formatOutcomes(outcomes));
      const failed = outcomes.filter((outcome) => outcome.status === 'failed').length;
      if (failed > 0) throw new CommandFailedError(`${failed} dead letters could not be redriven; they stay queued`);
    });
}

interface Target {
  letters: DeadLetters;
  dynamodb: DynamoDBClient;
  table: string;
  s3: S3Client;
  bucket: string;
  close(): Promise<void>;
}

async function openTarget(options: RedriveOptions, deps: RedriveCommandDeps): Promise<Target> {
  if (options.local) {
    if (options.queueUrl || options.table || options.bucket || options.region) {
      throw new UsageError('--local takes no --queue-url, --table, --bucket or --region');
    }
    const { openLocalStores } = await import('../../local/local-stores.ts');
    const stores = await openLocalStores(options.dataDir);
    return {
      letters: new LocalDeadLetters(join(resolve(options.dataDir), LOCAL_DEAD_LETTER_FILE)),
      dynamodb: stores.dynamodb,
      table: stores.eventsTable,
      s3: stores.s3,
      bucket: stores.bucket,
      close: () => stores.close(),
    };
  }
  const missing = (['queueUrl', 'table', 'bucket'] as const).filter((name) => !options[name]);
  if (missing.length > 0) {
    const flags = missing.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new UsageError(`redrive needs --local, or --queue-url, --table and --bucket (missing ${flags.join(', ')})`);
  }
  const clients = deps.awsClients?.(options.region) ?? defaultAwsClients(options.region);
  return {
    letters: new SqsDeadLetters(clients.sqs, options.queueUrl!),
    dynamodb: clients.dynamodb,
    table: options.table!,
    s3: clients.s3,
    bucket: options.bucket!,
    close: async () => {
      for (const client of [clients.sqs, clients.dynamodb, clients.s3]) client.destroy();
    },
  };
}

function defaultAwsClients(region: string | undefined) {
  const config = region ? { region } : {};
  return { sqs: new SQSClient(config), dynamodb: new DynamoDBClient(config), s3: new S3Client(config) };
}

/** One line per message, then a count. */
export function formatOutcomes(outcomes: readonly RedriveOutcome[]): string {
  if (outcomes.length === 0) return 'the dead-letter queue is empty\n';
  const lines = outcomes.map((outcome) =>
    outcome.status === 'redriven'
      ? `redriven ${outcome.id}: ${outcome.from} to ${outcome.to}, ${outcome.checked} events checked, ${outcome.written} written`
      : `not redriven ${outcome.id}: ${outcome.reason}`,
  );
  const redriven = outcomes.filter((outcome) => outcome.status === 'redriven').length;
  return `${lines.join('\n')}\n${redriven} of ${outcomes.length} dead letters redriven\n`;
}
