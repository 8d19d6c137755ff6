/**
 * A streaming masker for tar archives: `kubectl cp POD:/path local` runs `tar cf - /path` in the pod and reads the
 * archive from the exec session's stdout. Masking that as terminal text would change file lengths under headers that
 * still give the old sizes, and mangle binary bytes. This re-writer parses the archive (POSIX ustar, GNU and pax, as
 * GNU tar and busybox tar write them), masks each text file with `Masker.maskText` and writes it back under a header
 * with its new size and checksum. What it cannot inspect fails the stream (StreamMaskingError): binary content, a file
 * over `maxFileBytes`, a corrupt header, sparse files, content under a type that has none to mask.
 *
 * Names are masked too, since a hospital's file names are often PHI (`intake/123-45-6789.pdf`): each entry's name
 * and link target, taken where a reader takes it (a pax `path` or `linkpath` record, else a GNU long name or long link,
 * else the ustar `prefix` and `name`, or `linkname`), goes through the same masker, and when masking changes it the
 * masked name is written in every place the archive holds a copy. Copies readers ignore are not trusted to agree: a
 * ustar name under a pax record or long name that is not the start of it, and an extended header's own name that
 * masking would change, are overwritten as well. Two entries whose different names mask alike would overwrite each
 * other when extracted, so the second is numbered (`[MASKED:DATE]~2/`, see ArchiveNames), directories kept whole and
 * links following their targets (a symlink's only when it points inside the archive); a name that is not UTF-8 fails
 * the stream. Owner names (`uname`, `gname` and their pax records) and other pax records (`comment`, extended
 * attributes) pass through unmasked.
 *
 * Entries are numbered from 0 in the order `tar tf` lists them; a pax or GNU long-name header belongs to the entry it
 * precedes. Errors and the record name an entry by that index and its size, never by its name: names may be PHI.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Masker, MaskContext } from './masker.ts';
import type { MaskingRecord } from './model.ts';
import { MaskingRecorder } from './record.ts';
import { StreamMaskingError, type ChunkMasker } from './streams.ts';

export interface TarMaskerOptions {
  /** The kind and namespace the archive comes from (the pod's), for namespace rules. */
  context?: MaskContext;
  /** A file (or pax header) longer than this fails the stream: its content is held whole to be inspected. @default 16 MiB */
  maxFileBytes?: number;
  /**
   * An archive with more entries than this fails the stream; it bounds the record and the names kept to tell apart
   * names that mask alike too. @default 100,000
   */
  maxEntries?: number;
}

const BLOCK = 512;
const NAME_OFFSET = 0;
const NAME_LENGTH = 100;
const MODE_OFFSET = 100;
const UID_OFFSET = 108;
const GID_OFFSET = 116;
const SIZE_OFFSET = 124;
const SIZE_LENGTH = 12;
const MTIME_OFFSET = 136;
const MTIME_LENGTH = 12;
const CHECKSUM_OFFSET = 148;
const CHECKSUM_LENGTH = 8;
const TYPEFLAG_OFFSET = 156;
const LINKNAME_OFFSET = 157;
const LINKNAME_LENGTH = 100;
const MAGIC_OFFSET = 257;
const PREFIX_OFFSET = 345;
const PREFIX_LENGTH = 155;
/** star's ustar variant ends the prefix early for its access and change times (it says so with `tar\0` at 508). */
const STAR_PREFIX_LENGTH = 131;
/** The largest size 11 octal digits hold (8 GiB - 1): larger would need GNU base-256 or a pax `size`, which we refuse. */
const MAX_OCTAL_SIZE = 0o77777777777;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const EQUALS = 0x3d;
const SLASH = 0x2f;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();
/** POSIX ustar's magic (GNU tar reads the prefix after it, whatever the version); GNU's `ustar  \0` has no prefix. */
const USTAR_MAGIC = ENCODER.encode('ustar\0');
/** The magic and version written in a new header. */
const POSIX_MAGIC = ENCODER.encode('ustar\x0000');
const STAR_MAGIC = ENCODER.encode('tar\0');
/** The names GNU tar gives its own extended headers, put in place of theirs when those are copies of a masked name. */
const PAX_HEADER_NAME = ENCODER.encode('././@PaxHeader');
const LONG_LINK_NAME = ENCODER.encode('././@LongLink');
const PAX_GLOBAL_HEADER_NAME = ENCODER.encode('././@PaxGlobalHeader');

