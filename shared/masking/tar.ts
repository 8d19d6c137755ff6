/**
 * A streaming masker for tar archives: `kubectl cp POD:/path local` runs `tar cf - /path` in the pod and reads the
 * archive from the exec session's stdout. Masking that as terminal text would change file lengths under headers that
 * still give the old sizes, and mangle binary bytes. This re-writer parses the archive (POSIX ustar, GNU and pax, as
 * GNU tar and busybox tar write them), masks each text file with `Masker.maskText` and writes it back under a header
 * with its new size and checksum. What it cannot inspect fails the stream (StreamMaskingError): binary content, a file
 * over `maxFileBytes`, a corrupt header, sparse files, content under a type that has none to mask.
 *
 * Entries are numbered from 0 in the order `tar tf` lists them; a pax or GNU long-name header belongs to the entry it
 * precedes. Errors and the record name an entry by that index and its size, never by its name: names may be PHI.
 * Header fields (names, link targets, owners) pass through unmasked.
 */
import type { Masker, MaskContext } from './masker.ts';
import type { MaskingRecord } from './model.ts';
import { MaskingRecorder } from './record.ts';
import { StreamMaskingError, type ChunkMasker } from './streams.ts';

export interface TarMaskerOptions {
  /** The kind and namespace the archive comes from (the pod's), for namespace rules. */
  context?: MaskContext;
  /** A file (or pax header) longer than this fails the stream: its content is held whole to be inspected. @default 16 MiB */
  maxFileBytes?: number;
  /** An archive with more entries than this fails the stream; it bounds the record too. @default 100,000 */
  maxEntries?: number;
}

const BLOCK = 512;
const SIZE_OFFSET = 124;
const SIZE_LENGTH = 12;
const CHECKSUM_OFFSET = 148;
const CHECKSUM_LENGTH = 8;
const TYPEFLAG_OFFSET = 156;
/** The largest size 11 octal digits hold (8 GiB - 1): larger would need GNU base-256 or a pax `size`, which we refuse. */
const MAX_OCTAL_SIZE = 0o77777777777;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const EQUALS = 0x3d;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();

/** Regular files, GNU's contiguous files among them: the entries whose content is masked. */
const FILE_TYPES: ReadonlySet<number> = new Set([0x00, 0x30 /* '0' */, 0x37 /* '7' */]);
const PAX_HEADER = 0x78; // 'x': pax extended header for the next entry
const PAX_GLOBAL_HEADER = 0x67; // 'g': pax global extended header
/** GNU long name ('L') and long link target ('K'): their content is the next entry's name, passed through. */
const GNU_LONG_NAMES: ReadonlySet<number> = new Set([0x4c /* 'L' */, 0x4b /* 'K' */]);

/** An entry whose header has been read and whose content (and padding to the block) is being read. */
interface Entry {
  /** The header block as received. */
  header: Uint8Array;
  /** file: content masked; pax/global: content parsed; pass: content passed through as it streams. */
  kind: 'file' | 'pax' | 'global' | 'pass';
  /** The entry's index (for a pax or long-name header, of the entry it precedes). */
  index: number;
  /** Content bytes, from a pax `size` record where there is one, else from the header. */
  size: number;
  /** The size the header's field gives. */
  headerSize: number;
  /** The pax header with a `size` record that precedes this file: written again without `size`. */
  pax?: HeldPax;
  /** Holds the content of file, pax and global entries. */
  buffer?: Uint8Array;
  read: number;
  /** Padding to the block still to skip: it is written anew, zeros, after the content. */
  padding: number;
}

/** A pax header with a `size` record, held until the entry it sizes comes: that size is dropped when the file is rewritten. */
interface HeldPax {
  header: Uint8Array;
  content: Uint8Array;
  records: PaxRecord[];
  /** The `size` record's value; undefined when the record is empty (which unsets a global size). */
  size: number | undefined;
}

interface PaxRecord {
  key: string;
  /** The record's bytes, `<length> <key>=<value>\n`, in the header's content. */
  start: number;
  end: number;
}

