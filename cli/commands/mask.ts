/**
 * `gatehouse mask [--rules FILE] [--format auto|json|watch|text] [--explain] [--hash-key-file F] [FILE]`: masks a
 * Kubernetes JSON object, list or Table, a watch stream or text (logs) from FILE or stdin to stdout, with the rules the
 * relay would use, and writes the masking record to stderr as JSON (after a human-readable list with --explain). Watch
 * streams and text are streamed with bounded memory; a JSON document is read whole.
 */
import { createReadStream, openSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import { ConfigError, parseMaskingRules } from '#shared/config/parse.ts';
import { createTextScanner } from '#shared/masking/detectors.ts';
import { createMasker, MaskingRulesError, type MaskContext, type Masker } from '#shared/masking/masker.ts';
import type { MaskingRecord } from '#shared/masking/model.ts';
import { MaskingConfigSchema, type MaskingConfig } from '#shared/masking/rules.ts';
import { createTextMasker, createWatchMasker, StreamMaskingError, type ChunkMasker } from '#shared/masking/streams.ts';
import { UsageError } from '../errors.ts';
import { OutputSpool } from '../lib/output-spool.ts';

type Format = 'auto' | 'json' | 'watch' | 'text';

interface MaskOptions {
  rules?: string;
  format: Format;
  explain?: boolean;
  hashKeyFile?: string;
  kind?: string;
  namespace?: string;
}

export interface MaskCommandDeps {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default process.stdin */
  stdin?: NodeJS.ReadableStream;
}

/** Enough of the input to tell a JSON document from a watch stream from text. */
const SNIFF_BYTES = 256;
/** A hash key shorter than this is refused: HMAC tokens of guessable values are only as strong as the key. */
const MIN_HASH_KEY_BYTES = 16;
const WATCH_EVENT_START = /^\s*\{\s*"type"\s*:\s*"(?:ADDED|MODIFIED|DELETED|BOOKMARK|ERROR)"/;

/** Builds the `mask` command. */
export function maskCommand(deps: MaskCommandDeps = {}): Command {
  return new Command('mask')
    .description('mask PHI in a Kubernetes object, list, Table, watch stream or log; the masking record goes to stderr')
    .argument('[file]', 'input file (default: stdin)')
    .option(
      '--rules <file>',
      'masking rules: a masking section, or a gatehouse.config.yaml (default: the built-in rules)',
    )
    .addOption(
      new Option('--format <format>', 'input format').choices(['auto', 'json', 'watch', 'text']).default('auto'),
    )
    .option('--explain', 'list on stderr which rule or detector masked each path')
    .option('--hash-key-file <file>', 'HMAC key for hash rules (default: the rules file hashKey)')
    .option('--kind <kind>', 'kind of the objects when they do not say (a watch of pods: Pod)')
    .option('--namespace <namespace>', 'namespace of the input when it does not say (a pod log)')
    .exitOverride()
    .action(async (file: string | undefined, options: MaskOptions) => {
      const env = deps.env ?? process.env;
      const masker = buildMasker(options, env);
      const context: MaskContext = { kind: options.kind, namespace: options.namespace };
      const input = openInput(file, deps.stdin ?? process.stdin);
      const record = await maskInput(input, options.format, masker, context);
      if (options.explain) process.stderr.write(explain(record));
      process.stderr.write(`${JSON.stringify(record)}\n`);
    });
}

function buildMasker(options: MaskOptions, env: NodeJS.ProcessEnv): Masker {
  const rules = options.rules ? loadRules(options.rules) : MaskingConfigSchema.parse({});
  const hashKey = resolveHashKey(options, rules, env);
  try {
    return createMasker(rules, { scanner: createTextScanner(rules.detectors), hashKey });
  } catch (error) {
    if (error instanceof MaskingRulesError) throw new UsageError(error.message);
    throw error;
  }
}

/** A bad rules file is reported on one line: every problem, each with its line and path in the file. */
function loadRules(file: string): MaskingConfig {
  const text = readInputFile(file, 'rules file');
  try {
    return parseMaskingRules(text, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const problems = error.problems.map(
      (problem) =>
        `${problem.line ? `${problem.line}:${problem.column} ` : ''}${problem.path || '(root)'}: ${problem.message}`,
    );
    throw new UsageError(`bad rules file ${file}: ${problems.join('; ')}`);
  }
}

/** `--hash-key-file`, else the rules' `hashKey` (`{ env }` or `{ file }`, a file relative to the rules file). */
function resolveHashKey(options: MaskOptions, rules: MaskingConfig, env: NodeJS.ProcessEnv): Uint8Array | undefined {
  let key: Buffer | undefined;
  let source: string | undefined;
  if (options.hashKeyFile) {
    source = options.hashKeyFile;
    key = readKeyFile(options.hashKeyFile);
  } else if (rules.hashKey && 'env' in rules.hashKey) {
    source = `environment variable ${rules.hashKey.env}`;
    const value = env[rules.hashKey.env];
    if (value === undefined || value === '') throw new UsageError(`hash key: ${source} is not set`);
    key = Buffer.from(value, 'utf8');
  } else if (rules.hashKey) {
    source = resolve(options.rules ? dirname(options.rules) : '.', rules.hashKey.file);
    key = readKeyFile(source);
  }
  if (key && key.length < MIN_HASH_KEY_BYTES) {
    throw new UsageError(`hash key from ${source} is shorter than ${MIN_HASH_KEY_BYTES} bytes`);
  }
  return key;
}

function readKeyFile(file: string): Buffer {
  const text = readInputFile(file, 'hash key file');
  // A trailing newline is how editors and `echo` end a file, not part of the key.
  return Buffer.from(text.replace(/\r?\n$/, ''), 'utf8');
}

function readInputFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${describeFsError(error)}`);
  }
}

function openInput(file: string | undefined, stdin: NodeJS.ReadableStream): AsyncIterable<Uint8Array> {
  if (!file) return stdin as AsyncIterable<Uint8Array>;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${describeFsError(error)}`);
  }
  return createReadStream('', { fd });
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES') return 'permission denied';
  return code ?? 'read failed';
}