/** Regular files, GNU's contiguous files among them: the entries whose content is masked. */
const FILE_TYPES: ReadonlySet<number> = new Set([0x00, 0x30 /* '0' */, 0x37 /* '7' */]);
const PAX_HEADER = 0x78; // 'x': pax extended header for the next entry
/** Extended headers, by typeflag: their content belongs to the next entry (a global header's, to every later one). */
const EXTENSION_TYPES: ReadonlyMap<number, ExtensionKind | 'global'> = new Map([
  [PAX_HEADER, 'pax'],
  [0x67 /* 'g' */, 'global'],
  [0x4c /* 'L' */, 'longName'],
  [0x4b /* 'K' */, 'longLink'],
] as const);
const EXTENSION_NAMES: Readonly<Record<ExtensionKind, string>> = {
  pax: 'pax headers',
  longName: 'GNU long names',
  longLink: 'GNU long link targets',
};

/** A file name's extension, which the detectors take as part of the token before it (`.` glues `v1.2.3`). */
const EXTENSION = '[A-Za-z][A-Za-z0-9]{0,7}';
/** The dot before each path component's last extension (`.pdf` of `123-45-6789.pdf`), after a stem. */
const LAST_EXTENSION_DOT = new RegExp(`(?<=[^/])\\.(?=${EXTENSION}(?:/|$))`, 'g');
/** The dots before each path component's trailing extensions (`.tar` and `.gz` of `123-45-6789.tar.gz`). */
const EVERY_EXTENSION_DOT = new RegExp(`(?<=[^/])\\.(?=${EXTENSION}(?:\\.${EXTENSION})*(?:/|$))`, 'g');
/** A last component's extensions (`.tar.gz`), kept after a `~2` that tells apart names that mask alike. */
const TRAILING_EXTENSIONS = new RegExp(`(?<=[^.])(?:\\.${EXTENSION})+$`);
/** A name is masked with the dots above set apart, then as it is (a directory named `jane.doe@example.org`). */
const NAME_VIEWS = [LAST_EXTENSION_DOT, EVERY_EXTENSION_DOT, undefined] as const;

type ExtensionKind = 'pax' | 'longName' | 'longLink';
type NamePart = 'name' | 'linkname';

/** Where an entry's name or link target may be: its pax record, its GNU extension, its ustar field. */
interface NameField {
  part: NamePart;
  paxKey: 'path' | 'linkpath';
  long: 'longName' | 'longLink';
}

const NAME: NameField = { part: 'name', paxKey: 'path', long: 'longName' };
const LINKNAME: NameField = { part: 'linkname', paxKey: 'linkpath', long: 'longLink' };

/** The ustar fields a header has for names: the prefix exists in POSIX ustar headers alone. */
interface UstarLayout {
  prefixLength: number;
}

/** An extended header read before its entry: its header block and content. */
interface Extension {
  header: Uint8Array;
  content: Uint8Array;
  /** Set when the content was rewritten: the header is written with the new size. */
  changed: boolean;
}

interface PaxExtension extends Extension {
  records: PaxRecord[];
  /** The `size` record's value; undefined when there is none, or it is empty (which unsets a global size). */
  size: number | undefined;
}

/** The extended headers read since the last entry, held until its header: they give its name, link target or size. */
interface Extensions {
  /** The kinds in the order they came, written back in that order. */
  order: ExtensionKind[];
  pax?: PaxExtension;
  longName?: Extension;
  longLink?: Extension;
  /** Set when the entry's name or link target was masked: the extended headers' own names (copies) are replaced. */
  renamed: boolean;
}

/** An entry whose header has been read and whose content (and padding to the block) is being read. */
interface Entry {
  /** The header block: as received, or with the entry's name masked (and its checksum then recomputed). */
  header: Uint8Array;
  /** file: content masked; pax/global: content parsed; longName/longLink: content held for the next entry. */
  kind: 'file' | 'global' | ExtensionKind;
  /** The entry's index (for an extended header, of the entry it precedes). */
  index: number;
  /** Content bytes, from a pax `size` record where there is one, else from the header. */
  size: number;
  /** The size the header's field gives. */
  headerSize: number;
  /** A file's extended headers, names masked: written again before it, a pax `size` record dropped. */
  extensions?: Extensions;
  /** Holds the content, which is written (or parsed) once whole. */
  buffer: Uint8Array;
  read: number;
  /** Padding to the block still to skip: it is written anew, zeros, after the content. */
  padding: number;
}

interface PaxRecord {
  key: string;
  /** The whole record, `<length> <key>=<value>\n`. */
  bytes: Uint8Array;
  value: Uint8Array;
}

