/**
 * PHI masking (issue 5) with the default rules, on a generated 10,000-pod PodList and a 100 MB FHIR-server log, both
 * built at bench time from the corpus generator (test/fixtures/phi) and never committed:
 * - JSON throughput: `maskJsonText` from the bytes to the output's pieces (what `gatehouse mask` and the relay do: a
 *   list is decoded, parsed, masked and written item by item), as MB/s and as a ratio to decoding the same bytes,
 *   `JSON.parse` and `JSON.stringify`, the floor of any JSON-level masker in Node;
 * - text throughput: the log pushed through the streaming text masker in 64 KiB chunks;
 * - memory, each in a child process of its own: the PodList's peak RSS above the child's baseline (the kernel's high
 *   water mark, VmHWM, reset through /proc/self/clear_refs right before the work) as a multiple of its size, against
 *   the same for parse + stringify alone; RSS sampled after every MB of the 100 MB stream;
 * - where the time goes: `node --cpu-prof` on a child running only the masking phase, and the top self-time functions
 *   summed from the .cpuprofile.
 * Run alone with `npx tsx bench/masking.ts`: it prints the report and writes its section into BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Masker } from '#shared/masking/masker.ts';
import type { MaskingRecord } from '#shared/masking/model.ts';
import type { ScannerTuning } from '#shared/masking/detectors.ts';
import { createTextMasker } from '#shared/masking/streams.ts';
import { NearMisses, cast, fhirServerLines, intakePod } from '../test/fixtures/phi/corpus.ts';
import { render } from '../test/fixtures/phi/plant.ts';
import { maskJson } from '../cli/commands/mask.ts';
import { MASK_NODE_FLAGS } from '../cli/node-flags.mjs';
import { defaultMasker } from '../test/fixtures/phi/run-masker.ts';
import { Rng } from '../test/fixtures/phi/synthetic.ts';
import { median, ms, table } from './stats.ts';
import { writeBenchmarkSection } from './section.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const MB = 1_000_000;
const JSON_RATIO_TARGET = 0.5;
const TEXT_TARGET_MB_S = 200;
const MEMORY_TARGET_MULTIPLE = 3;
/** "Flat": RSS over the stream, after its first tenth, varies by at most this much (GC runs by its own heuristics). */
const FLAT_RSS_SPREAD_MB = 32;
const CHUNK_BYTES = 64 * 1024;
/**
 * Runs of the 100 MB stream per scanner loop, each in a child of its own: one child's time moves by 5–10% with the
 * shared machine's load, so the median stands on five.
 */
const TEXT_RUNS = 5;

export interface ProfileLine {
  fn: string;
  selfMs: number;
  percent: number;
}

export interface MaskingBenchReport {
  pods: number;
  podListBytes: number;
  /** Values the masker masked in the PodList (from its record): the bench masks real identifiers. */
  podListMasked: number;
  runs: number;
  jsonFloorMs: number;
  jsonMaskMs: number;
  jsonMaskMBs: number;
  jsonFloorMBs: number;
  /** floor time ÷ masking time: 1 would be masking for free. */
  jsonRatio: number;
  textBytes: number;
  textMs: number;
  textMBs: number;
  /** The same stream with the scanner's JavaScript loop on every text (ScannerTuning), for the ratio. */
  textJavaScriptLoopMs: number;
  textJavaScriptLoopMBs: number;
  textMasked: number;
  /** RSS above the child's baseline, MB, after every MB of the stream. */
  textRssSamplesMB: number[];
  podListPeakBytes: number;
  /** The same with each output piece sent on as it is made (the relay), none held. */
  streamedPeakBytes: number;
  floorPeakBytes: number;
  /** Live heap above the baseline after a GC, bytes: the input alone, then with the output's pieces and the record. */
  podListRetained: { input: number; written: number };
  jsonProfile: ProfileSummary;
  textProfile: ProfileSummary;
}

/** The PodList of `pods` intake pods (PHI in env values, annotations and URLs), as compact JSON like the API sends. */
export function generatePodList(pods: number): string {
  const rng = new Rng(0x0b0d1e5);
  const who = cast(rng);
  const near = new NearMisses();
  const items = Array.from({ length: pods }, (_, index) =>
    render(intakePod(rng, near, who, `intake-api-7d9f8c6b5-${index.toString(36).padStart(5, '0')}`), {
      mode: 'input',
      hashKey: '',
    }),
  );
  return JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '918273645' }, items });
}

