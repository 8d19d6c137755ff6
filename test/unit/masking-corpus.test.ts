/**
 * The correctness bar of issue 5 on the PHI corpus (test/fixtures/phi): for every file, masked with the corpus rules as
 * `gatehouse mask --rules` masks it, no planted value survives in any encoding, every near miss survives, the output is
 * the expected output the generator wrote from what it planted, and the masking record names paths, rules and counts
 * but no value.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CORPUS_DIR, CORPUS_RULES_FILE, buildCorpus, sortRecord, type CorpusFile } from '../fixtures/phi/generate.ts';
import { corpusMasker, maskInput } from '../fixtures/phi/run-masker.ts';
import { occurrences, survivals, views } from '../fixtures/phi/search.ts';
import { runCli } from '../support/cli.ts';

const corpus = buildCorpus();
const masker = corpusMasker();
const read = (file: string) => readFileSync(join(CORPUS_DIR, file), 'utf8');

/** The output as a value: JSON parsed, a watch stream parsed line by line, text as it is. */
function parsed(file: CorpusFile, text: string): unknown {
  if (file.format === 'json') return JSON.parse(text);
  if (file.format === 'watch')
    return text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
  return text;
}

describe('the committed corpus', () => {
  it.each(corpus)('$name is what generate.ts writes (run it after changing the corpus)', (file) => {
    expect(read(file.inputFile)).toBe(file.input);
    expect(read(file.expectedFile)).toBe(file.expected);
    const planted = JSON.parse(read(`${file.name}.planted.json`)) as { values: unknown[]; record: unknown };
    expect(planted.values).toHaveLength(file.planted.length);
    expect(planted.record).toEqual(file.record);
    expect(JSON.parse(read(`${file.name}.nearmiss.json`))).toEqual(file.nearMisses);
  });

  it('plants every detector and covers every format', () => {
    const by = new Set(corpus.flatMap((file) => file.planted.map((planting) => planting.by)));
    for (const detector of [
      'ssn',
      'date',
      'phone',
      'email',
      'mrn',
      'health-plan',
      'npi',
      'mbi',
      'street-address',
      'zip',
      'ip',
      'url',
      'credit-card',
    ]) {
      expect(by).toContain(`detector:${detector}`);
    }
    expect(new Set(corpus.map((file) => file.format))).toEqual(new Set(['json', 'watch', 'text']));
    const encodings = new Set(corpus.flatMap((file) => file.planted.flatMap((planting) => planting.encodings)));
    expect(encodings).toEqual(new Set(['base64', 'json', 'yaml', 'key-value', 'url']));
  });
});

describe.each(corpus)('masking $name with the corpus rules', (file) => {
  const { output, record } = maskInput(masker, file.format, file.input);
  const outputViews = views(output, file.format);

  it('leaves no planted value anywhere in the output, in any encoding (recall 100%)', () => {
    const identifying = file.planted.filter((planting) => planting.identifying);
    expect(identifying.length).toBeGreaterThan(0);
    const survived = identifying
      .map((planting) => ({ ...planting, hits: survivals(planting.value, outputViews) }))
      .filter((planting) => planting.hits.length > 0);
    expect(survived).toEqual([]);
  });

  it('masks no near miss: each occurs as often in the output as in the input', () => {
    expect(file.nearMisses.length).toBeGreaterThan(0);
    const inputViews = views(file.input, file.format);
    const changed = file.nearMisses
      .map(({ value, kind }) => ({
        value,
        kind,
        input: occurrences(value, inputViews),
        output: occurrences(value, outputViews),
      }))
      .filter((count) => count.input !== count.output || count.input === 0);
    expect(changed).toEqual([]);
  });

  it('writes the expected output', () => {
    expect(parsed(file, output)).toEqual(parsed(file, file.expected));
    expect(output).toBe(file.expected);
  });

  it('records each masked path with its rule or detector and count, and no value', () => {
    expect(sortRecord(record.entries)).toEqual(file.record);
    expect(record.total).toBe(file.record.reduce((sum, entry) => sum + entry.count, 0));
    const serialised = JSON.stringify(record);
    const leaked = file.planted.filter(
      (planting) => planting.identifying && survivals(planting.value, [serialised]).length > 0,
    );
    expect(leaked).toEqual([]);
  });
});

describe('gatehouse mask on corpus files', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(['pod-intake-api', 'table-patientintakes', 'watch-pods', 'fhir-server'])(
    '%s: writes the expected output and the expected record, detecting the format itself',
    async (name) => {
      const file = corpus.find((each) => each.name === name)!;
      const result = await runCli(['mask', '--rules', CORPUS_RULES_FILE, join(CORPUS_DIR, file.inputFile)]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(file.expected);
      const record = JSON.parse(result.stderr.trim()) as { entries: CorpusFile['record']; total: number };
      expect(sortRecord(record.entries)).toEqual(file.record);
    },
  );
});