/** Directory levels a name may add to the placement map, on average over an archive's `maxEntries` entries. */
const NAMES_PER_ENTRY = 4;
const HARD_LINK = 0x31; // '1'
const SYMLINK = 0x32; // '2'

/**
 * Where each entry's name went: masking may give two names one masked form (`logs/2026-11-05/` and `logs/2026-11-06/`
 * both redact to `logs/[MASKED:DATE]/`), and extracted, one would then overwrite the other. A name is placed directory
 * by directory: each directory keeps the place its first entry gave it, so the files under it stay together, and a
 * name already taken by another original gets `~2`, `~3`, … before its extension (`[MASKED:DATE]~2/`). Originals are
 * kept as digests only (names may be PHI); what is placed is masked. When a detection spans a `/` (a date `01/05/2024`
 * in a path), the masked name has fewer levels than the original: it is placed whole.
 */
class ArchiveNames {
  /** Digest of an original path (no trailing slash) → where it was placed. */
  readonly #placed = new Map<string, string>();
  /** Digest of a placed path → digest of the original placed there. */
  readonly #owners = new Map<string, string>();

  constructor(readonly limit: number) {}

  /** Where `original` goes, `masked` being its masked form; undefined past `limit` names. */
  place(original: string, masked: string): string | undefined {
    const slash = original.length > 1 && original.endsWith('/') ? '/' : '';
    const from = trimSlashes(original).split('/');
    const to = trimSlashes(masked).split('/');
    if (from.length !== to.length) {
      const placed = this.#placeOne(trimSlashes(original), trimSlashes(masked));
      return placed === undefined ? undefined : placed + slash;
    }
    let parent = '';
    for (let depth = 1; depth <= from.length; depth += 1) {
      const placed = this.#placeOne(
        from.slice(0, depth).join('/'),
        depth === 1 ? to[0]! : `${parent}/${to[depth - 1]}`,
      );
      if (placed === undefined) return undefined;
      parent = placed;
    }
    return parent + slash;
  }

  /** Where an earlier entry named `original` was placed. */
  placed(original: string): string | undefined {
    return this.#placed.get(nameDigest(trimSlashes(original)));
  }

  #placeOne(original: string, wanted: string): string | undefined {
    const key = nameDigest(original);
    const known = this.#placed.get(key);
    if (known !== undefined) return known;
    if (this.#placed.size >= this.limit) return undefined;
    let placed = wanted;
    for (let copy = 2; (this.#owners.get(nameDigest(placed)) ?? key) !== key; copy += 1)
      placed = numbered(wanted, copy);
    this.#placed.set(key, placed);
    this.#owners.set(nameDigest(placed), key);
    return placed;
  }
}

/**
 * The archive name a relative symlink target reaches from the link named `link` (`tree/logs/current` and `2026-11-06`
 * reach `tree/logs/2026-11-06`), written as the archive writes names (a leading `./` kept); undefined for an absolute
 * target or one that climbs above the archive's top.
 */
function resolveInArchive(link: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const parts = trimSlashes(link).split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.length === 0 || parts.at(-1) === '.' || parts.at(-1) === '..') return undefined;
    else parts.pop();
  }
  return parts.length > 0 ? parts.join('/') : undefined;
}

function trimSlashes(name: string): string {
  let end = name.length;
  while (end > 1 && name.charCodeAt(end - 1) === SLASH) end -= 1;
  return name.slice(0, end);
}

/** `name` with `~copy` before its last component's extensions (`a/[MASKED:SSN]~2.txt`), or at its end. */
function numbered(name: string, copy: number): string {
  const extensions = TRAILING_EXTENSIONS.exec(name.slice(name.lastIndexOf('/') + 1))?.[0] ?? '';
  return `${name.slice(0, name.length - extensions.length)}~${copy}${extensions}`;
}

