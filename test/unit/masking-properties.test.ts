/**
 * Properties of the masker (issue 5, correctness bar), over generated Kubernetes-like objects with identifiers planted
 * at random paths, and over watch and log streams cut at random byte offsets: masking is idempotent, keeps the shape
 * of JSON, leaves fields without identifiers byte-identical, and lets no planted value through whatever the chunking.
 * The corpus rules (test/fixtures/phi/rules.yaml) are used, so hash and partial tokens are exercised too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { corpusMasker, maskJsonText, maskStream } from '../fixtures/phi/run-masker.ts';
import * as s from '../fixtures/phi/synthetic.ts';

const masker = corpusMasker();

/** A planted identifier: the value, and the string it sits in. */
interface Planted {
  value: string;
  text: string;
}

/** Identifiers every detector finds in a string by itself (no context word needed), drawn from a seed. */
const IDENTIFIERS: ReadonlyArray<(rng: s.Rng) => string> = [
  (rng) => s.ssn(rng, 'dashed'),
  (rng) => s.ssn(rng, 'spaced'),
  (rng) => s.phone(rng, 'parens'),
  (rng) => s.phone(rng, 'dashed'),
  (rng) => s.phone(rng, 'e164'),
  (rng) => s.email(rng, s.person(rng)),
  (rng) => s.mrn(rng),
  (rng) => s.healthPlanId(rng),
  (rng) => s.mbi(rng),
  (rng) => s.creditCard(rng),
  (rng) => s.patientIpv4(rng),
  (rng) => s.patientIpv6(rng),
  (rng) => s.birthDate(s.person(rng), 'iso'),
  (rng) => s.birthDate(s.person(rng), 'us'),
  (rng) => {
    const address = s.streetAddress(rng);
    return `${address.street}, ${address.city}, ${address.state}`;
  },
];

/** Values no detector or rule may touch: lower-case words and the near misses of cluster data. */
const NEAR_MISSES: ReadonlyArray<(rng: s.Rng) => string> = [
  s.ticketNumber,
  s.timestamp,
  s.resourceVersion,
  s.uid,
  s.imageDigest,
  s.clusterServiceIp,
  s.podIp,
  s.versionString,
  s.port,
];
const word = fc.stringMatching(/^[a-z]{1,10}$/);
const safeText = fc.oneof(
  fc.array(word, { minLength: 1, maxLength: 4 }).map((words) => words.join(' ')),
  fc.tuple(fc.nat(NEAR_MISSES.length - 1), fc.integer()).map(([index, seed]) => NEAR_MISSES[index]!(new s.Rng(seed))),
  // Non-ASCII text, so stream chunks split inside multi-byte characters.
  fc.constantFrom('Überweisung für Zoë', 'naïve café', '患者メモ', 'emoji 🩺 ok'),
);
const identifier = fc
  .tuple(fc.nat(IDENTIFIERS.length - 1), fc.integer())
  .map(([index, seed]) => IDENTIFIERS[index]!(new s.Rng(seed)));
/** An identifier alone or between lower-case words. */
const planted: fc.Arbitrary<Planted> = fc
  .tuple(fc.option(word, { nil: undefined }), identifier, fc.option(word, { nil: undefined }))
  .map(([before, value, after]) => ({ value, text: [before, value, after].filter((part) => part).join(' ') }));

/** Keys no rule names (so only detectors decide), and keys the default rules cover (their values are masked whole). */
const SAFE_KEYS = [
  'spec',
  'config',
  'labels',
  'owner',
  'region',
  'tier',
  'notes',
  'selector',
  'values',
  'zone',
  'stage',
];
const COVERED_KEYS = ['patientName', 'dateOfBirth', 'lastName'];

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A generated field tree, knowing which strings hold identifiers. */
type Node =
  | { type: 'safe'; value: string }
  | { type: 'planted'; planted: Planted }
  | { type: 'covered'; value: string }
  | { type: 'scalar'; value: number | boolean | null }
  | { type: 'json'; node: Node }
  | { type: 'array'; items: Node[] }
  | { type: 'object'; entries: Array<[string, Node]> };