/** About a MB of distinct FHIR-server log lines; the 100 MB stream cycles through it. */
export function generateLogPool(): Buffer {
  const rng = new Rng(0x10c5);
  const who = cast(rng);
  const near = new NearMisses();
  const lines: string[] = [];
  let bytes = 0;
  while (bytes < MB) {
    for (const line of fhirServerLines(rng, near, who)) {
      const text = `${String(render(line, { mode: 'input', hashKey: '' }))}\n`;
      lines.push(text);
      bytes += Buffer.byteLength(text);
    }
  }
  return Buffer.from(lines.join(''), 'utf8');
}

/** 64 KiB chunks of `total` bytes cycling through `pool`: they cut lines anywhere, as a transport does. */
function* logChunks(pool: Buffer, total: number): Generator<Buffer> {
  let offset = 0;
  for (let sent = 0; sent < total; sent += CHUNK_BYTES) {
    const size = Math.min(CHUNK_BYTES, total - sent);
    const end = offset + size;
    yield end <= pool.length
      ? pool.subarray(offset, end)
      : Buffer.concat([pool.subarray(offset), pool.subarray(0, end - pool.length)]);
    offset = end % pool.length;
  }
}

export async function runMaskingBench(
  work: string,
  options: { pods?: number; textBytes?: number; runs?: number } = {},
): Promise<MaskingBenchReport> {
  const pods = options.pods ?? 10_000;
  const textBytes = options.textBytes ?? 100 * MB;
  const runs = options.runs ?? 5;
  mkdirSync(work, { recursive: true });
  const podListFile = join(work, 'podlist.json');
  const podList = Buffer.from(generatePodList(pods), 'utf8');
  writeFileSync(podListFile, podList);
  const podListBytes = podList.length;
  // Generated here, read by the stream's children: their timed phase then follows no generator's JIT work.
  const logPoolFile = join(work, 'log-pool.txt');
  writeFileSync(logPoolFile, generateLogPool());

  // Floor and masking interleaved run by run, so both see the same machine state; one untimed warm-up each.
  const masker = defaultMasker();
  const floor = () => JSON.stringify(JSON.parse(podList.toString('utf8')));
  const mask = () => maskPodList(masker, podList).record.total;
  floor();
  const podListMasked = mask();
  const floorTimes: number[] = [];
  const maskTimes: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    let started = performance.now();
    floor();
    floorTimes.push(performance.now() - started);
    started = performance.now();
    mask();
    maskTimes.push(performance.now() - started);
  }
  const jsonFloorMs = median(floorTimes);
  const jsonMaskMs = median(maskTimes);

  // The default scanner and the one with its JavaScript loop only, interleaved run by run (the machine is shared), each
  // in a process started as `gatehouse mask` starts one (cli/gatehouse.mjs, with cli/node-flags.mjs).
  type StreamRun = { ms: number; masked: number; rssSamples: number[] };
  const textRuns: StreamRun[] = [];
  const javaScriptLoopRuns: StreamRun[] = [];
  for (let run = 0; run < TEXT_RUNS; run += 1) {
    textRuns.push(child<StreamRun>(['stream', logPoolFile, String(textBytes), 'auto'], MASK_NODE_FLAGS));
    javaScriptLoopRuns.push(
      child<StreamRun>(['stream', logPoolFile, String(textBytes), 'javascript'], MASK_NODE_FLAGS),
    );
  }
  const textMs = median(textRuns.map((run) => run.ms));
  const textJavaScriptLoopMs = median(javaScriptLoopRuns.map((run) => run.ms));
  // As `gatehouse mask` runs: with the node flags cli/gatehouse.mjs starts it with.
  const podListPeak = child<{ peakBytes: number }>(['memory', 'mask', podListFile], MASK_NODE_FLAGS);
  const streamedPeak = child<{ peakBytes: number }>(['memory', 'mask-streamed', podListFile]);
  const floorPeak = child<{ peakBytes: number }>(['memory', 'floor', podListFile]);
  const podListRetained = child<MaskingBenchReport['podListRetained']>(['retained', podListFile]);
  const jsonProfile = profile(work, ['profile-json', podListFile]);
  const textProfile = profile(work, ['profile-text', logPoolFile, String(textBytes)]);

  return {
    pods,
    podListBytes,
    podListMasked,
    runs,
    jsonFloorMs,
    jsonMaskMs,
    jsonMaskMBs: podListBytes / MB / (jsonMaskMs / 1000),
    jsonFloorMBs: podListBytes / MB / (jsonFloorMs / 1000),
    jsonRatio: jsonFloorMs / jsonMaskMs,
    textBytes,
    textMs,
    textMBs: textBytes / MB / (textMs / 1000),
    textJavaScriptLoopMs,
    textJavaScriptLoopMBs: textBytes / MB / (textJavaScriptLoopMs / 1000),
    textMasked: textRuns[0]!.masked,
    textRssSamplesMB: textRuns[0]!.rssSamples.map((bytes) => bytes / MB),
    podListPeakBytes: podListPeak.peakBytes,
    streamedPeakBytes: streamedPeak.peakBytes,
    floorPeakBytes: floorPeak.peakBytes,
    podListRetained,
    jsonProfile,
    textProfile,
  };
}

