import { execFileSync, spawnSync } from 'node:child_process';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createTextScanner } from '../../shared/masking/detectors.ts';
import { createMasker } from '../../shared/masking/masker.ts';
import { MaskingConfigSchema } from '../../shared/masking/rules.ts';
import { StreamMaskingError } from '../../shared/masking/streams.ts';
import { createTarMasker, type TarMaskerOptions } from '../../shared/masking/tar.ts';
import { defaultMasker } from '../fixtures/phi/run-masker.ts';
import { feedInCuts } from '../support/chunk-masker.ts';

const masker = defaultMasker();
const SSN = '123-45-6789';
const PHONE = '(312) 555-0182';
const EMAIL = 'jane.doe@example.com';
const PLANTED = [SSN, PHONE, EMAIL];
const LONG_DIR = `d-${'a'.repeat(60)}`;
const LONG_FILE = `f-${'b'.repeat(60)}.txt`;

const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-tar-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let dirs = 0;
function tempDir(): string {
  dirs += 1;
  const dir = join(scratch, String(dirs));
  mkdirSync(dir);
  return dir;
}

/**
 * A tree as `kubectl cp` would copy it: text files with planted identifiers (one over several blocks, one with
 * multi-byte characters), nothing to mask, an empty file, a directory, a symlink, a hard link and a name over 100 bytes.
 */
function buildTree(extra: Record<string, Uint8Array | string> = {}): string {
  const root = tempDir();
  const tree = join(root, 'tree');
  mkdirSync(join(tree, 'dir', 'sub'), { recursive: true });
  mkdirSync(join(tree, LONG_DIR));
  writeFileSync(join(tree, 'notes.txt'), `patient ssn ${SSN}\ncall ${PHONE}\nmail ${EMAIL}\n`);
  writeFileSync(join(tree, 'dir', 'report.md'), `# Résumé ✓\n${'filler line\n'.repeat(80)}ssn ${SSN} — ${EMAIL}\n`);
  writeFileSync(join(tree, 'dir', 'plain.txt'), 'nothing to see here\n');
  writeFileSync(join(tree, 'empty.txt'), '');
  writeFileSync(join(tree, LONG_DIR, LONG_FILE), `long name, phone ${PHONE}\n`);
  symlinkSync('notes.txt', join(tree, 'link'));
  linkSync(join(tree, 'dir', 'plain.txt'), join(tree, 'dir', 'hard.txt'));
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(tree, name), content);
  return root;
}

function archive(root: string, format: string): Buffer {
  return execFileSync('tar', ['cf', '-', `--format=${format}`, '-C', root, 'tree'], { maxBuffer: 64 * 1024 * 1024 });
}

/** Pushes `bytes` cut at `cuts` through a tar masker; returns the output and the masker. */
function maskArchive(bytes: Uint8Array, cuts: number[] = [], options: TarMaskerOptions = {}, using = masker) {
  const stream = createTarMasker(using, options);
  return { output: feedInCuts(stream, bytes, cuts), stream };
}

/** Extracts with the system tar, all warnings on; fails on any message. */
function extract(bytes: Uint8Array): string {
  const dir = tempDir();
  const result = spawnSync('tar', ['xf', '-', '--warning=all', '-C', dir], { input: bytes });
  expect(result.stderr.toString()).toBe('');
  expect(result.status).toBe(0);
  return dir;
}

/** Regular files under `dir`, by path relative to it. */
function regularFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) return regularFiles(dir, path);
    return entry.isFile() ? [path] : [];
  });
}

/** Where to cut `length` bytes into chunks: up to 40 random offsets. */
const cutsOf = (length: number) => fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 40 });