const { fields } = fc.letrec<{ tree: Node; leaf: Node; fields: Node }>((build) => ({
  leaf: fc.oneof(
    safeText.map((value): Node => ({ type: 'safe', value })),
    planted.map((value): Node => ({ type: 'planted', planted: value })),
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)).map((value): Node => ({ type: 'scalar', value })),
  ),
  fields: fc
    .uniqueArray(
      fc.oneof(
        fc.tuple(fc.constantFrom(...SAFE_KEYS), build('tree')),
        fc.tuple(
          fc.constantFrom(...COVERED_KEYS),
          safeText.map((value): Node => ({ type: 'covered', value })),
        ),
      ),
      { minLength: 1, maxLength: 6, selector: ([key]) => key },
    )
    .map((entries): Node => ({ type: 'object', entries })),
  tree: fc.oneof(
    { depthSize: 'medium', withCrossShrink: true },
    build('leaf'),
    fc.array(build('tree'), { maxLength: 4 }).map((items): Node => ({ type: 'array', items })),
    build('fields'),
    // A JSON document inside a string value (a ConfigMap's data): decoded, masked and written back.
    build('fields').map((node): Node => ({ type: 'json', node })),
  ),
}));

function toJson(node: Node): Json {
  switch (node.type) {
    case 'safe':
    case 'covered':
      return node.value;
    case 'planted':
      return node.planted.text;
    case 'scalar':
      return node.value;
    case 'json':
      return JSON.stringify(toJson(node.node));
    case 'array':
      return node.items.map(toJson);
    case 'object':
      return Object.fromEntries(node.entries.map(([key, child]) => [key, toJson(child)]));
  }
}

function plantedValues(node: Node): string[] {
  switch (node.type) {
    case 'planted':
      return [node.planted.value];
    case 'json':
      return plantedValues(node.node);
    case 'array':
      return node.items.flatMap(plantedValues);
    case 'object':
      return node.entries.flatMap(([, child]) => plantedValues(child));
    default:
      return [];
  }
}

/** Whether a subtree holds nothing a rule or detector should mask. */
function isClean(node: Node): boolean {
  if (node.type === 'planted' || node.type === 'covered') return false;
  if (node.type === 'json') return isClean(node.node);
  if (node.type === 'array') return node.items.every(isClean);
  if (node.type === 'object') return node.entries.every(([, child]) => isClean(child));
  return true;
}

/** A Kubernetes object around the generated spec. */
const object = fc
  .tuple(
    fc.constantFrom('ConfigMap', 'Pod', 'PatientIntake', 'Job'),
    fc.constantFrom('patient-intake', 'claims'),
    fields,
  )
  .map(([kind, namespace, spec]) => ({
    spec,
    json: {
      apiVersion: 'v1',
      kind,
      metadata: { name: 'generated', namespace },
      spec: toJson(spec),
    } as { [key: string]: Json },
  }));

const maskValue = (value: unknown) => masker.maskObject(value).value;

/** The same keys in the same order, the same array lengths, the same JSON type at every node. */
function expectSameShape(masked: unknown, original: unknown, path = '$'): void {
  if (Array.isArray(original)) {
    expect(Array.isArray(masked), path).toBe(true);
    expect((masked as unknown[]).length, path).toBe(original.length);
    original.forEach((item, index) => expectSameShape((masked as unknown[])[index], item, `${path}[${index}]`));
  } else if (original !== null && typeof original === 'object') {
    expect(masked !== null && typeof masked === 'object' && !Array.isArray(masked), path).toBe(true);
    expect(Object.keys(masked as object), path).toEqual(Object.keys(original));
    for (const [key, child] of Object.entries(original)) {
      expectSameShape((masked as Record<string, unknown>)[key], child, `${path}.${key}`);
    }
  } else {
    expect(typeof masked, path).toBe(typeof original);
    if (typeof original !== 'string') expect(masked, path).toBe(original);
  }
}

/** Every field of the generated tree that holds no identifier is the very same string (or value) after masking. */
function expectCleanFieldsUnchanged(node: Node, masked: unknown, original: Json, path = '$.spec'): void {
  if (isClean(node)) {
    expect(JSON.stringify(masked), path).toBe(JSON.stringify(original));
    return;
  }
  if (node.type === 'array') {
    node.items.forEach((item, index) =>
      expectCleanFieldsUnchanged(item, (masked as unknown[])[index], (original as Json[])[index]!, `${path}[${index}]`),
    );
  } else if (node.type === 'object') {
    for (const [key, child] of node.entries) {
      const originalChild = (original as Record<string, Json>)[key]!;
      expectCleanFieldsUnchanged(child, (masked as Record<string, unknown>)[key], originalChild, `${path}.${key}`);
    }
  }
}