/** Runs this file as a child (`--child <mode> …`) and returns the JSON it prints last. */
function child<T>(args: string[], nodeOptions: readonly string[] = []): T {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', ...nodeOptions, '--import', 'tsx', THIS_FILE, '--child', ...args],
    {
      encoding: 'utf8',
      maxBuffer: 16 * MB,
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/** A child under `node --cpu-prof`, then its profile summed by function and by area. */
function profile(work: string, args: string[]): ProfileSummary {
  const directory = join(work, `profile-${args[0]}`);
  child(args, ['--cpu-prof', `--cpu-prof-dir=${directory}`]);
  const file = readdirSync(directory).find((name) => name.endsWith('.cpuprofile'))!;
  return summarizeProfile(JSON.parse(readFileSync(join(directory, file), 'utf8')) as CpuProfile, 12);
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** The functions with the most self time. */
  top: ProfileLine[];
  /** Self time by part of the masker (AREAS), largest first. */
  areas: Array<{ area: string; percent: number }>;
}

/** Which part of the engine a frame belongs to, by its module (regular expressions are the detectors' patterns). */
const AREAS: ReadonlyArray<[string, (name: string, file: string) => boolean]> = [
  ['garbage collection', (name) => name === '(garbage collector)'],
  ['masking record (record.ts)', (_, file) => file === 'record.ts'],
  [
    'walk and rules (masker.ts, matcher.ts, paths.ts, tokens.ts)',
    (_, file) => /^(masker|matcher|paths|tokens)\.ts$/.test(file),
  ],
  [
    'scanner (detectors.ts, detectors/*, its WebAssembly loop, regular expressions)',
    (name, file) =>
      file === 'detectors.ts' || DETECTOR_FILES.has(file) || name.startsWith('RegExp:') || isScanLoop(name),
  ],
  [
    'nested encodings (encodings.ts, yaml)',
    (_, file) => file === 'encodings.ts' || /yaml|compose|lexer|parser/i.test(file),
  ],
  ['stream framing (streams.ts, TextDecoder)', (name, file) => file === 'streams.ts' || name === 'decode'],
];
const DETECTOR_FILES = new Set(readdirSync(resolve(import.meta.dirname, '../shared/masking/detectors')));

/** The scanner's loop is the only WebAssembly a masking child runs; V8 names its frames by index. */
function isScanLoop(name: string): boolean {
  return name.startsWith('wasm-function[') || name.startsWith('wasm-to-js') || name.startsWith('js-to-wasm');
}

/** Self time per function, summed over the samples that stopped in it (idle excluded), and per area. */
export function summarizeProfile(cpuProfile: CpuProfile, limit: number): ProfileSummary {
  const frames = new Map(cpuProfile.nodes.map((node) => [node.id, node.callFrame]));
  const selfMicros = new Map<string, number>();
  const areaMicros = new Map<string, number>();
  let total = 0;
  cpuProfile.samples.forEach((id, index) => {
    const delta = cpuProfile.timeDeltas[index] ?? 0;
    const frame = frames.get(id)!;
    // Waiting for the child's I/O is not work.
    if (frame.functionName === '(idle)') return;
    const file = frame.url ? basename(frame.url) : '';
    // tsx compiles each module with its own layout: the function and file name it, the line may not.
    const name = frame.functionName || '(anonymous)';
    // A regular expression is named by its whole source: its start is enough to tell which.
    const key = isScanLoop(name)
      ? `${name.replace(/\[\d+\]$/, '')} (scan-loop.as.ts)`
      : `${name.length > 48 ? `${name.slice(0, 48)}…` : name}${file ? ` (${file})` : ''}`;
    selfMicros.set(key, (selfMicros.get(key) ?? 0) + delta);
    const area = AREAS.find(([, test]) => test(name, file))?.[0] ?? 'other (start-up, JSON, Node)';
    areaMicros.set(area, (areaMicros.get(area) ?? 0) + delta);
    total += delta;
  });
  const byShare = (entries: Map<string, number>) => [...entries].sort((a, b) => b[1] - a[1]);
  return {
    top: byShare(selfMicros)
      .slice(0, limit)
      .map(([fn, micros]) => ({ fn, selfMs: micros / 1000, percent: (micros / total) * 100 })),
    areas: byShare(areaMicros).map(([area, micros]) => ({ area, percent: (micros / total) * 100 })),
  };
}

// ---- Child processes: each measures one thing in a fresh heap. ----

/** The PodList masked as `gatehouse mask` masks it: the output is the pieces it writes. */
function maskPodList(masker: Masker, bytes: Buffer): { pieces: string[]; record: MaskingRecord } {
  const pieces: string[] = [];
  const record = masker.maskJsonText(bytes, (piece) => pieces.push(piece));
  return { pieces, record };
}

/** A file read as `gatehouse mask` reads its input: 64 KiB chunks, joined into one Buffer at the end. */
function readInChunks(file: string): Buffer {
  const chunks: Buffer[] = [];
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(chunks);
}

function rssBytes(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

/** Resets the kernel's peak RSS (VmHWM) to the current RSS (Linux clear_refs, value 5). */
function resetPeakRss(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

function peakRssBytes(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function runChild(mode: string, args: string[]): Promise<unknown> {
  switch (mode) {
    case 'memory': {
      const [what, file] = args as [string, string];
      const masker = defaultMasker();
      // Compiled code and warmed caches are not proportional to the input: they come before the baseline.
      // Each returns the bytes written: 'mask' is `gatehouse mask`'s own maskJson, whose output waits in a spool file
      // until the whole document is masked (a failure midway writes nothing), then goes out; 'mask-streamed' is the
      // relay's case, each piece sent to the socket as it is made.
      const work = async (bytes: Buffer): Promise<number> => {
        if (what === 'floor') return JSON.stringify(JSON.parse(bytes.toString('utf8'))).length;
        let written = 0;
        if (what === 'mask') {
          const json = maskJson(bytes, masker, {});
          if (!json.ok) throw new Error('the PodList is not JSON');
          await json.spool.drainTo(async (chunk) => void (written += chunk.length));
          return written;
        }
        masker.maskJsonText(bytes, (piece) => (written += piece.length));
        return written;
      };
      await work(Buffer.from(generatePodList(50), 'utf8'));
      collectGarbage();
      resetPeakRss();
      const baseline = rssBytes();
      // Reading the input is part of the work, as `gatehouse mask` reads it: chunks, then one Buffer of the body.
      const written = await work(readInChunks(file));
      return { peakBytes: peakRssBytes() - baseline, written };
    }
    case 'retained': {
      const masker = defaultMasker();
      // The input is a Buffer, outside the JS heap: external memory counts too.
      const live = () => {
        collectGarbage();
        const usage = process.memoryUsage();
        return usage.heapUsed + usage.external;
      };
      const baseline = live();
      const bytes = readFileSync(args[0]!);
      const input = live() - baseline;
      const masked = maskPodList(masker, bytes);
      const written = live() - baseline;
      return { input, written, pieces: masked.pieces.length, entries: masked.record.entries.length };
    }
    case 'stream': {
      const pool = readFileSync(args[0]!);
      const total = Number(args[1]);
      const loop = args[2] as ScannerTuning['loop'];
      const stream = createTextMasker(defaultMasker({ loop }));
      collectGarbage();
      const baseline = rssBytes();
      const rssSamples: number[] = [];
      let nextSample = 0;
      let sent = 0;
      let out = 0;
      // The masking is timed, not the RSS probe (a read of /proc/self/status every MB).
      let ms = 0;
      for (const chunk of logChunks(pool, total)) {
        const started = performance.now();
        for (const piece of stream.push(chunk)) out += piece.length;
        ms += performance.now() - started;
        sent += chunk.length;
        if (sent >= nextSample) {
          rssSamples.push(rssBytes() - baseline);
          nextSample += MB;
        }
      }
      const started = performance.now();
      for (const piece of stream.end()) out += piece.length;
      ms += performance.now() - started;
      return { ms, masked: stream.record.total, out, rssSamples };
    }
    case 'profile-json': {
      const masker = defaultMasker();
      const bytes = readFileSync(args[0]!);
      // Masking dominates the profile: ten passes over one PodList.
      let masked = 0;
      for (let pass = 0; pass < 10; pass += 1) masked += maskPodList(masker, bytes).record.total;
      return { masked };
    }
    case 'profile-text': {
      const stream = createTextMasker(defaultMasker());
      for (const chunk of logChunks(readFileSync(args[0]!), Number(args[1]))) stream.push(chunk);
      stream.end();
      return { masked: stream.record.total };
    }
    default:
      throw new Error(`unknown child mode ${mode}`);
  }
}

const mb = (bytes: number) => (bytes / MB).toFixed(1);

/** The stream's RSS after its first tenth (the heap grows to its working size first), in MB. */
function settledRss(report: MaskingBenchReport): { low: number; high: number } {
  const settled = report.textRssSamplesMB.slice(Math.floor(report.textRssSamplesMB.length / 10));
  return { low: Math.min(...settled), high: Math.max(...settled) };
}

/** The masking rows of a Markdown targets table (`| target | measured | met |`). */
export function maskingTargets(report: MaskingBenchReport): string {
  const yes = (ok: boolean) => (ok ? 'met' : '**not met**');
  const memoryMultiple = report.podListPeakBytes / report.podListBytes;
  const streamedMultiple = report.streamedPeakBytes / report.podListBytes;
  const rss = settledRss(report);
  return [
    [
      `masking JSON: parse + mask + stringify ≥ ${JSON_RATIO_TARGET} of parse + stringify`,
      `${report.jsonRatio.toFixed(2)} (${report.jsonMaskMBs.toFixed(1)} MB/s against ${report.jsonFloorMBs.toFixed(1)} MB/s)`,
      yes(report.jsonRatio >= JSON_RATIO_TARGET),
    ],
    [
      `masking text ≥ ${TEXT_TARGET_MB_S} MB/s`,
      `${report.textMBs.toFixed(1)} MB/s`,
      yes(report.textMBs >= TEXT_TARGET_MB_S),
    ],
    [
      `masking a PodList peaks ≤ ${MEMORY_TARGET_MULTIPLE}× its size`,
      `${memoryMultiple.toFixed(2)}× (${mb(report.podListPeakBytes)} MB) as \`gatehouse mask\` runs it; ${streamedMultiple.toFixed(2)}× (${mb(report.streamedPeakBytes)} MB) streamed as the relay sends it`,
      yes(Math.max(memoryMultiple, streamedMultiple) <= MEMORY_TARGET_MULTIPLE),
    ],
    [
      'masking a stream keeps memory flat',
      `RSS ${rss.low.toFixed(1)}–${rss.high.toFixed(1)} MB above baseline after the first tenth`,
      yes(rss.high - rss.low <= FLAT_RSS_SPREAD_MB),
    ],
  ]
    .map((row) => `| ${row.join(' | ')} |`)
    .join('\n');
}

export function maskingMarkdown(report: MaskingBenchReport): string {
  const rss = report.textRssSamplesMB;
  const profileTable = (summary: ProfileSummary) =>
    table(
      ['function (file)', 'self ms', 'share of busy time'],
      // A regular expression's `|` would end the table cell: GitHub's tables take `\|`, in code spans too.
      summary.top.map((line) => [
        `\`${line.fn.replaceAll('|', '\\|')}\``,
        ms(line.selfMs, 0),
        `${line.percent.toFixed(1)}%`,
      ]),
    );
  const areas = (summary: ProfileSummary) =>
    summary.areas.map(({ area, percent }) => `${area} ${percent.toFixed(0)}%`).join(', ');
  const retained = report.podListRetained;
  return `## PHI masking

bench/masking.ts, with the default rules (\`gatehouse mask\` without \`--rules\`). The inputs are generated at bench time
by the corpus generator (test/fixtures/phi): a PodList of ${report.pods.toLocaleString('en')} intake pods, compact JSON of
${mb(report.podListBytes)} MB, each pod with PHI in env values, annotations and a referral URL (${report.podListMasked.toLocaleString('en')}
values masked); and a ${mb(report.textBytes)} MB FHIR-server log cycling through a MB of distinct lines (search
parameters, SSNs, emails, phones, cards, addresses; UUIDs, timestamps and digests that stay; cluster IPs, which the
default rules mask as they know no cluster CIDR), pushed through the streaming text masker in 64 KiB chunks (${report.textMasked.toLocaleString('en')} values masked). JSON times are medians of ${report.runs} interleaved runs
after a warm-up; text times are medians of ${TEXT_RUNS} runs of the whole stream from its first chunk (no warm-up), each in a
child process of its own started with \`gatehouse mask\`'s node flags, that reads the log from a file and times the
masking (not the RSS probe after every MB), interleaved with as many runs whose scanner loops in JavaScript only (the
scanner's loop runs in WebAssembly on texts of 256 characters and more, scan-loop.as.ts; decision 0014):
${(report.textJavaScriptLoopMs / report.textMs).toFixed(2)}× faster with it.

| target | measured | |
|---|---|---|
${maskingTargets(report)}

${table(
  ['what', 'ms', 'MB/s'],
  [
    ['decode + JSON.parse + JSON.stringify (the floor)', ms(report.jsonFloorMs, 0), report.jsonFloorMBs.toFixed(1)],
    [
      'maskJsonText (decode, parse, mask, stringify item by item)',
      ms(report.jsonMaskMs, 0),
      report.jsonMaskMBs.toFixed(1),
    ],
    [`text masker, ${mb(report.textBytes)} MB in 64 KiB chunks`, ms(report.textMs, 0), report.textMBs.toFixed(1)],
    [
      'the same, the scanner looping in JavaScript only',
      ms(report.textJavaScriptLoopMs, 0),
      report.textJavaScriptLoopMBs.toFixed(1),
    ],
  ],
)}

**Memory, how measured.** Each figure comes from a child process of its own (\`node --expose-gc\`): after a GC its RSS is
the baseline and the kernel's peak RSS (VmHWM) is reset through \`/proc/self/clear_refs\`; it then reads the PodList
file as \`gatehouse mask\` reads its input (64 KiB chunks joined into one Buffer) and masks it with \`gatehouse mask\`'s
own \`maskJson\` (its output spooled to a file until the whole document is masked, then read back out), in a process
started with the node flags \`gatehouse mask\` starts with (\`${MASK_NODE_FLAGS.join(' ')}\`, cli/node-flags.mjs: V8's
default 16 MB semi-spaces let an item's garbage pile up to about twice a 20 MB list); the relay's case sends each
piece on as it is made, with node's defaults; parse + stringify alone decodes, parses and stringifies it. VmHWM minus
the baseline is the peak. It includes the chunks and the joined input, the parsed objects and the output. Parse + stringify alone peaks at
${(report.floorPeakBytes / report.podListBytes).toFixed(2)}× (${mb(report.floorPeakBytes)} MB), so masking's own share is the difference. The stream's RSS
above its baseline, sampled after every MB of input (first, then every tenth MB):
${rss
  .filter((_, index) => index % 10 === 0)
  .map((value) => value.toFixed(1))
  .join(', ')} MB.

**Where the PodList's memory goes** (live heap and external memory after a GC, above the baseline): the input's bytes
${mb(retained.input)} MB; with the masked output's pieces and the record ${mb(retained.written)} MB. A list is decoded, parsed, masked
and written one item at a time, so neither a parsed tree nor a decoded copy of the whole list is ever live; the peak
above also holds the garbage made between collections.

**The hot path, and how it was found.** \`node --cpu-prof\` on a child that masks the PodList's text ten
times, and on a child that streams the ${mb(report.textBytes)} MB log; bench/masking.ts sums each function's self time over
the samples of the .cpuprofile (\`summarizeProfile\`, idle excluded) and groups it by module. Process start-up is in
the profiles too, in "other".

PodList masking by area: ${areas(report.jsonProfile)}.

${profileTable(report.jsonProfile)}

Log masking by area: ${areas(report.textProfile)}.

${profileTable(report.textProfile)}
`;
}

/** Replaces (or appends) the `## PHI masking` section of BENCHMARKS.md, formatted as `npm run lint` checks it. */
if (process.argv.includes('--child')) {
  const index = process.argv.indexOf('--child');
  console.log(JSON.stringify(await runChild(process.argv[index + 1]!, process.argv.slice(index + 2))));
} else if (process.argv[1]?.endsWith('bench/masking.ts')) {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-masking-'));
  try {
    const report = await runMaskingBench(work);
    console.log(JSON.stringify(report, null, 2));
    const markdown = maskingMarkdown(report);
    await writeBenchmarkSection('## PHI masking', markdown);
    console.log(markdown);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