/**
 * Masks a tar archive as it streams: every regular file's text through `masker.maskText`, written back under its header
 * with the new size (11 octal digits and a NUL, as tar writes it) and checksum; a pax `size` record before a rewritten
 * file is dropped (the pax header rewritten with its new length), other pax records kept. Directories, links, devices
 * and GNU long names pass through byte for byte, as do files with nothing to mask and the end-of-archive zero blocks
 * with any zero padding after them. Chunks may split the archive anywhere; memory holds one file's content at a time.
 *
 * Fails the stream with StreamMaskingError (and then on every call) for a header whose checksum does not match, a file
 * larger than `maxFileBytes`, binary content (not valid UTF-8, or with a NUL byte), sparse files, content under an
 * entry type that has none (or an unknown type), malformed pax records, anything but zeros after the end-of-archive
 * marker, more than `maxEntries` entries, and an archive that ends inside an entry. An archive that ends between
 * entries without its end-of-archive marker is passed on as it is (GNU tar and Go's archive/tar both read it).
 *
 * The record counts masked values per file as `file[<index>]` (by detector or rule, as `maskText` gives them).
 */
export function createTarMasker(masker: Masker, options: TarMaskerOptions = {}): ChunkMasker {
  const maxFileBytes = options.maxFileBytes ?? 16 * 1024 * 1024;
  const maxEntries = options.maxEntries ?? 100_000;
  if (!(Number.isSafeInteger(maxFileBytes) && maxFileBytes >= 0)) {
    throw new RangeError('maxFileBytes must be a non-negative integer');
  }
  if (!(Number.isSafeInteger(maxEntries) && maxEntries >= 1)) {
    throw new RangeError('maxEntries must be a positive integer');
  }
  const recorder = new MaskingRecorder();
  const headerBlock = new Uint8Array(BLOCK);
  let headerFill = 0;
  let entry: Entry | undefined;
  let heldPax: HeldPax | undefined;
  /** The index of the next entry, which is also how many entries have begun. */
  let entries = 0;
  let started = false;
  let ended = false;
  let failure: StreamMaskingError | undefined;

  /** Fails the stream; `index` is the entry's (by default the one whose header comes next or is being read). */
  const fail = (message: string, index = entries): never => {
    failure = new StreamMaskingError(`tar entry ${index}: ${message}`);
    throw failure;
  };

  const finishEntry = (current: Entry, out: Uint8Array[]): void => {
    entry = undefined;
    if (current.kind === 'pass') {
      out.push(zeros(padding(current.size)));
    } else if (current.kind === 'file') {
      writeFile(current, out);
    } else {
      const content = current.buffer!;
      const pax = parsePax(content, fail);
      if (pax.records.some((record) => record.key.startsWith('GNU.sparse.'))) {
        fail('sparse files cannot be inspected');
      }
      const sizeRecord = pax.records.find((record) => record.key === 'size');
      if (current.kind === 'pax' && sizeRecord) {
        heldPax = { header: current.header, content, records: pax.records, size: pax.size };
      } else {
        if (current.kind === 'global' && sizeRecord) fail('a pax global header sets the size of every file');
        out.push(current.header, content, zeros(padding(content.length)));
      }
    }
  };

  const writeFile = (file: Entry, out: Uint8Array[]): void => {
    const content = file.buffer!;
    let text: string | undefined;
    if (!content.includes(0)) {
      try {
        text = UTF8.decode(content);
      } catch {
        text = undefined;
      }
    }
    const index = file.index;
    if (text === undefined) {
      fail(`${content.length} bytes of binary content (not UTF-8 text, or with NUL bytes) cannot be inspected`, index);
    }
    const masked = masker.maskText(text!, options.context);
    recorder.addRecord(masked.record, () => `file[${index}]`);
    const output = masked.record.total === 0 ? content : ENCODER.encode(masked.value);
    if (output.length > MAX_OCTAL_SIZE) {
      fail(`${output.length} bytes of masked content exceed the header's size field`, index);
    }
    if (file.pax) {
      // The pax `size` would contradict the header's new size (pax records override the header), so it goes.
      const kept = file.pax.records.filter((record) => record.key !== 'size');
      if (kept.length > 0) {
        const paxContent = concat(kept.map((record) => file.pax!.content.subarray(record.start, record.end)));
        out.push(withSize(file.pax.header, paxContent.length), paxContent, zeros(padding(paxContent.length)));
      }
    }
    const header = output.length === file.headerSize ? file.header : withSize(file.header, output.length);
    out.push(header, output, zeros(padding(output.length)));
  };

  const startEntry = (header: Uint8Array, out: Uint8Array[]): void => {
    if (header.every((byte) => byte === 0)) {
      // End of archive: two zero blocks, then zeros to the end of tar's record.
      flushHeldPax(out);
      ended = true;
      out.push(header);
      return;
    }
    if (!checksumMatches(header)) fail('header checksum does not match');
    const type = header[TYPEFLAG_OFFSET]!;
    const headerSize = parseSize(header.subarray(SIZE_OFFSET, SIZE_OFFSET + SIZE_LENGTH));
    if (headerSize === undefined) fail('header size field is not a number');
    const base = { header, index: entries, headerSize: headerSize!, read: 0 };
    let next: Entry;
    if (type === PAX_HEADER || type === PAX_GLOBAL_HEADER || GNU_LONG_NAMES.has(type)) {
      if (heldPax) fail('a pax size record is not followed by its file');
      if (headerSize! > maxFileBytes) fail(`${headerSize} bytes of header extension are too large to inspect`);
      if (GNU_LONG_NAMES.has(type)) {
        out.push(header);
        next = { ...base, kind: 'pass', size: headerSize!, padding: padding(headerSize!) };
      } else {
        const kind = type === PAX_HEADER ? 'pax' : 'global';
        next = { ...base, kind, size: headerSize!, buffer: new Uint8Array(headerSize!), padding: padding(headerSize!) };
      }
    } else {
      if (entries >= maxEntries) fail(`the archive has more than ${maxEntries} entries`);
      const pax = heldPax;
      heldPax = undefined;
      const size = pax?.size ?? headerSize!;
      if (FILE_TYPES.has(type)) {
        if (size > maxFileBytes) fail(`${size} bytes is too large to inspect (maxFileBytes ${maxFileBytes})`);
        next = { ...base, kind: 'file', size, pax, buffer: new Uint8Array(size), padding: padding(size) };
      } else {
        if (size > 0) fail(`${size} bytes under entry type ${typeName(type)} cannot be inspected`);
        if (pax) out.push(pax.header, pax.content, zeros(padding(pax.content.length)));
        out.push(header);
        next = { ...base, kind: 'pass', size: 0, padding: 0 };
      }
      entries += 1;
    }
    if (next.size === 0) finishEntry(next, out);
    else entry = next;
  };

  const flushHeldPax = (out: Uint8Array[]): void => {
    if (!heldPax) return;
    out.push(heldPax.header, heldPax.content, zeros(padding(heldPax.content.length)));
    heldPax = undefined;
  };

  const readChunk = (chunk: Uint8Array, out: Uint8Array[]): void => {
    let offset = 0;
    while (offset < chunk.length) {
      if (ended) {
        const rest = chunk.subarray(offset);
        if (!rest.every((byte) => byte === 0)) fail('data after the end-of-archive marker');
        out.push(rest.slice());
        return;
      }
      const current = entry;
      if (!current) {
        const taken = Math.min(BLOCK - headerFill, chunk.length - offset);
        headerBlock.set(chunk.subarray(offset, offset + taken), headerFill);
        headerFill += taken;
        offset += taken;
        if (headerFill === BLOCK) {
          headerFill = 0;
          startEntry(headerBlock.slice(), out);
        }
        continue;
      }
      if (current.read < current.size) {
        const taken = Math.min(current.size - current.read, chunk.length - offset);
        const piece = chunk.subarray(offset, offset + taken);
        // A copy: the transport may reuse its buffer once push returns.
        if (current.buffer) current.buffer.set(piece, current.read);
        else out.push(piece.slice());
        current.read += taken;
        offset += taken;
      } else {
        const skipped = Math.min(current.padding, chunk.length - offset);
        current.padding -= skipped;
        offset += skipped;
      }
      if (current.read === current.size && current.padding === 0) finishEntry(current, out);
    }
  };

  /** Runs `step`; any error fails the stream for good, as a StreamMaskingError that names no content. */
  const guarded = (step: (out: Uint8Array[]) => void): Uint8Array[] => {
    if (failure) throw failure;
    const out: Uint8Array[] = [];
    try {
      step(out);
    } catch (error) {
      if (!failure) {
        failure = new StreamMaskingError(`tar entry ${entries}: the archive could not be masked`, { cause: error });
      }
      throw failure;
    }
    return out;
  };

  return {
    push(chunk) {
      return guarded((out) => {
        if (chunk.length > 0) started = true;
        readChunk(chunk, out);
      });
    },
    end() {
      return guarded((out) => {
        if (!started || ended) return;
        if (entry || headerFill > 0) fail('the archive ends inside an entry');
        flushHeldPax(out);
      });
    },
    get record(): MaskingRecord {
      return recorder.toRecord();
    },
  };
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function zeros(length: number): Uint8Array {
  return new Uint8Array(length);
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    joined.set(piece, offset);
    offset += piece.length;
  }
  return joined;
}