/**
 * Masks a tar archive as it streams: every regular file's text through `masker.maskText`, written back under its header
 * with the new size (11 octal digits and a NUL, as tar writes it) and checksum; a pax `size` record before a rewritten
 * file is dropped (the pax header rewritten with its new length), other pax records kept. Every entry's name and link
 * target go through `masker.maskText` too (see `maskName`); a masked one is written where readers take it (the pax
 * record; the GNU long name's content; the ustar `prefix` and `name` if it fits them, else a new pax `path` record)
 * and over every copy (the ustar fields under a pax record or long name hold it truncated, as GNU tar writes long
 * names; the extended headers' own names become GNU's `././@PaxHeader` and `././@LongLink`). Directories, links and
 * devices pass through byte for byte, as do files and names with nothing to mask and the end-of-archive zero blocks
 * with any zero padding after them. Chunks may split the archive anywhere; memory holds one file's content (and its
 * extended headers) at a time, a digest of each name and where it was placed (masked).
 *
 * Fails the stream with StreamMaskingError (and then on every call) for a header whose checksum does not match, a file
 * larger than `maxFileBytes`, binary content (not valid UTF-8, or with a NUL byte), a name or link target that is not
 * UTF-8, more than `maxEntries` × 4 names and directories to keep apart, sparse files, content under an entry type that
 * has none (or an unknown type), malformed pax records or long names, two extended headers of a kind for one entry,
 * extended headers with no entry after them, anything but zeros after the end-of-archive marker, more than
 * `maxEntries` entries, and an archive that ends inside an entry. An archive that ends between entries without its
 * end-of-archive marker is passed on as it is (GNU tar and Go's archive/tar both read it).
 *
 * The record counts masked values per file as `file[<index>]`, and in its name and link target as `file[<index>].name`
 * and `file[<index>].linkname` (by detector or rule, as `maskText` gives them); a pax global header's, under the index
 * of the entry it precedes.
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
  let held: Extensions | undefined;
  const names = new ArchiveNames(maxEntries * NAMES_PER_ENTRY);
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
    const content = current.buffer;
    if (current.kind === 'file') {
      writeFile(current, out);
    } else if (current.kind === 'longName' || current.kind === 'longLink') {
      hold(current.kind, { header: current.header, content, changed: false });
    } else {
      const pax = parsePax(content, fail);
      if (pax.records.some((record) => record.key.startsWith('GNU.sparse.'))) {
        fail('sparse files cannot be inspected');
      }
      const hasSize = pax.records.some((record) => record.key === 'size');
      if (current.kind === 'pax') {
        hold('pax', { header: current.header, content, changed: false, records: pax.records, size: pax.size });
      } else {
        if (hasSize) fail('a pax global header sets the size of every file');
        writeGlobal(current.header, content, pax.records, out);
      }
    }
  };

  const hold = <K extends ExtensionKind>(kind: K, extension: NonNullable<Extensions[K]>): void => {
    held ??= { order: [], renamed: false };
    held.order.push(kind);
    held[kind] = extension;
  };

  const writeFile = (file: Entry, out: Uint8Array[]): void => {
    const content = file.buffer;
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
    // The pax `size` would contradict the header's new size (pax records override the header), so it goes.
    writeExtensions(file.extensions, true, out);
    const header = output.length === file.headerSize ? file.header : withSize(file.header, output.length);
    out.push(header, output, zeros(padding(output.length)));
  };

  /** An entry's extended headers in the order they came; with `dropSize`, without a pax `size` record. */
  const writeExtensions = (extensions: Extensions | undefined, dropSize: boolean, out: Uint8Array[]): void => {
    if (!extensions) return;
    for (const kind of extensions.order) {
      const extension = extensions[kind]!;
      if (kind === 'pax' && dropSize) {
        const pax = extensions.pax!;
        const kept = pax.records.filter((record) => record.key !== 'size');
        if (kept.length < pax.records.length) {
          if (kept.length === 0) continue;
          setRecords(pax, kept);
        }
      }
      let header = extension.header;
      const rename = extensions.renamed || !nameIsClean(header);
      if (rename) header = withName(header, kind === 'pax' ? PAX_HEADER_NAME : LONG_LINK_NAME);
      if (rename || extension.changed) header = withSize(header, extension.content.length);
      out.push(header, extension.content, zeros(padding(extension.content.length)));
    }
  };

  /** A pax global header, its `path` and `linkpath` records masked. */
  const writeGlobal = (header: Uint8Array, content: Uint8Array, records: PaxRecord[], out: Uint8Array[]): void => {
    const pax: PaxExtension = { header, content, changed: false, records, size: undefined };
    for (const field of [NAME, LINKNAME]) {
      const record = onlyRecord(pax, field.paxKey);
      if (!record || record.value.length === 0) continue;
      const name = decodeName(record.value, field.part);
      const masked = maskEntryName(name, entries, field.part);
      if (masked !== name) replaceRecord(pax, record, ENCODER.encode(masked));
    }
    const rename = !nameIsClean(header);
    const named = rename ? withName(header, PAX_GLOBAL_HEADER_NAME) : header;
    out.push(
      pax.changed || rename ? withSize(named, pax.content.length) : named,
      pax.content,
      zeros(padding(pax.content.length)),
    );
  };

  /** The pax header's one record with `key`; two fail the stream, as readers differ in which they take. */
  const onlyRecord = (pax: PaxExtension, key: string): PaxRecord | undefined => {
    const found = pax.records.filter((record) => record.key === key);
    if (found.length > 1) fail(`a pax header has ${found.length} ${key} records`);
    return found[0];
  };

  const decodeName = (bytes: Uint8Array, part: NamePart): string => {
    let name: string | undefined;
    try {
      name = UTF8.decode(bytes);
    } catch {
      name = undefined;
    }
    // A NUL would end the name for tar; and maskName uses it.
    if (name === undefined || name.includes('\0')) {
      fail(`a ${part === 'name' ? 'name' : 'link target'} that is not UTF-8 text cannot be inspected`);
    }
    return name!;
  };

  /** A GNU long name's content: a C string, NULs after it allowed (GNU tar pads with them), anything else refused. */
  const longNameOf = (content: Uint8Array): Uint8Array => {
    const end = content.indexOf(0);
    if (end < 0) return content;
    if (!content.subarray(end).every((byte) => byte === 0)) fail('a GNU long name has bytes after its end');
    return content.subarray(0, end);
  };

  /**
   * Whether an extended header's own name (which readers ignore) is text the masker leaves alone. GNU tar derives it
   * from the entry's name (`dir/PaxHeaders/base`); one that is not UTF-8, or that masking would change, is replaced
   * with GNU's fixed name. Not recorded: it is a copy, and the entry's name is recorded where readers take it.
   */
  const nameIsClean = (header: Uint8Array): boolean => {
    let name: string;
    try {
      name = UTF8.decode(ustarName(header, NAME, ustarLayout(header)));
    } catch {
      return false;
    }
    return maskName(masker, name, options.context, () => {}) === name;
  };

  /** `name` masked (maskName), what was masked counted as `file[<index>].<part>`. */
  const maskEntryName = (name: string, index: number, part: NamePart): string =>
    maskName(masker, name, options.context, (record) => recorder.addRecord(record, () => `file[${index}].${part}`));

  /**
   * Masks the entry's name or link target where a reader takes it, and, when that changes it, writes the masked one
   * there and over every copy (see createTarMasker). `header` is the entry's, a copy written in place.
   */
  const maskNameField = (
    field: NameField,
    header: Uint8Array,
    layout: UstarLayout,
    extensions: Extensions,
    place: (original: string, masked: string) => string,
  ): void => {
    const record = extensions.pax && onlyRecord(extensions.pax, field.paxKey);
    const long = extensions[field.long];
    const source = record ? record.value : long ? longNameOf(long.content) : ustarName(header, field, layout);
    if (source.length === 0) {
      // Readers would take the empty name over the ustar field's, which would then pass unmasked.
      if (record || long) fail(record ? `an empty pax ${field.paxKey} record` : `an empty GNU long ${field.part}`);
      return;
    }
    const original = decodeName(source, field.part);
    const masked = place(original, maskEntryName(original, entries, field.part));
    if (masked === original) {
      // Writers put the start of the name in the ustar field (or nothing). Anything else is not what readers show, so
      // it is not masked as the name was: it is overwritten, in case it holds what the name does not.
      if ((record || long) && !isPrefix(ustarName(header, field, layout), source)) {
        setUstarName(header, field, layout, truncateUtf8(source, field === NAME ? NAME_LENGTH : LINKNAME_LENGTH));
        extensions.renamed = true;
      }
      return;
    }
    const bytes = ENCODER.encode(masked);
    if (record) replaceRecord(extensions.pax!, record, bytes);
    if (long) {
      // A GNU long name is a C string: the name and a NUL, counted in the size.
      long.content = concat([bytes, zeros(1)]);
      long.changed = true;
    }
    if (record || long || !fitUstar(header, field, layout, bytes)) {
      if (!record && !long) {
        extensions.pax ??= newPaxExtension(header, extensions);
        addRecord(extensions.pax, field.paxKey, bytes);
      }
      // Readers take the name from the record or long name; the field keeps what fits of the masked one.
      setUstarName(header, field, layout, truncateUtf8(bytes, field === NAME ? NAME_LENGTH : LINKNAME_LENGTH));
    }
    extensions.renamed = true;
  };

  const newPaxExtension = (entryHeader: Uint8Array, extensions: Extensions): PaxExtension => {
    extensions.order.push('pax');
    return {
      header: paxHeaderFor(entryHeader),
      content: new Uint8Array(0),
      changed: true,
      records: [],
      size: undefined,
    };
  };

  /** Where `original` goes in the archive (see ArchiveNames); past the bound on names, the stream fails. */
  const place = (original: string, masked: string): string => {
    const placed = names.place(original, masked);
    if (placed === undefined) fail(`the archive has more than ${names.limit} names to keep apart`);
    return placed!;
  };

  /**
   * Where a symlink named `link` should point so that it reaches what `target` reaches, when a name on the way was
   * numbered apart (`current -> 2026-11-06` becomes `current -> [MASKED:DATE]~2`); undefined when nothing was
   * numbered, or the target is outside the archive, so the target is masked as text.
   */
  const followSymlink = (link: { original: string; masked: string; placed: string }, target: string) => {
    const resolved = resolveInArchive(link.original, target);
    if (resolved === undefined) return undefined;
    const masked = maskName(masker, resolved, options.context, () => {});
    const placed = place(resolved, masked);
    if (placed === masked && link.placed === link.masked) return undefined;
    const relative = posix.relative(posix.dirname(trimSlashes(link.placed)), placed) || '.';
    return target.endsWith('/') ? `${relative}/` : relative;
  };

  /** The entry's header and extended headers with its name and link target masked; the header copied if changed. */
  const nameEntry = (header: Uint8Array, extensions: Extensions | undefined): [Uint8Array, Extensions | undefined] => {
    const named = header.slice();
    const layout = ustarLayout(header);
    const own = extensions ?? { order: [], renamed: false };
    let entryName = { original: '', masked: '', placed: '' };
    const placeName = (original: string, masked: string) => {
      const placed = place(original, masked);
      entryName = { original, masked, placed };
      return placed;
    };
    // A hard link names an earlier entry: it follows that entry to wherever it was placed. A symlink follows what it
    // points to inside the archive, placed now if it comes later; a target outside the archive is masked as text.
    const placeLink = (original: string, masked: string) => {
      const type = header[TYPEFLAG_OFFSET];
      if (type === HARD_LINK) return names.placed(original) ?? masked;
      return type === SYMLINK ? (followSymlink(entryName, original) ?? masked) : masked;
    };
    maskNameField(NAME, named, layout, own, placeName);
    maskNameField(LINKNAME, named, layout, own, placeLink);
    if (!own.renamed) return [header, extensions];
    writeChecksum(named);
    return [named, own];
  };

  const startEntry = (header: Uint8Array, out: Uint8Array[]): void => {
    if (header.every((byte) => byte === 0)) {
      // End of archive: two zero blocks, then zeros to the end of tar's record.
      if (held) fail('extended headers are not followed by their entry');
      ended = true;
      out.push(header);
      return;
    }
    if (!checksumMatches(header)) fail('header checksum does not match');
    const type = header[TYPEFLAG_OFFSET]!;
    const headerSize = parseSize(header.subarray(SIZE_OFFSET, SIZE_OFFSET + SIZE_LENGTH));
    if (headerSize === undefined) fail('header size field is not a number');
    const size = headerSize!;
    const extensionKind = EXTENSION_TYPES.get(type);
    if (extensionKind) {
      if (extensionKind === 'global') {
        if (held) fail("a pax global header comes between an entry's extended headers and the entry");
      } else if (held?.[extensionKind]) {
        fail(`two ${EXTENSION_NAMES[extensionKind]} for one entry`);
      }
      if (size > maxFileBytes) fail(`${size} bytes of header extension are too large to inspect`);
      const next: Entry = {
        kind: extensionKind,
        header,
        index: entries,
        size,
        headerSize: size,
        buffer: new Uint8Array(size),
        read: 0,
        padding: padding(size),
      };
      if (size === 0) finishEntry(next, out);
      else entry = next;
      return;
    }
    if (entries >= maxEntries) fail(`the archive has more than ${maxEntries} entries`);
    const contentSize = held?.pax?.size ?? size;
    const [named, extensions] = nameEntry(header, held);
    held = undefined;
    const index = entries;
    entries += 1;
    if (FILE_TYPES.has(type)) {
      if (contentSize > maxFileBytes) {
        fail(`${contentSize} bytes is too large to inspect (maxFileBytes ${maxFileBytes})`, index);
      }
      const next: Entry = {
        kind: 'file',
        header: named,
        index,
        size: contentSize,
        headerSize: size,
        extensions,
        buffer: new Uint8Array(contentSize),
        read: 0,
        padding: padding(contentSize),
      };
      if (contentSize === 0) finishEntry(next, out);
      else entry = next;
    } else {
      if (contentSize > 0) fail(`${contentSize} bytes under entry type ${typeName(type)} cannot be inspected`, index);
      writeExtensions(extensions, false, out);
      out.push(named);
    }
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
        // A copy: the transport may reuse its buffer once push returns.
        current.buffer.set(chunk.subarray(offset, offset + taken), current.read);
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
      return guarded(() => {
        if (!started || ended) return;
        if (entry || headerFill > 0) fail('the archive ends inside an entry');
        if (held) fail('extended headers are not followed by their entry');
      });
    },
    get record(): MaskingRecord {
      return recorder.toRecord();
    },
  };
}

