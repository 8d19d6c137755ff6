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
import { StreamMaskingError } from '../../shared/masking/streams.ts';
import { createTarMasker, type TarMaskerOptions } from '../../shared/masking/tar.ts';
import { defaultMasker } from '../fixtures/phi/run-masker.ts';

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
function maskArchive(bytes: Uint8Array, cuts: number[] = [], options: TarMaskerOptions = {}) {
  const stream = createTarMasker(masker, options);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...stream.push(bytes.subarray(start, cut)));
    start = cut;
  }
  out.push(...stream.push(bytes.subarray(start)), ...stream.end());
  return { output: Buffer.concat(out), stream };
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
