import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMasker } from '../../shared/masking/masker.ts';
import type { Detection, TextScanner } from '../../shared/masking/model.ts';
import {
  createTextMasker,
  createWatchMasker,
  StreamMaskingError,
  type ChunkMasker,
} from '../../shared/masking/streams.ts';
import { feedInCuts } from '../support/chunk-masker.ts';

const scanner: TextScanner = {
  scan(text) {
    const found: Detection[] = [];
    for (const match of text.matchAll(/\b\d{3}-\d{2}-\d{4}\b/g)) {
      found.push({ detector: 'ssn', start: match.index, end: match.index + match[0].length });
    }
    return found;
  },
};
const masker = createMasker({}, { scanner });
const SSN = '123-45-6789';
const encoder = new TextEncoder();

/** Feeds `bytes` cut at `cuts` and returns the output text. */
function run(stream: ChunkMasker, bytes: Uint8Array, cuts: number[]): string {
  return feedInCuts(stream, bytes, cuts).toString('utf8');
}

const events = [
  {
    type: 'ADDED',
    object: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'pé-0', annotations: { n: `ssn ${SSN} ✓` } } },
  },
  { type: 'MODIFIED', object: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 's' }, data: { k: 'aGk=' } } },
  { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '9' } } },
];
const stream = events.map((event) => `${JSON.stringify(event)}\n`).join('');
const bytes = encoder.encode(stream);

describe('watch masker', () => {
  const expected = run(createWatchMasker(masker), bytes, []);

  it('masks each event and records paths under $.object', () => {
    const lines = expected
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0].object.metadata.annotations.n).toBe('ssn [MASKED:SSN] ✓');
    expect(Buffer.from(lines[1].object.data.k, 'base64').toString()).toBe('[MASKED:SECRET]');
    // An event with nothing to mask passes byte for byte.
    expect(expected.split('\n')[2]).toBe(JSON.stringify(events[2]));
    const watch = createWatchMasker(masker);
    run(watch, bytes, []);
    expect(watch.record.entries).toEqual([
      { path: '$.object.metadata.annotations.n', by: 'detector:ssn', count: 1 },
      { path: '$.object.data.k', by: 'rule:secret-data', count: 1 },
    ]);
  });

  it('gives the same output at every byte boundary, inside multi-byte characters too', () => {
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      expect(run(createWatchMasker(masker), bytes, [cut])).toBe(expected);
    }
  });

  it('gives the same output whatever the chunks (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 20 }), (cuts) => {
        expect(run(createWatchMasker(masker), bytes, cuts)).toBe(expected);
      }),
    );
  });

  it('fails closed on an event over the bound, not JSON or not an event, passing none of it', () => {
    const big = createWatchMasker(masker, { maxEventBytes: 64 });
    expect(() => big.push(bytes)).toThrow(StreamMaskingError);
    expect(() => big.push(encoder.encode('\n'))).toThrow(/longer than 64 bytes/);
    const partial = createWatchMasker(masker, { maxEventBytes: 64 });
    expect(() => partial.push(encoder.encode(`{"type":"ADDED","object":{"n":"${'x'.repeat(80)}`))).toThrow(
      /longer than 64/,
    );
    expect(() => createWatchMasker(masker).push(encoder.encode(`ssn ${SSN}\n`))).toThrow(/^watch event 1: not JSON$/);
    expect(() => createWatchMasker(masker).push(encoder.encode('[1]\n'))).toThrow(/not a watch event/);
    expect(() => createWatchMasker(masker).push(Uint8Array.of(0xff, 0x0a))).toThrow(/UTF-8/);
  });

  it('masks a last event without its newline', () => {
    expect(run(createWatchMasker(masker), encoder.encode(stream.trimEnd()), [])).toBe(expected.trimEnd());
  });
});

describe('text masker', () => {
  it('masks lines at every byte boundary', () => {
    const text = encoder.encode(`ünïcode ${SSN}\nplain line\nlast ${SSN}`);
    const expected = `ünïcode [MASKED:SSN]\nplain line\nlast [MASKED:SSN]`;
    for (let cut = 0; cut <= text.length; cut += 1) {
      const masker_ = createTextMasker(masker);
      expect(run(masker_, text, [cut])).toBe(expected);
      expect(masker_.record).toEqual({ entries: [{ path: 'line', by: 'detector:ssn', count: 2 }], total: 2 });
    }
  });

  it('masks an over-long line in bounded windows without letting an identifier straddle a cut', () => {
    // SSNs at every offset of a line five times the window.
    for (let offset = 0; offset < 40; offset += 1) {
      const line = `${'a '.repeat(offset)}${SSN} ${'b'.repeat(60)} ${SSN}${' c'.repeat(120)}`;
      const out = run(createTextMasker(masker, { maxLineChars: 64, overlapChars: 16 }), encoder.encode(line), []);
      expect(out).not.toContain(SSN);
      expect(out.replaceAll('[MASKED:SSN]', SSN)).toBe(line);
    }
  });

  it('never lets a planted identifier survive whatever the chunks (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constant(SSN),
            fc.constant('\n'),
            fc.string({ maxLength: 30 }).map((s) => s.replace(/\d/g, 'x')),
          ),
          { maxLength: 40 },
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        (parts, rawCuts) => {
          const text = parts.join(' ');
          const input = encoder.encode(text);
          const cuts = rawCuts.map((cut) => cut % (input.length + 1));
          const out = run(createTextMasker(masker, { maxLineChars: 48, overlapChars: 16 }), input, cuts);
          expect(out).not.toContain(SSN);
          expect(out.replaceAll('[MASKED:SSN]', SSN)).toBe(text);
        },
      ),
    );
  });

  it('refuses an overlap that leaves no room for progress', () => {
    expect(() => createTextMasker(masker, { maxLineChars: 10, overlapChars: 6 })).toThrow(RangeError);
  });
});