/**
 * A file name or link target masked by `masker.maskText`, in up to three passes, each on the last one's output: with
 * the dot before each path component's last extension set apart (taken as a NUL, which the detectors see as a boundary
 * and a tar name cannot hold), so `123-45-6789.pdf` shows an SSN and `jane.doe@example.org.json` an email with its
 * `.json` kept; with every trailing extension's dot set apart (`123-45-6789.tar.gz`); and as it is (a directory named
 * `jane.doe@example.org`). A pass whose text is the last one's is skipped. `count` gets each pass's record.
 */
function maskName(
  masker: Masker,
  name: string,
  context: MaskContext | undefined,
  count: (record: MaskingRecord) => void,
): string {
  let value = name;
  let previous: string | undefined;
  for (const view of NAME_VIEWS) {
    const text = view ? value.replace(view, '\0') : value;
    if (text === previous) continue;
    previous = text;
    const masked = masker.maskText(text, context);
    if (masked.record.total === 0) continue;
    count(masked.record);
    value = masked.value.replaceAll('\0', '.');
  }
  return value;
}

/** 16 bytes of a name's SHA-256: what ArchiveNames keeps of names (which may be PHI). */
function nameDigest(name: string): string {
  return createHash('sha256').update(name).digest().toString('latin1', 0, 16);
}