/** Reads the input chunk by chunk; a read error is unreadable input (exit 2). */
async function* chunks(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of input) yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  } catch (error) {
    throw new UsageError(`cannot read the input: ${describeFsError(error)}`);
  }
}

async function maskInput(
  input: AsyncIterable<Uint8Array>,
  format: Format,
  masker: Masker,
  context: MaskContext,
): Promise<MaskingRecord> {
  const source = chunks(input);
  // The first bytes decide the format; they are then masked with the rest.
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let done = false;
  while (format === 'auto' && headBytes < SNIFF_BYTES) {
    const next = await source.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const all = async function* () {
    yield* head;
    if (!done) yield* source;
  };
  const chosen = format === 'auto' ? sniff(Buffer.concat(head).toString('utf8')) : format;
  if (chosen !== 'json')
    return streamMasked(
      all(),
      chosen === 'watch' ? createWatchMasker(masker, { context }) : createTextMasker(masker, { context }),
    );

  // The document's bytes are held, never a decoded copy: the masker decodes it an item at a time, and its output
  // waits in a spool file until the whole document is masked.
  const bytes = await readAll(all());
  const json = maskJson(bytes, masker, context);
  if (json.ok) {
    await json.spool.drainTo(write);
    return json.record;
  }
  if (format === 'json') throw new UsageError(`the input is not valid JSON${json.position}`);
  // Looked like JSON but is not (JSON lines of a log): text masking fits any input.
  return streamMasked(
    (async function* () {
      yield bytes;
    })(),
    createTextMasker(masker, { context }),
  );
}

async function readAll(input: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of input) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `json` for an object or array, `watch` for a stream of watch events, `text` for anything else. */
function sniff(head: string): Exclude<Format, 'auto'> {
  const start = head.replace(/^\uFEFF/, '');
  if (WATCH_EVENT_START.test(start)) return 'watch';
  return /^\s*[{[]/.test(start) ? 'json' : 'text';
}

/**
 * The masked document spooled (a list item by item), all masked before any is written: input that is not JSON is
 * masked as text instead. JSON.parse's message quotes the input, which may be PHI: only the position is kept.
 */
export function maskJson(
  bytes: Buffer,
  masker: Masker,
  context: MaskContext,
): { ok: true; spool: OutputSpool; record: MaskingRecord } | { ok: false; position: string } {
  const spool = new OutputSpool();
  try {
    const record = masker.maskJsonText(bytes, (piece) => spool.write(piece), context);
    return { ok: true, spool, record };
  } catch (error) {
    spool.discard();
    if (!(error instanceof SyntaxError)) throw error;
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    return { ok: false, position: position ? ` (at character ${position})` : '' };
  }
}

async function streamMasked(input: AsyncIterable<Uint8Array>, masker: ChunkMasker): Promise<MaskingRecord> {
  try {
    for await (const chunk of input) for (const out of masker.push(chunk)) await write(out);
    for (const out of masker.end()) await write(out);
  } catch (error) {
    if (error instanceof StreamMaskingError) throw new UsageError(error.message);
    throw error;
  }
  return masker.record;
}

/** Writes to stdout, waiting when its buffer is full so a large input never piles up in memory. */
async function write(data: string | Uint8Array): Promise<void> {
  const chunk = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

/** One line per masked path: the path, what masked it, and how often when more than once. */
function explain(record: MaskingRecord): string {
  if (record.entries.length === 0) return 'nothing masked\n';
  const width = Math.min(80, Math.max(...record.entries.map((entry) => entry.path.length)));
  const lines = record.entries.map(
    (entry) => `  ${entry.path.padEnd(width)}  ${entry.by}${entry.count > 1 ? ` (${entry.count} times)` : ''}`,
  );
  const values = record.total === 1 ? 'value' : 'values';
  return `masked ${record.total} ${values} at ${record.entries.length} path${record.entries.length === 1 ? '' : 's'}:\n${lines.join('\n')}\n`;
}