function expectNoneSurvives(values: readonly string[], output: string): void {
  for (const value of values) {
    expect(output.includes(value), value).toBe(false);
    expect(output.includes(JSON.stringify(value).slice(1, -1)), value).toBe(false);
  }
}

describe('masking Kubernetes-like objects with identifiers at random paths', () => {
  it('is idempotent: masking masked output changes nothing', () => {
    fc.assert(
      fc.property(object, ({ json }) => {
        const once = maskValue(json);
        expect(maskValue(once)).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });

  it('writes valid JSON of the same shape: same keys, same array lengths, same types, strings stay strings', () => {
    fc.assert(
      fc.property(object, ({ json }) => {
        const { output } = maskJsonText(masker, JSON.stringify(json, null, 2));
        expectSameShape(JSON.parse(output), json);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves every field without an identifier byte-identical, and masks every planted value', () => {
    fc.assert(
      fc.property(object, ({ spec, json }) => {
        const masked = maskValue(json) as { spec: unknown };
        expectCleanFieldsUnchanged(spec, masked.spec, json.spec!);
        expectNoneSurvives(plantedValues(spec), JSON.stringify(masked));
      }),
      { numRuns: 300 },
    );
  });
});

/** Byte offsets at which to cut a stream: any, including inside a multi-byte UTF-8 character. */
function cutAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

const offsets = fc.array(fc.nat(), { maxLength: 40 });

describe('streams cut at arbitrary byte boundaries', () => {
  const watchStream = fc.array(
    fc.tuple(fc.constantFrom('ADDED', 'MODIFIED', 'DELETED'), object).map(([type, generated]) => ({
      line: `${JSON.stringify({ type, object: generated.json })}\n`,
      values: plantedValues(generated.spec),
    })),
    { minLength: 1, maxLength: 5 },
  );

  it('a watch stream: the same output as in one chunk, and no planted value in it', () => {
    fc.assert(
      fc.property(watchStream, offsets, (events, cuts) => {
        const bytes = Buffer.from(events.map((event) => event.line).join(''), 'utf8');
        const whole = maskStream(masker, 'watch', [bytes]);
        const chunked = maskStream(masker, 'watch', cutAt(bytes, cuts));
        expect(chunked.output).toBe(whole.output);
        expect(chunked.record).toEqual(whole.record);
        expectNoneSurvives(
          events.flatMap((event) => event.values),
          chunked.output,
        );
      }),
      { numRuns: 150 },
    );
  });

  const logLines = fc.array(
    fc
      .array(
        fc.oneof(
          safeText.map((text) => ({ text, values: [] as string[] })),
          planted.map((value) => ({ text: value.text, values: [value.value] })),
        ),
        {
          minLength: 1,
          maxLength: 6,
        },
      )
      .map((parts) => ({
        line: parts.map((part) => part.text).join(' '),
        values: parts.flatMap((part) => part.values),
      })),
    { minLength: 1, maxLength: 12 },
  );

  it('a log stream: the same output as in one chunk, and no planted value in it', () => {
    fc.assert(
      fc.property(logLines, offsets, (lines, cuts) => {
        const bytes = Buffer.from(lines.map((line) => `${line.line}\n`).join(''), 'utf8');
        const whole = maskStream(masker, 'text', [bytes]);
        const chunked = maskStream(masker, 'text', cutAt(bytes, cuts));
        expect(chunked.output).toBe(whole.output);
        expectNoneSurvives(
          lines.flatMap((line) => line.values),
          chunked.output,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('a log of over-long lines, masked in windows: no planted value in it whatever the chunks', () => {
    fc.assert(
      fc.property(logLines, offsets, (lines, cuts) => {
        // One line of everything: longer than the window, so identifiers meet the window cuts.
        const line = lines.map((each) => each.line).join(' ');
        const bytes = Buffer.from(`${line}\n`, 'utf8');
        const { output } = maskStream(masker, 'text', cutAt(bytes, cuts), { maxLineChars: 96, overlapChars: 48 });
        expectNoneSurvives(
          lines.flatMap((each) => each.values),
          output,
        );
      }),
      { numRuns: 300 },
    );
  });
});