function ustarLayout(header: Uint8Array): UstarLayout {
  if (!startsWith(header, MAGIC_OFFSET, USTAR_MAGIC)) return { prefixLength: 0 };
  return {
    prefixLength: startsWith(header, BLOCK - STAR_MAGIC.length, STAR_MAGIC) ? STAR_PREFIX_LENGTH : PREFIX_LENGTH,
  };
}

function startsWith(bytes: Uint8Array, offset: number, expected: Uint8Array): boolean {
  return expected.every((byte, at) => bytes[offset + at] === byte);
}

/** A NUL-terminated field's bytes (all of it when it has no NUL). */
function cField(header: Uint8Array, offset: number, length: number): Uint8Array {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return end < 0 ? field : field.subarray(0, end);
}

/** The name (prefix, `/`, name) or link target the ustar fields give. */
function ustarName(header: Uint8Array, field: NameField, layout: UstarLayout): Uint8Array {
  if (field === LINKNAME) return cField(header, LINKNAME_OFFSET, LINKNAME_LENGTH);
  const name = cField(header, NAME_OFFSET, NAME_LENGTH);
  const prefix = layout.prefixLength > 0 ? cField(header, PREFIX_OFFSET, layout.prefixLength) : new Uint8Array(0);
  return prefix.length === 0 ? name : concat([prefix, Uint8Array.of(SLASH), name]);
}

