/**
 * The scanner's two loops (shared/masking/scan-loop.as.ts in WebAssembly, and its mirror in detectors.ts for short
 * texts) visit the same places, so what the scanner finds never depends on a text's length; and the WebAssembly the
 * scanner loads is what its source compiles to.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTextScanner, type ScannerOptions } from '../../shared/masking/detectors.ts';
import { TOKEN_PREFIXES } from '../../shared/masking/model.ts';
import { compileScanLoop, SCAN_LOOP_MODULE, scanLoopModuleText } from '../../scripts/build-wasm.ts';

/**
 * Pieces of cluster text the loops treat differently: identifiers and their near misses, words glued by joiners,
 * tokens already masked, query strings, and code units past ASCII (digits of other scripts, a surrogate pair, a lone
 * surrogate).
 */
const FRAGMENTS = [
  '123-45-6789',
  '321 54 9876',
  'ssn 234567890',
  'intake-',
  'patient_',
  'v1-',
  '.pdf',
  '_front',
  '2024-03-05',
  'T10:11:12Z',
  '2024-03-05T10:11:12.123Z',
  '2024/3/5 10:11',
  '1980-3-5',
  '2024-13-05',
  '1799-01-01',
  ' 10:11',
  ', 10:11:12,123',
  '.123456789',
  ' +0100',
  '-05:00',
  'Z',
  'T',
  '/',
  ',',
  ';',
  '{',
  '}',
  'dob ',
  'admit ',
  '5 Mar 1980',
  'March 5, 1980',
  '10.0.0.1',
  '203.0.113.7',
  'fe80::1',
  '2001:db8::7',
  'sha256:',
  'a3f9',
  '(202) 555-0143',
  '+1 202 555 0143',
  '+447911123456',
  'jane.doe@example.com',
  '@',
  '?patient=Jane&dob=1980-03-05',
  '&',
  '[MASKED:SSN]',
  '[MASKED:SSN:…123-45-6789]',
  '[HASH:MRN:0123456789abcdef]',
  '[',
  '4111 1111 1111 1111',
  '4111111111111111',
  'npi 1234567893',
  '1EG4-TE5-MK73',
  '7048 Marrowgate Street, Ashvale, MA 66192',
  'MRN 00123456',
  'INC0012345',
  'x',
  '9',
  ' ',
  '-',
  '.',
  '_',
  ':',
  '\n',
  'é',
  '١٢٣',
  '😀',
  '\ud800',
  '０１２',
];

const texts = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }).map((pieces) => pieces.join(''));

function scanners(options: ScannerOptions = {}) {
  return {
    javascript: createTextScanner(options, { loop: 'javascript' }),
    webassembly: createTextScanner(options, { loop: 'webassembly' }),
  };
}

describe('the scan loops', () => {
  it('find the same identifiers at the same places in any text', () => {
    const { javascript, webassembly } = scanners();
    fc.assert(
      fc.property(texts, (text) => {
        expect(webassembly.scan(text)).toEqual(javascript.scan(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('agree when every date is masked, where no timestamp is passed over', () => {
    const { javascript, webassembly } = scanners({ dates: 'all' });
    fc.assert(
      fc.property(texts, (text) => {
        expect(webassembly.scan(text)).toEqual(javascript.scan(text));
      }),
      { numRuns: 500 },
    );
  });

  it('agree with the SSN detector off, where a glued SSN is not visited', () => {
    const { javascript, webassembly } = scanners({ enabled: ['date', 'ip', 'email', 'url', 'phone'] });
    fc.assert(
      fc.property(texts, (text) => {
        expect(webassembly.scan(text)).toEqual(javascript.scan(text));
      }),
      { numRuns: 500 },
    );
  });

  it('grows its memory for a long text, and a shorter text after it reads nothing stale', () => {
    const { webassembly } = scanners();
    const long = `ssn 123-45-6789 ${'lorem ipsum '.repeat(40_000)}reach jane@example.com`;
    expect(webassembly.scan(long).map((detection) => long.slice(detection.start, detection.end))).toEqual([
      '123-45-6789',
      'jane@example.com',
    ]);
    expect(webassembly.scan('no identifiers here')).toEqual([]);
    expect(webassembly.scan('x 321-54-9876')).toEqual([{ detector: 'ssn', start: 2, end: 13 }]);
    // A date at the end of a text is no timestamp, whatever the memory past it still holds from a longer text.
    const pad = '.'.repeat(300);
    webassembly.scan(`${pad}\n2024-03-05T10:11:12Z`);
    expect(webassembly.scan(`${pad}\n2024-03-05`)).toEqual([{ detector: 'date', start: 301, end: 311 }]);
  });

  it('scans texts of every length by default, past the bound that keeps WebAssembly memory small', () => {
    const scanner = createTextScanner();
    for (const filler of [0, 100, 300, 1 << 20]) {
      const text = `${'-'.repeat(filler)} 123-45-6789`;
      expect(scanner.scan(text)).toEqual([{ detector: 'ssn', start: filler + 1, end: filler + 12 }]);
    }
  });
});

describe('the WebAssembly module', () => {
  it('visits a `[` where a token can start: before the second character of every token prefix', () => {
    // scan-loop.as.ts passes any other `[` without calling visitMark.
    expect(new Set(TOKEN_PREFIXES.map((prefix) => prefix[1]))).toEqual(new Set(['M', 'H']));
  });

  it('is what scan-loop.as.ts compiles to (run `npm run build:wasm` after changing it)', async () => {
    expect(readFileSync(SCAN_LOOP_MODULE, 'utf8')).toBe(scanLoopModuleText(await compileScanLoop()));
  }, 30_000);
});
