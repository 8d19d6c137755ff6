/**
 * `gatehouse replay SESSION_ID`: plays a recorded exec/attach session in the terminal. The session's `session.ended`
 * event (from the events table, the local runtime, the archive or an evidence export) names the recording's key and
 * SHA-256; the recording is read from the same place, checked against them, and refused when it differs (it was changed
 * after the session ended: exit 1). Only what the agent was shown is written (output events), with the recorded pauses,
 * `--speed` times faster and each at most `--max-wait` seconds; `--print` writes it at once, without timing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { AsciicastParseError, parseAsciicast, type Asciicast } from '#shared/audit/asciicast.ts';
import type { AuditEvent } from '#shared/audit/event.ts';
import { EXPORT_EVENTS_FILE } from '#shared/evidence/export-layout.ts';
import {
  archivedSessionEvents,
  findSessionRecording,
  isSessionId,
  recordingMismatch,
  type SessionRecordingRef,
} from '#shared/evidence/session-recordings.ts';
import { outputText, playFrames, replayFrames } from '#shared/sessions/player.ts';
import { CommandFailedError, UsageError } from '../errors.ts';

const DEFAULT_DATA_DIR = '.gatehouse';

export interface ReplayCommandDeps {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Waits between frames; a test passes one that returns at once. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface ReplayOptions {
  bucket?: string;
  table?: string;
  region?: string;
  local?: boolean;
  dataDir: string;
  dir?: string;
  file?: string;
  speed: number;
  maxWait?: number;
  play: boolean;
  print?: boolean;
}

/** Where a session's events and recording are read from. */
interface SessionSource {
  /** The session's events (at least its session.ended, when it has ended). */
  events(sessionId: string): Promise<AuditEvent[]>;
  /** The recording's bytes, or undefined when there are none. */
  recording(key: string): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

function positive(name: string, allowZero: boolean) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isFinite(number) || number < 0 || (!allowZero && number === 0)) {
      throw new InvalidArgumentError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
    }
    return number;
  };
}

export function replayCommand(deps: ReplayCommandDeps = {}): Command {
  const stdout = deps.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = deps.stderr ?? ((text: string) => void process.stderr.write(text));
  return new Command('replay')
    .description('play a recorded exec/attach session, checked against its session.ended event')
    .argument('[session-id]', 'the session id (session.started / session.ended carry it); optional with --file alone')
    .option('--bucket <bucket>', 'the audit bucket (AWS)')
    .option('--table <table>', "with --bucket: the events table (else the session's events are read from the archive)")
    .option('--region <region>', 'with --bucket: the AWS region')
    .option('--local', "the local runtime's data (running or not)")
    .option('-d, --data-dir <dir>', 'with --local: the local runtime data directory', DEFAULT_DATA_DIR)
    .option('--dir <dir>', 'an evidence export directory (gatehouse evidence --out)')
    .option('--file <file>', 'play this .cast file; with --bucket, --local or --dir it is checked against the event')
    .option('--speed <n>', 'play n times faster', positive('--speed', false), 1)
    .option(
      '--max-wait <seconds>',
      'cut every pause to at most this many (recorded) seconds',
      positive('--max-wait', true),
    )
    .option('--no-play', 'do not play: check the recording and say so on stderr')
    .option('--print', 'write the output at once, without timing')
    .exitOverride()
    .action(async (sessionId: string | undefined, options: ReplayOptions) => {
      const sources = [options.bucket, options.local, options.dir].filter(Boolean).length;
      if (sources > 1) throw new UsageError('give one of --bucket, --local or --dir');
      if (sources === 0 && !options.file) throw new UsageError('give one of --bucket, --local, --dir or --file');
      if ((options.table || options.region) && !options.bucket) {
        throw new UsageError('--table and --region go with --bucket');
      }
      if (sessionId !== undefined && !isSessionId(sessionId)) {
        throw new UsageError(`${sessionId} is not a session id (a 26-character ULID)`);
      }
      if (sessionId === undefined && sources > 0) throw new UsageError('give the session id');

      let bytes: Uint8Array;
      let verified: SessionRecordingRef | undefined;
      if (sources === 0) {
        bytes = readFile(options.file!);
        stderr(`gatehouse: ${options.file} is played unchecked: give --bucket, --local or --dir to check it\n`);
      } else {
        const source = await openSource(options);
        try {
          const lookup = findSessionRecording(await source.events(sessionId!), sessionId!);
          if (!lookup.found) throw new UsageError(lookup.reason);
          verified = lookup.recording;
          const found = options.file ? readFile(options.file) : await source.recording(verified.key);
          if (!found) throw new CommandFailedError(`the recording ${verified.key} named by session.ended is missing`);
          bytes = found;
        } finally {
          await source.close();
        }
        const mismatch = recordingMismatch(verified, bytes);
        if (mismatch) throw new CommandFailedError(`refusing to replay session ${sessionId}: ${mismatch}`);
      }

      let cast: Asciicast;
      try {
        cast = parseAsciicast(Buffer.from(bytes).toString('utf8'));
      } catch (error) {
        if (!(error instanceof AsciicastParseError)) throw error;
        const message = `the recording is not asciicast v2: ${error.message}`;
        throw verified ? new CommandFailedError(message) : new UsageError(message);
      }
      if (verified) {
        stderr(
          `gatehouse: session ${verified.sessionId}${verified.grantId ? ` (grant ${verified.grantId})` : ''}: ` +
            `${verified.key}, SHA-256 ${verified.sha256} as session.ended names it\n`,
        );
      }
      if (options.print) {
        stdout(outputText(cast));
        return;
      }
      if (!options.play) return;
      await play(cast, options, stdout, deps);
    });
}