/** A typeflag for messages: the character when printable ASCII, else its code. */
function typeName(type: number): string {
  return type > 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}

/**
 * An octal field as tar readers take it (Go's archive/tar among them): leading and trailing spaces and NULs ignored,
 * the rest octal digits; empty is 0 (`allowEmpty`) or not a number.
 */
function parseOctal(field: Uint8Array, allowEmpty: boolean): number | undefined {
  let start = 0;
  let end = field.length;
  while (start < end && (field[start] === SPACE || field[start] === 0)) start += 1;
  while (end > start && (field[end - 1] === SPACE || field[end - 1] === 0)) end -= 1;
  if (start === end) return allowEmpty ? 0 : undefined;
  let value = 0;
  for (let at = start; at < end; at += 1) {
    const digit = field[at]! - 0x30;
    if (digit < 0 || digit > 7) return undefined;
    value = value * 8 + digit;
  }
  return value;
}

/** The size field: octal, or GNU's base-256 (first byte's high bit set) for sizes octal cannot hold. */
function parseSize(field: Uint8Array): number | undefined {
  const first = field[0]!;
  if ((first & 0x80) === 0) return parseOctal(field, true);
  // 0xff starts a negative base-256 number: no size is negative.
  if (first === 0xff) return undefined;
  let value = first & 0x7f;
  for (let at = 1; at < field.length; at += 1) {
    value = value * 256 + field[at]!;
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return value;
}

/**
 * POSIX: the checksum is the sum of the header's bytes with the checksum field taken as spaces. Historic tars summed
 * signed bytes, and GNU tar accepts either, so we do too.
 */
function checksumMatches(header: Uint8Array): boolean {
  const stored = parseOctal(header.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_LENGTH), false);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let at = 0; at < BLOCK; at += 1) {
    const byte = at >= CHECKSUM_OFFSET && at < CHECKSUM_OFFSET + CHECKSUM_LENGTH ? SPACE : header[at]!;
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** A copy of `header` with a new size (11 octal digits and a NUL) and checksum (6 octal digits, NUL, space), as GNU tar writes them. */
function withSize(header: Uint8Array, size: number): Uint8Array {
  const copy = header.slice();
  copy.set(ENCODER.encode(`${size.toString(8).padStart(SIZE_LENGTH - 1, '0')}\0`), SIZE_OFFSET);
  copy.fill(SPACE, CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_LENGTH);
  const sum = copy.reduce((total, byte) => total + byte, 0);
  copy.set(ENCODER.encode(`${sum.toString(8).padStart(6, '0')}\0 `), CHECKSUM_OFFSET);
  return copy;
}

/** Parses pax records, `<length> <key>=<value>\n` each, the length counting the whole record in bytes (POSIX pax). */
function parsePax(
  content: Uint8Array,
  fail: (message: string) => never,
): { records: PaxRecord[]; size: number | undefined } {
  const records: PaxRecord[] = [];
  let size: number | undefined;
  let offset = 0;
  while (offset < content.length) {
    const space = content.indexOf(SPACE, offset);
    const digits = space - offset;
    if (space < 0 || digits < 1 || digits > 16) fail('malformed pax header record');
    let length = 0;
    for (let at = offset; at < space; at += 1) {
      const digit = content[at]! - 0x30;
      if (digit < 0 || digit > 9) fail('malformed pax header record');
      length = length * 10 + digit;
    }
    const end = offset + length;
    const equals = content.indexOf(EQUALS, space + 1);
    if (end > content.length || length <= digits + 1 || content[end - 1] !== NEWLINE || equals < 0 || equals >= end) {
      fail('malformed pax header record');
    }
    const key = Buffer.from(content.buffer, content.byteOffset + space + 1, equals - space - 1).toString('utf8');
    if (key === 'size') {
      const value = Buffer.from(content.buffer, content.byteOffset + equals + 1, end - 1 - equals - 1).toString(
        'latin1',
      );
      if (value === '') size = undefined;
      else if (/^\d{1,15}$/.test(value)) size = Number(value);
      else fail('malformed pax size record');
    }
    records.push({ key, start: offset, end });
    offset = end;
  }
  return { records, size };
}