/** Writes `bytes` to the ustar name fields (name, prefix cleared) or link target field. */
function setUstarName(header: Uint8Array, field: NameField, layout: UstarLayout, bytes: Uint8Array): void {
  if (field === LINKNAME) {
    setField(header, LINKNAME_OFFSET, LINKNAME_LENGTH, bytes);
  } else {
    setField(header, NAME_OFFSET, NAME_LENGTH, bytes);
    if (layout.prefixLength > 0) setField(header, PREFIX_OFFSET, layout.prefixLength, new Uint8Array(0));
  }
}

/**
 * Writes `bytes` to the ustar fields if they hold it: a link target of up to 100 bytes; a name of up to 100 bytes, or
 * in a POSIX header split at a `/` into a prefix and a name that fit (POSIX ustar). False when they cannot.
 */
function fitUstar(header: Uint8Array, field: NameField, layout: UstarLayout, bytes: Uint8Array): boolean {
  if (bytes.length <= (field === LINKNAME ? LINKNAME_LENGTH : NAME_LENGTH)) {
    setUstarName(header, field, layout, bytes);
    return true;
  }
  if (field === LINKNAME) return false;
  for (let slash = Math.max(1, bytes.length - NAME_LENGTH - 1); slash <= layout.prefixLength; slash += 1) {
    if (bytes[slash] === SLASH && slash < bytes.length - 1) {
      setField(header, NAME_OFFSET, NAME_LENGTH, bytes.subarray(slash + 1));
      setField(header, PREFIX_OFFSET, layout.prefixLength, bytes.subarray(0, slash));
      return true;
    }
  }
  return false;
}