describe.each(['gnu', 'ustar', 'pax'])('tar masker, %s archives from GNU tar', (format) => {
  const original = buildTree();
  const input = archive(original, format);
  const { output, stream } = maskArchive(input);

  it('masks every text file as maskText does, and tar extracts the result without a warning', () => {
    const extracted = extract(output);
    const files = regularFiles(join(original, 'tree'));
    expect(files).toContain(join(LONG_DIR, LONG_FILE));
    expect(regularFiles(join(extracted, 'tree')).sort()).toEqual(files.sort());
    for (const file of files) {
      const text = readFileSync(join(original, 'tree', file), 'utf8');
      expect(readFileSync(join(extracted, 'tree', file), 'utf8')).toBe(masker.maskText(text).value);
    }
    expect(readFileSync(join(extracted, 'tree', 'notes.txt'), 'utf8')).toBe(
      'patient ssn [MASKED:SSN]\ncall [MASKED:PHONE]\nmail [MASKED:EMAIL]\n',
    );
  });

  it('keeps directories, symlinks, hard links and empty files', () => {
    const tree = join(extract(output), 'tree');
    expect(statSync(join(tree, 'dir', 'sub')).isDirectory()).toBe(true);
    expect(lstatSync(join(tree, 'link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(tree, 'link'))).toBe('notes.txt');
    expect(statSync(join(tree, 'dir', 'hard.txt')).ino).toBe(statSync(join(tree, 'dir', 'plain.txt')).ino);
    expect(statSync(join(tree, 'empty.txt')).size).toBe(0);
  });

  it('lets no planted identifier through', () => {
    for (const value of PLANTED) {
      expect(input.includes(value)).toBe(true);
      expect(output.includes(value)).toBe(false);
    }
  });

  it('records masked values per entry index as file[i], never a name', () => {
    const { record } = stream;
    const files = regularFiles(join(original, 'tree'));
    const texts = files.map((file) => readFileSync(join(original, 'tree', file), 'utf8'));
    expect(record.total).toBe(texts.reduce((sum, text) => sum + masker.maskText(text).record.total, 0));
    expect(record.total).toBeGreaterThan(0);
    for (const entry of record.entries) expect(entry.path).toMatch(/^file\[\d+\]$/);
    const listing = execFileSync('tar', ['tf', '-'], { input }).toString().trim().split('\n');
    const notes = `file[${listing.indexOf('tree/notes.txt')}]`;
    expect(record.entries.filter((entry) => entry.path === notes)).toEqual([
      { path: notes, by: 'detector:ssn', count: 1 },
      { path: notes, by: 'detector:phone', count: 1 },
      { path: notes, by: 'detector:email', count: 1 },
    ]);
  });

  it('gives the same output whatever the chunks (property)', () => {
    fc.assert(
      fc.property(cutsOf(input.length), (cuts) => {
        expect(maskArchive(input, cuts).output.equals(output)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('passes an archive with nothing to mask byte for byte, end-of-archive padding included', () => {
    const root = tempDir();
    mkdirSync(join(root, 'tree', 'dir'), { recursive: true });
    writeFileSync(join(root, 'tree', 'dir', 'a.txt'), 'just text\n');
    symlinkSync('dir/a.txt', join(root, 'tree', 'link'));
    const plain = archive(root, format);
    expect(plain.length % 10240).toBe(0);
    expect(maskArchive(plain, [1, 700, 5000]).output.equals(plain)).toBe(true);
  });
});

describe('tar masker, failing closed', () => {
  const failure = (bytes: Uint8Array, options: TarMaskerOptions = {}, cuts: number[] = []): StreamMaskingError => {
    try {
      maskArchive(bytes, cuts, options);
    } catch (error) {
      expect(error).toBeInstanceOf(StreamMaskingError);
      return error as StreamMaskingError;
    }
    throw new Error('the archive was masked');
  };

  it('refuses binary content, naming the entry by index and size only', () => {
    const withNul = archive(buildTree({ 'secret-123-45-6789.bin': Uint8Array.of(0x68, 0x69, 0x00, 0x01) }), 'gnu');
    const withNulError = failure(withNul);
    expect(withNulError.message).toMatch(/^tar entry \d+: 4 bytes of binary content .* cannot be inspected$/);
    expect(withNulError.message).not.toContain('secret');
    const notUtf8 = archive(buildTree({ 'latin1.txt': Buffer.from(`café ${SSN}`, 'latin1') }), 'pax');
    expect(failure(notUtf8).message).toMatch(/16 bytes of binary content/);
  });

  it('passes on nothing of a binary file', () => {
    const bytes = archive(buildTree({ 'zzz.bin': Buffer.from(`${SSN}\0`) }), 'gnu');
    const stream = createTarMasker(masker);
    const out: Uint8Array[] = [];
    expect(() => {
      for (let at = 0; at < bytes.length; at += 512) out.push(...stream.push(bytes.subarray(at, at + 512)));
    }).toThrow(StreamMaskingError);
    expect(Buffer.concat(out).includes(SSN)).toBe(false);
    // Failed for good.
    expect(() => stream.push(new Uint8Array(512))).toThrow(StreamMaskingError);
    expect(() => stream.end()).toThrow(StreamMaskingError);
  });

  it('refuses a header whose checksum does not match, at any chunking', () => {
    const bytes = archive(buildTree(), 'gnu');
    const corrupt = Buffer.from(bytes);
    corrupt[1024 + 10] = (corrupt[1024 + 10]! + 1) & 0xff;
    fc.assert(
      fc.property(cutsOf(corrupt.length), (cuts) => {
        expect(failure(corrupt, {}, cuts).message).toMatch(/^tar entry \d+: header checksum does not match$/);
      }),
      { numRuns: 20 },
    );
  });

  it('refuses a file over maxFileBytes before reading its content', () => {
    const bytes = archive(buildTree(), 'gnu');
    expect(failure(bytes, { maxFileBytes: 100 }).message).toMatch(
      /^tar entry \d+: \d+ bytes is too large to inspect \(maxFileBytes 100\)$/,
    );
  });

  it('refuses more than maxEntries entries', () => {
    expect(failure(archive(buildTree(), 'gnu'), { maxEntries: 3 }).message).toMatch(/more than 3 entries/);
  });

  it('refuses data after the end-of-archive marker and an archive that ends inside an entry', () => {
    const bytes = archive(buildTree(), 'gnu');
    const smuggled = Buffer.concat([bytes, Buffer.from(`ssn ${SSN}`)]);
    expect(failure(smuggled).message).toMatch(/data after the end-of-archive marker/);
    expect(failure(bytes.subarray(0, 2000)).message).toMatch(/ends inside an entry/);
  });

  it('options are checked', () => {
    expect(() => createTarMasker(masker, { maxFileBytes: -1 })).toThrow(RangeError);
    expect(() => createTarMasker(masker, { maxEntries: 0 })).toThrow(RangeError);
  });
});

/** A ustar header block with a valid checksum. */
function ustarHeader(name: string, type: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('14000000000\0', 136);
  header.write(type, 156);
  header.write('ustar\x0000', 257);
  header.fill(' ', 148, 156);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length += 1;
  return `${length}${body}`;
}

function entry(header: Buffer, content: Buffer): Buffer {
  return Buffer.concat([header, content, Buffer.alloc((512 - (content.length % 512)) % 512)]);
}

describe('tar masker, pax size records', () => {
  it('drops a size record before a rewritten file, keeps the other records, and tar reads the result', () => {
    const text = Buffer.from(`ssn ${SSN}\n`);
    const pathName = `tree/${'p'.repeat(120)}.txt`;
    const pax = Buffer.from(
      paxRecord('path', pathName) + paxRecord('size', String(text.length)) + paxRecord('uid', '7'),
    );
    const bytes = Buffer.concat([
      entry(ustarHeader('tree/PaxHeaders/x', 'x', pax.length), pax),
      entry(ustarHeader('tree/short.txt', '0', text.length), text),
      Buffer.alloc(1024),
    ]);
    const { output } = maskArchive(bytes, [3, 600, 1100]);
    expect(output.includes(`size=`)).toBe(false);
    expect(output.includes(paxRecord('path', pathName))).toBe(true);
    expect(output.includes(paxRecord('uid', '7'))).toBe(true);
    const extracted = extract(output);
    expect(readFileSync(join(extracted, pathName), 'utf8')).toBe('ssn [MASKED:SSN]\n');
  });

  it('takes the content length from the pax size record rather than the header', () => {
    const text = Buffer.from(`call ${PHONE}\n`);
    const pax = Buffer.from(paxRecord('size', String(text.length)));
    const bytes = Buffer.concat([
      entry(ustarHeader('PaxHeaders/x', 'x', pax.length), pax),
      entry(ustarHeader('only.txt', '0', 0), text),
      Buffer.alloc(1024),
    ]);
    const { output } = maskArchive(bytes);
    // The pax header had only the size record: it goes altogether.
    expect(output.subarray(156, 157).toString()).toBe('0');
    const extracted = extract(output);
    expect(readFileSync(join(extracted, 'only.txt'), 'utf8')).toBe('call [MASKED:PHONE]\n');
  });

  it('refuses sparse files and malformed records', () => {
    const sparse = Buffer.from(paxRecord('GNU.sparse.major', '1'));
    const sparseArchive = Buffer.concat([entry(ustarHeader('PaxHeaders/x', 'x', sparse.length), sparse)]);
    expect(() => maskArchive(sparseArchive)).toThrow(/sparse files cannot be inspected/);
    const malformed = Buffer.from('99 path=x\n');
    const malformedArchive = Buffer.concat([entry(ustarHeader('PaxHeaders/x', 'x', malformed.length), malformed)]);
    expect(() => maskArchive(malformedArchive)).toThrow(/malformed pax header record/);
  });
});

/** `tar tf` of an archive, one name a line. */
function listing(bytes: Uint8Array): string[] {
  return execFileSync('tar', ['tf', '-', '--quoting-style=literal'], { input: bytes }).toString().trim().split('\n');
}

/** An SSN redacted: one byte longer than the SSN. */
const MASKED_SSN = '[MASKED:SSN]';
/** 86 `d`s after `tree/` put the SSN across the 100th byte, where GNU tar cuts a long name for the ustar field. */
const ACROSS_100 = `tree/${'d'.repeat(86)}/${SSN}`;
const LONG_BASENAME = `${'e'.repeat(150)}.txt`;

/** A file, a hard link and a symlink whose names hold identifiers; `long`: a name and link target tar cannot fit. */
function namedTree(long: boolean): string {
  const root = tempDir();
  const tree = join(root, 'tree');
  mkdirSync(join(tree, 'intake'), { recursive: true });
  writeFileSync(join(tree, 'intake', `${SSN}.pdf`), `ssn ${SSN}\n`);
  linkSync(join(tree, 'intake', `${SSN}.pdf`), join(tree, 'intake', 'copy.pdf'));
  writeFileSync(join(tree, `${EMAIL}.json`), '{"ok":true}\n');
  symlinkSync(`${EMAIL}.json`, join(tree, 'contact'));
  if (long) {
    mkdirSync(join(root, ACROSS_100), { recursive: true });
    writeFileSync(join(root, ACROSS_100, LONG_BASENAME), `call ${PHONE}\n`);
    symlinkSync(`${SSN}/${LONG_BASENAME}`, join(root, 'tree', 'd'.repeat(86), 'long-link'));
  }
  return root;
}

describe.each(['gnu', 'ustar', 'pax'])('tar masker, names in %s archives from GNU tar', (format) => {
  it('masks an SSN in a name and an email in a link target: tar lists and extracts them, the SSN is nowhere', () => {
    const input = archive(namedTree(false), format);
    expect(input.includes(SSN)).toBe(true);
    const { output, stream } = maskArchive(input);

    expect(output.includes(SSN)).toBe(false);
    expect(output.includes(EMAIL)).toBe(false);
    const names = listing(output);
    expect(names).toContain(`tree/intake/${MASKED_SSN}.pdf`);
    expect(names).toContain('tree/[MASKED:EMAIL].json');
    const tree = join(extract(output), 'tree');
    expect(readFileSync(join(tree, 'intake', `${MASKED_SSN}.pdf`), 'utf8')).toBe(`ssn ${MASKED_SSN}\n`);
    expect(statSync(join(tree, 'intake', 'copy.pdf')).ino).toBe(
      statSync(join(tree, 'intake', `${MASKED_SSN}.pdf`)).ino,
    );
    expect(readlinkSync(join(tree, 'contact'))).toBe('[MASKED:EMAIL].json');
    expect(readFileSync(join(tree, 'contact'), 'utf8')).toBe('{"ok":true}\n');

    const index = listing(input).indexOf(`tree/intake/${SSN}.pdf`);
    expect(stream.record.entries).toContainEqual({ path: `file[${index}].name`, by: 'detector:ssn', count: 1 });
    expect(stream.record.entries).toContainEqual({ path: `file[${index}]`, by: 'detector:ssn', count: 1 });
    const link = listing(input).indexOf('tree/contact');
    expect(stream.record.entries).toContainEqual({ path: `file[${link}].linkname`, by: 'detector:email', count: 1 });
  });

  it('masks a name that grows past 100 bytes: split into the ustar prefix, or under a new pax header', () => {
    const root = tempDir();
    const name = `tree/${'c'.repeat(79)}/${SSN}.txt`;
    expect(Buffer.byteLength(name)).toBe(100);
    mkdirSync(join(root, 'tree', 'c'.repeat(79)), { recursive: true });
    writeFileSync(join(root, name), 'nothing\n');
    const { output } = maskArchive(archive(root, format));

    expect(output.includes(SSN)).toBe(false);
    expect(listing(output)).toContain(`tree/${'c'.repeat(79)}/${MASKED_SSN}.txt`);
    expect(readFileSync(join(extract(output), `tree/${'c'.repeat(79)}/${MASKED_SSN}.txt`), 'utf8')).toBe('nothing\n');
    // GNU headers have no prefix field: the masked name needs a pax header there.
    expect(output.includes(paxRecord('path', `tree/${'c'.repeat(79)}/${MASKED_SSN}.txt`))).toBe(format === 'gnu');
  });

  it('passes names with nothing to mask byte for byte, long ones and link targets included', () => {
    const root = tempDir();
    const dir = join(root, 'tree', LONG_DIR, 'b'.repeat(90));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'plain.txt'), 'nothing here\n');
    // ustar holds no link target over 100 bytes.
    if (format !== 'ustar') {
      symlinkSync(join(LONG_DIR, 'b'.repeat(90), 'plain.txt'), join(root, 'tree', 'link'));
      linkSync(join(dir, 'plain.txt'), join(root, 'tree', 'hard.txt'));
    }
    const plain = archive(root, format);
    expect(maskArchive(plain).output.equals(plain)).toBe(true);
  });

  it('masks its own output to the same bytes', () => {
    const { output } = maskArchive(archive(namedTree(format !== 'ustar'), format));
    const again = maskArchive(output);
    expect(again.output.equals(output)).toBe(true);
    expect(again.stream.record.total).toBe(0);
  });

  it('gives the same output whatever the chunks, a byte at a time included (property)', () => {
    const input = archive(namedTree(format !== 'ustar'), format);
    const { output } = maskArchive(input);
    expect(
      maskArchive(
        input,
        Array.from({ length: input.length - 1 }, (_, at) => at + 1),
      ).output.equals(output),
    ).toBe(true);
    fc.assert(
      fc.property(cutsOf(input.length), (cuts) => {
        expect(maskArchive(input, cuts).output.equals(output)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});

describe.each(['gnu', 'pax'])('tar masker, long names in %s archives from GNU tar', (format) => {
  it('masks long names and link targets (GNU long names, pax records) and every truncated copy of them', () => {
    const input = archive(namedTree(true), format);
    const { output } = maskArchive(input);

    // The ustar name field held the name's first 100 bytes, the SSN cut at `123-45-6`.
    expect(input.includes(SSN.slice(0, 8))).toBe(true);
    expect(output.includes(SSN.slice(0, 8))).toBe(false);
    expect(output.includes(PHONE)).toBe(false);
    const masked = `tree/${'d'.repeat(86)}/${MASKED_SSN}/${LONG_BASENAME}`;
    expect(listing(output)).toContain(masked);
    const extracted = extract(output);
    expect(readFileSync(join(extracted, masked), 'utf8')).toBe('call [MASKED:PHONE]\n');
    const link = join(extracted, 'tree', 'd'.repeat(86), 'long-link');
    expect(readlinkSync(link)).toBe(`${MASKED_SSN}/${LONG_BASENAME}`);
    expect(readFileSync(link, 'utf8')).toBe('call [MASKED:PHONE]\n');
  });
});

describe('tar masker, names that collide or cannot be inspected', () => {
  /** Two files in `a/` whose names hold two valid SSNs (areas 123 and 234). */
  function twoSsns(format: string): Buffer {
    const root = tempDir();
    mkdirSync(join(root, 'tree', 'a'), { recursive: true });
    writeFileSync(join(root, 'tree', 'a', `${SSN}.txt`), 'one\n');
    writeFileSync(join(root, 'tree', 'a', '234-56-7890.txt'), 'two\n');
    return archive(root, format);
  }

  it.each(['gnu', 'pax'])(
    'numbers the second of two names that redact to one, so neither overwrites the other (%s)',
    (format) => {
      const { output } = maskArchive(twoSsns(format));
      const tree = join(extract(output), 'tree');

      expect(regularFiles(tree).sort()).toEqual([`a/${MASKED_SSN}.txt`, `a/${MASKED_SSN}~2.txt`]);
      const contents = regularFiles(tree).map((name) => readFileSync(join(tree, name), 'utf8'));
      expect(contents.sort()).toEqual(['one\n', 'two\n']);
      expect(output.includes(SSN)).toBe(false);
    },
  );

  it('keeps each directory whole: days that redact alike become [MASKED:DATE] and [MASKED:DATE]~2', () => {
    const root = tempDir();
    for (const day of ['2026-11-05', '2026-11-06']) {
      mkdirSync(join(root, 'tree', 'logs', day), { recursive: true });
      writeFileSync(join(root, 'tree', 'logs', day, 'app.log'), `log of ${day.slice(-2)}\n`);
      writeFileSync(join(root, 'tree', 'logs', day, 'gc.log'), 'gc\n');
    }
    const { output } = maskArchive(archive(root, 'gnu'));
    const logs = join(extract(output), 'tree', 'logs');

    expect(regularFiles(logs).sort()).toEqual([
      '[MASKED:DATE]/app.log',
      '[MASKED:DATE]/gc.log',
      '[MASKED:DATE]~2/app.log',
      '[MASKED:DATE]~2/gc.log',
    ]);
    const days = ['[MASKED:DATE]', '[MASKED:DATE]~2'].map((dir) => readFileSync(join(logs, dir, 'app.log'), 'utf8'));
    expect(days.sort()).toEqual(['log of 05\n', 'log of 06\n']);
    // Masked again, the names are all different already: the same bytes.
    expect(maskArchive(output).output.equals(output)).toBe(true);
  });

  describe('a symlink into the archive follows what it points to when a name on the way was numbered', () => {
    /** Two days of logs, `current` pointing at the second day and `latest.log` at its app.log from above. */
    function days(): string {
      const root = tempDir();
      for (const day of ['2026-11-05', '2026-11-06']) {
        mkdirSync(join(root, 'tree', 'logs', day), { recursive: true });
        writeFileSync(join(root, 'tree', 'logs', day, 'app.log'), `log of ${day.slice(-2)}\n`);
      }
      symlinkSync('2026-11-06', join(root, 'tree', 'logs', 'current'));
      symlinkSync('./logs/2026-11-06/app.log', join(root, 'tree', 'latest.log'));
      symlinkSync('../outside/2026-11-06', join(root, 'tree', 'away'));
      return root;
    }

    it.each([
      [
        'the links after the days',
        ['tree/logs/2026-11-05', 'tree/logs/2026-11-06', 'tree/logs/current', 'tree/latest.log'],
      ],
      [
        'the links before the days',
        ['tree/latest.log', 'tree/logs/current', 'tree/logs/2026-11-05', 'tree/logs/2026-11-06'],
      ],
    ])('%s', (_, order) => {
      const root = days();
      const { output } = maskArchive(execFileSync('tar', ['cf', '-', '-C', root, ...order, 'tree/away']));
      const tree = join(extract(output), 'tree');

      expect(readFileSync(join(tree, 'logs', 'current', 'app.log'), 'utf8')).toBe('log of 06\n');
      expect(readFileSync(join(tree, 'latest.log'), 'utf8')).toBe('log of 06\n');
      expect(readlinkSync(join(tree, 'logs', 'current'))).toMatch(/^\[MASKED:DATE\](~2)?$/);
      // Outside the archive there is nothing to follow: the target is masked as text.
      expect(readlinkSync(join(tree, 'away'))).toBe('../outside/[MASKED:DATE]');
      expect(output.includes('2026-11-06')).toBe(false);
      expect(maskArchive(output).output.equals(output)).toBe(true);
    });

    it('leaves a link whose target was not numbered as its text masks (a name with nothing to mask, byte for byte)', () => {
      const root = tempDir();
      mkdirSync(join(root, 'tree', 'a'), { recursive: true });
      writeFileSync(join(root, 'tree', 'a', 'notes.txt'), 'plain\n');
      symlinkSync('./a/../a/notes.txt', join(root, 'tree', 'link'));
      const input = archive(root, 'gnu');
      const { output } = maskArchive(input);
      expect(output.equals(input)).toBe(true);
    });
  });

  it('lets a hard link follow the entry it names to wherever that entry was placed', () => {
    const root = tempDir();
    mkdirSync(join(root, 'tree', 'a'), { recursive: true });
    writeFileSync(join(root, 'tree', 'a', `${SSN}.txt`), 'one\n');
    writeFileSync(join(root, 'tree', 'a', '234-56-7890.txt'), 'two\n');
    linkSync(join(root, 'tree', 'a', '234-56-7890.txt'), join(root, 'tree', 'link.txt'));
    const input = execFileSync('tar', ['cf', '-', '-C', root, 'tree/a', 'tree/link.txt']);
    const { output } = maskArchive(input);
    const tree = join(extract(output), 'tree');

    expect(readFileSync(join(tree, 'link.txt'), 'utf8')).toBe('two\n');
    const target = regularFiles(tree).find(
      (name) => name !== 'link.txt' && readFileSync(join(tree, name), 'utf8') === 'two\n',
    )!;
    expect(statSync(join(tree, target)).ino).toBe(statSync(join(tree, 'link.txt')).ino);
  });

  it('lets names that mask apart through (a partial rule keeps the last four digits)', () => {
    const rules = MaskingConfigSchema.parse({
      rules: [{ name: 'ssn-tail', detectors: ['ssn'], action: 'partial', keepLast: 4 }],
    });
    const partial = createMasker(rules, { scanner: createTextScanner(rules.detectors) });
    const { output } = maskArchive(twoSsns('gnu'), [], {}, partial);
    expect(regularFiles(join(extract(output), 'tree')).sort()).toEqual([
      'a/[MASKED:SSN:…6789].txt',
      'a/[MASKED:SSN:…7890].txt',
    ]);
  });

  it('lets an entry repeat its own name (GNU tar archives a file given twice as a hard link to itself)', () => {
    const root = tempDir();
    mkdirSync(join(root, 'tree', 'a'), { recursive: true });
    writeFileSync(join(root, 'tree', 'a', `${SSN}.txt`), 'one\n');
    const input = execFileSync('tar', ['cf', '-', '-C', root, 'tree', `tree/a/${SSN}.txt`]);
    const names = listing(maskArchive(input).output);
    expect(names.filter((name) => name === `tree/a/${MASKED_SSN}.txt`)).toHaveLength(2);
  });

  it.each(['gnu', 'pax'])('refuses a name that is not UTF-8, passing none of it on (%s)', (format) => {
    const root = tempDir();
    mkdirSync(join(root, 'tree'));
    writeFileSync(Buffer.from(join(root, 'tree', `caf\xe9 ${SSN}`), 'latin1'), 'text\n');
    const input = archive(root, format);
    const stream = createTarMasker(masker);
    const out: Uint8Array[] = [];
    expect(() => {
      for (let at = 0; at < input.length; at += 512) out.push(...stream.push(input.subarray(at, at + 512)));
    }).toThrow(/^tar entry 1: a name that is not UTF-8 text cannot be inspected$/);
    expect(Buffer.concat(out).includes(SSN)).toBe(false);
  });
});

describe('tar masker, where identifiers stand in a name', () => {
  it('finds them before an extension, before several, and in a whole component, each extension kept', () => {
    const root = tempDir();
    mkdirSync(join(root, 'tree', EMAIL), { recursive: true });
    writeFileSync(join(root, 'tree', EMAIL, 'notes.txt'), 'text\n');
    writeFileSync(join(root, 'tree', `${SSN}.tar.gz`), 'text\n');
    writeFileSync(join(root, 'tree', `${EMAIL}.json`), 'text\n');
    const names = listing(maskArchive(archive(root, 'gnu')).output);
    expect(names.sort()).toEqual([
      'tree/',
      'tree/[MASKED:EMAIL].json',
      'tree/[MASKED:EMAIL]/',
      'tree/[MASKED:EMAIL]/notes.txt',
      `tree/${MASKED_SSN}.tar.gz`,
    ]);
  });
});

describe('tar masker, names in pax records', () => {
  it('rewrites a path record whose length gains a digit, and tar reads it', () => {
    // 90 bytes of value make a 99-byte record; masked, the SSN grows by one and the record to 101 bytes.
    const name = `tree/${'p'.repeat(73)}/${SSN}`;
    expect(paxRecord('path', name).startsWith('99 ')).toBe(true);
    const pax = Buffer.from(paxRecord('path', name) + paxRecord('uid', '7'));
    const bytes = Buffer.concat([
      entry(ustarHeader('tree/PaxHeaders/x', 'x', pax.length), pax),
      entry(ustarHeader(name.slice(0, 100), '0', 5), Buffer.from('text\n')),
      Buffer.alloc(1024),
    ]);
    const { output } = maskArchive(bytes, [3, 600, 1100]);
    const masked = `tree/${'p'.repeat(73)}/${MASKED_SSN}`;
    expect(paxRecord('path', masked).startsWith('101 ')).toBe(true);
    expect(output.includes(paxRecord('path', masked) + paxRecord('uid', '7'))).toBe(true);
    expect(output.includes(SSN)).toBe(false);
    expect(readFileSync(join(extract(output), masked), 'utf8')).toBe('text\n');
  });

  it('masks path and linkpath records in a pax global header', () => {
    const global = Buffer.from(paxRecord('path', `g/${SSN}`) + paxRecord('linkpath', `g/${EMAIL}`));
    const bytes = Buffer.concat([
      entry(ustarHeader('GlobalHead.0.1', 'g', global.length), global),
      entry(ustarHeader('tree/', '5', 0), Buffer.alloc(0)),
      Buffer.alloc(1024),
    ]);
    const { output, stream } = maskArchive(bytes);
    expect(output.includes(paxRecord('path', `g/${MASKED_SSN}`) + paxRecord('linkpath', 'g/[MASKED:EMAIL]'))).toBe(
      true,
    );
    expect(stream.record.entries).toEqual([
      { path: 'file[0].name', by: 'detector:ssn', count: 1 },
      { path: 'file[0].linkname', by: 'detector:email', count: 1 },
    ]);
  });

  it('overwrites a ustar name that is not the start of the pax path readers take, whatever it holds', () => {
    const pax = Buffer.from(paxRecord('path', 'notes/report.txt'));
    const bytes = Buffer.concat([
      entry(ustarHeader('PaxHeaders/x', 'x', pax.length), pax),
      entry(ustarHeader(`caller ssn ${SSN}`, '0', 5), Buffer.from('text\n')),
      Buffer.alloc(1024),
    ]);
    const { output } = maskArchive(bytes, [7, 700]);
    expect(output.includes(SSN)).toBe(false);
    expect(listing(output)).toEqual(['notes/report.txt']);
    expect(readFileSync(join(extract(output), 'notes/report.txt'), 'utf8')).toBe('text\n');
  });

  it("replaces an extended header's own name, or a global header's, when masking would change it", () => {
    const pax = Buffer.from(paxRecord('path', 'notes/report.txt'));
    const global = Buffer.from(paxRecord('comment', 'nightly'));
    const bytes = Buffer.concat([
      entry(ustarHeader(`GlobalHead.${EMAIL}`, 'g', global.length), global),
      entry(ustarHeader(`PaxHeaders/${SSN}`, 'x', pax.length), pax),
      entry(ustarHeader('notes/report.txt', '0', 5), Buffer.from('text\n')),
      Buffer.alloc(1024),
    ]);
    const { output, stream } = maskArchive(bytes, [3, 515, 1500]);
    expect(output.includes(SSN)).toBe(false);
    expect(output.includes(EMAIL)).toBe(false);
    expect(output.subarray(0, 21).toString('latin1')).toBe('././@PaxGlobalHeader\0');
    expect(listing(output)).toEqual(['notes/report.txt']);
    // Copies readers ignore are replaced, not recorded: the entry's own name had nothing to mask.
    expect(stream.record.total).toBe(0);
  });

  it('refuses extended headers with no entry after them', () => {
    const pax = Buffer.from(paxRecord('path', 'a.txt'));
    const bytes = Buffer.concat([entry(ustarHeader('PaxHeaders/x', 'x', pax.length), pax), Buffer.alloc(1024)]);
    expect(() => maskArchive(bytes)).toThrow(/^tar entry 0: extended headers are not followed by their entry$/);
  });
});