async function play(
  cast: Asciicast,
  options: ReplayOptions,
  stdout: (text: string) => void,
  deps: ReplayCommandDeps,
): Promise<void> {
  const frames = replayFrames(cast, {
    speed: options.speed,
    ...(options.maxWait !== undefined ? { maxWaitSeconds: options.maxWait } : {}),
  });
  let stopped = false;
  // Ctrl-C stops the replay, not the process mid-escape-sequence; the terminal is left as the recording left it.
  const onSigint = () => {
    stopped = true;
  };
  process.once('SIGINT', onSigint);
  try {
    await playFrames(frames, {
      write: stdout,
      now: deps.now ?? (() => performance.now()),
      sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      stopped: () => stopped,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function readFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function openSource(options: ReplayOptions): Promise<SessionSource> {
  if (options.dir) return exportSource(options.dir);
  const [{ S3ArchiveStore }, { DynamoDbChainStore }] = await Promise.all([
    import('#shared/adapters/aws/s3-archive-store.ts'),
    import('#shared/adapters/aws/dynamodb-chain-store.ts'),
  ]);
  if (options.local) {
    const { openLocalStores } = await import('../../local/local-stores.ts');
    const stores = await openLocalStores(options.dataDir);
    const archive = new S3ArchiveStore(stores.s3, stores.bucket);
    const table = new DynamoDbChainStore(stores.dynamodb, stores.eventsTable);
    return {
      events: (sessionId) => table.queryEvents(`session/${sessionId}`),
      recording: (key) => archive.get(key),
      close: () => stores.close(),
    };
  }
  const [{ S3Client }, { DynamoDBClient }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/client-dynamodb'),
  ]);
  const region = options.region ? { region: options.region } : {};
  const s3 = new S3Client(region);
  const dynamodb = options.table ? new DynamoDBClient(region) : undefined;
  const archive = new S3ArchiveStore(s3, options.bucket!);
  const table = dynamodb ? new DynamoDbChainStore(dynamodb, options.table!) : undefined;
  return {
    events: (sessionId) =>
      table ? table.queryEvents(`session/${sessionId}`) : archivedSessionEvents(archive, sessionId),
    recording: (key) => archive.get(key),
    close: async () => {
      s3.destroy();
      dynamodb?.destroy();
    },
  };
}

/** An evidence export: events.jsonl, and the recordings at their keys. */
function exportSource(directory: string): SessionSource {
  let lines: string[];
  try {
    lines = readFileSync(join(directory, EXPORT_EVENTS_FILE), 'utf8').split('\n');
  } catch (error) {
    throw new UsageError(
      `${directory} is not an evidence export (${EXPORT_EVENTS_FILE}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  const events = lines.flatMap((line) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as AuditEvent];
    } catch {
      return [];
    }
  });
  return {
    events: async (sessionId) => events.filter((event) => event.sessionId === sessionId),
    // The key is a checked recording key (sessions/<day>/<ULID>.cast): it cannot leave the directory.
    recording: async (key) => {
      try {
        return readFileSync(join(directory, ...key.split('/')));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    close: async () => {},
  };
}