function setField(header: Uint8Array, offset: number, length: number, bytes: Uint8Array): void {
  header.fill(0, offset, offset + length);
  header.set(bytes, offset);
}

function isPrefix(prefix: Uint8Array, of: Uint8Array): boolean {
  return prefix.length <= of.length && prefix.every((byte, at) => of[at] === byte);
}

/** At most `length` bytes of UTF-8, cut before a character rather than inside one. */
function truncateUtf8(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length <= length) return bytes;
  let end = length;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/** A pax header (POSIX ustar) for an entry whose masked name needs a record: GNU tar's name, the entry's mtime. */
function paxHeaderFor(entryHeader: Uint8Array): Uint8Array {
  const header = new Uint8Array(BLOCK);
  header.set(PAX_HEADER_NAME, NAME_OFFSET);
  header.set(ENCODER.encode('0000644\0'), MODE_OFFSET);
  header.set(ENCODER.encode('0000000\0'), UID_OFFSET);
  header.set(ENCODER.encode('0000000\0'), GID_OFFSET);
  header.set(entryHeader.subarray(MTIME_OFFSET, MTIME_OFFSET + MTIME_LENGTH), MTIME_OFFSET);
  header[TYPEFLAG_OFFSET] = PAX_HEADER;
  header.set(POSIX_MAGIC, MAGIC_OFFSET);
  return header;
}

/** A copy of an extended header with `name` for its own name (and no prefix). */
function withName(header: Uint8Array, name: Uint8Array): Uint8Array {
  const copy = header.slice();
  setUstarName(copy, NAME, ustarLayout(copy), name);
  return copy;
}

/** Replaces `record` with one of the same key and `value`. */
function replaceRecord(pax: PaxExtension, record: PaxRecord, value: Uint8Array): void {
  setRecords(
    pax,
    pax.records.map((each) => (each === record ? paxRecord(record.key, value) : each)),
  );
}

function addRecord(pax: PaxExtension, key: string, value: Uint8Array): void {
  setRecords(pax, [...pax.records, paxRecord(key, value)]);
}

function setRecords(pax: PaxExtension, records: PaxRecord[]): void {
  pax.records = records;
  pax.content = concat(records.map((record) => record.bytes));
  pax.changed = true;
}

/** `<length> <key>=<value>\n`, the length counting the whole record, its own digits included (POSIX pax). */
function paxRecord(key: string, value: Uint8Array): PaxRecord {
  const keyBytes = ENCODER.encode(key);
  const rest = keyBytes.length + value.length + 3; // the space, `=` and newline
  let length = rest + String(rest).length;
  while (rest + String(length).length !== length) length = rest + String(length).length;
  const head = ENCODER.encode(`${length} ${key}=`);
  const bytes = concat([head, value, Uint8Array.of(NEWLINE)]);
  return { key, bytes, value: bytes.subarray(head.length, bytes.length - 1) };
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

/** A copy of `header` with a new size (11 octal digits and a NUL, as GNU tar writes it) and its checksum. */
function withSize(header: Uint8Array, size: number): Uint8Array {
  const copy = header.slice();
  copy.set(ENCODER.encode(`${size.toString(8).padStart(SIZE_LENGTH - 1, '0')}\0`), SIZE_OFFSET);
  return writeChecksum(copy);
}

/** Writes `header`'s checksum (6 octal digits, NUL, space, as GNU tar writes it) into it; returns it. */
function writeChecksum(header: Uint8Array): Uint8Array {
  header.fill(SPACE, CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_LENGTH);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.set(ENCODER.encode(`${sum.toString(8).padStart(6, '0')}\0 `), CHECKSUM_OFFSET);
  return header;
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
    records.push({ key, bytes: content.subarray(offset, end), value: content.subarray(equals + 1, end - 1) });
    offset = end;
  }
  return { records, size };
}
