/**
 * The structured masker (issue 5, points 2 to 4): masks a Kubernetes object, a `*List` (each item by its own kind), a
 * `Table` (cells by column, `rows[].object` as objects) or text, by the rules and the scanner, and returns the masked
 * value with its masking record.
 *
 * One walk per value. Copy-on-write: an untouched subtree is returned as the very same object, so masking allocates only
 * along the paths to masked values, and the input is never modified. The JSON path of a value is formatted only when
 * something there is masked.
 */
import { DETECTOR_NAMES, detectorLabel, type DetectorName, type MaskingRecord, type TextScanner } from './model.ts';
import {
  decodeBase64Text,
  decodeJsonText,
  decodeKeyValueText,
  decodeYamlText,
  encodeBase64Text,
  encodeJsonText,
  encodeKeyValueText,
  encodeYamlText,
} from './encodings.ts';
import {
  CompiledRuleSet,
  MaskingRulesError,
  type CompiledRule,
  type DetectorPolicy,
  type PathState,
} from './matcher.ts';
import { objectLayout, type MemberSpan } from './json-layout.ts';
import { EVERY_ITEM, MaskingRecorder, type PathKey } from './record.ts';
import { effectiveRules, MaskingConfigSchema, type MaskingConfigInput } from './rules.ts';
import { isToken, maskToken, redactedToken } from './tokens.ts';

export { MaskingRulesError } from './matcher.ts';

export interface MaskerOptions {
  /** Finds identifiers in strings (`createTextScanner(config.masking.detectors)`). */
  scanner: TextScanner;
  /** The HMAC key of `hash` rules, resolved from `masking.hashKey` by the caller; required when a rule hashes. */
  hashKey?: Uint8Array | string;
  /**
   * `maskJsonText` masks a list or Table above this size an item at a time; a smaller document, as one tree (the same
   * output and record, without the layout scan). @default 65536
   */
  splitAboveBytes?: number;
}

/** What the caller knows about a value that the value may not say itself (a watch of pods, a namespaced request). */
export interface MaskContext {
  /** The kind of the object, when it has no `kind` field. */
  kind?: string;
  /** The namespace of the object, when it has no `metadata.namespace`. */
  namespace?: string;
}

export interface MaskResult<T = unknown> {
  value: T;
  record: MaskingRecord;
}

/** A window of an over-long line, masked: `text` is the masked form of the window's first `consumed` characters. */
export interface MaskedWindow {
  text: string;
  consumed: number;
  record: MaskingRecord;
}

export interface Masker {
  /** A Kubernetes object, a `*List` of objects (each masked by its own kind) or a `Table`. */
  maskObject(value: unknown, context?: MaskContext): MaskResult;
  /** A `Table` (`application/json;as=Table`): cells by column name and detectors, `rows[].object` as objects. */
  maskTable(table: unknown, context?: MaskContext): MaskResult;
  /**
   * A JSON document (its UTF-8 bytes, as a response body arrives, or its text), masked as `maskObject` masks its value
   * and written back as JSON with the input's indentation and final newline, piece by piece to `emit`. A `*List` or a
   * `Table` is decoded, parsed, masked and written an item (row) at a time, so memory holds the input's bytes, the
   * output and one item: never the whole tree nor a decoded copy of the input. Throws SyntaxError, as JSON.parse, when
   * the input is not JSON; the pieces emitted before are then to be discarded.
   */
  maskJsonText(json: Uint8Array | string, emit: (piece: string) => void, context?: MaskContext): MaskingRecord;
  /** Text (log lines, exec output): every detector the rules enable outside paths. The record's path is `line`. */
  maskText(text: string, context?: MaskContext): MaskResult<string>;
  /**
   * The first part of a window of an over-long line: masks up to `cut`, or further when an identifier crosses `cut`
   * (so no identifier is split between two windows), or less when one runs into the window's end (it is carried over).
   */
  maskTextWindow(window: string, cut: number, context?: MaskContext): MaskedWindow;
}

/** A detector under a policy: what masking its finds takes, and how many the text being masked has had. */
interface DetectorTally {
  action: Exclude<CompiledRule['action'], { action: 'keep' }>;
  /** The token when the rule redacts: the same for every find. */
  redacted: string | undefined;
  recordName: string;
  count: number;
}

const TALLIES = new WeakMap<DetectorPolicy, ReadonlyMap<DetectorName, DetectorTally>>();

/** One map lookup a find, made once a policy. */
function talliesOf(policy: DetectorPolicy): ReadonlyMap<DetectorName, DetectorTally> {
  let tallies = TALLIES.get(policy);
  if (!tallies) {
    tallies = new Map(
      [...policy.byDetector].map(([detector, rule]) => {
        const action = rule.action as DetectorTally['action'];
        const redacted = action.action === 'redact' ? redactedToken(detector) : undefined;
        return [detector, { action, redacted, recordName: DETECTOR_RECORD_NAMES.get(detector)!, count: 0 }];
      }),
    );
    TALLIES.set(policy, tallies);
  }
  return tallies;
}

/** Nested encodings decoded at most this deep (JSON in YAML in base64 is three). */
const MAX_NESTING = 4;
const TEXT_PATH = 'line';
/** Enough of a JSON document's start to see its indentation (`JSON.stringify` indents by at most ten characters). */
const INDENT_SNIFF_BYTES = 64;
const NEWLINE = 0x0a;
const DEFAULT_SPLIT_ABOVE_BYTES = 64 * 1024;
/** `detector:<name>` made once: a log masks a value or more per line, and the record looks each one up by this key. */
const DETECTOR_RECORD_NAMES = new Map(DETECTOR_NAMES.map((name) => [name, `detector:${name}`]));

/**
 * Compiles the rules once (defaults appended unless `defaults: false`) and returns the masker. Throws MaskingRulesError
 * for rules that do not validate or `hash` rules without `hashKey`.
 */
export function createMasker(ruleSet: MaskingConfigInput, options: MaskerOptions): Masker {
  const parsed = MaskingConfigSchema.safeParse(ruleSet);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new MaskingRulesError(`masking rules: ${problems.join('; ')}`);
  }
  const rules = new CompiledRuleSet(effectiveRules(parsed.data));
  const hashKey = typeof options.hashKey === 'string' ? Buffer.from(options.hashKey, 'utf8') : options.hashKey;
  if (rules.usesHash && (!hashKey || hashKey.length === 0)) {
    const names = rules.rules.filter((rule) => rule.action.action === 'hash').map((rule) => rule.name);
    throw new MaskingRulesError(`rules ${names.join(', ')} hash values but no hash key was given`);
  }
  const engine: Engine = {
    rules,
    scanner: options.scanner,
    hashKey,
    splitAboveBytes: options.splitAboveBytes ?? DEFAULT_SPLIT_ABOVE_BYTES,
  };

  const run = <T>(walk: (walker: Walker) => T): MaskResult<T> => {
    const recorder = new MaskingRecorder();
    const value = walk(new Walker(engine, recorder));
    return { value, record: recorder.toRecord() };
  };

  return {
    maskObject: (value, context = {}) => run((walker) => walker.document(value, context)),
    maskTable: (table, context = {}) => run((walker) => walker.table(table, context)),
    maskJsonText(json, emit, context = {}) {
      const recorder = new MaskingRecorder();
      const bytes =
        typeof json === 'string'
          ? Buffer.from(json, 'utf8')
          : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
      new Walker(engine, recorder).jsonText(bytes, emit, context);
      return recorder.toRecord();
    },
    maskText: (text, context = {}) =>
      run((walker) => walker.text(text, walker.textDetectors(context), () => TEXT_PATH)),
    maskTextWindow(window, cut, context = {}) {
      const recorder = new MaskingRecorder();
      const walker = new Walker(engine, recorder);
      const { text, consumed } = walker.textWindow(window, cut, walker.textDetectors(context));
      return { text, consumed, record: recorder.toRecord() };
    },
  };
}

interface Engine {
  rules: CompiledRuleSet;
  scanner: TextScanner;
  hashKey: Uint8Array | undefined;
  splitAboveBytes: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringField(value: unknown, ...keys: string[]): string | undefined {
  let current = value;
  for (const key of keys) current = isObject(current) ? current[key] : undefined;
  return typeof current === 'string' ? current : undefined;
}

function isTable(value: unknown): value is Json & { columnDefinitions: unknown[]; rows: unknown[] } {
  return (
    isObject(value) && value.kind === 'Table' && Array.isArray(value.columnDefinitions) && Array.isArray(value.rows)
  );
}

/** A Kubernetes object embedded in a string (kubectl's last-applied-configuration) is masked by its own kind. */
function isKubernetesObject(value: unknown): value is Json {
  return isObject(value) && typeof value.kind === 'string' && typeof value.apiVersion === 'string';
}

/** The top-level arrays a document is split at: a list's items, a Table's rows. */
const SPLIT_KEYS: ReadonlySet<string> = new Set(['items', 'rows']);

function listItemKind(listKind: string, context: MaskContext): string | undefined {
  return listKind === 'List' ? context.kind : listKind.slice(0, -'List'.length);
}

function columnNames(table: { columnDefinitions: unknown[] }): string[] {
  return table.columnDefinitions.map((column) => stringField(column, 'name') ?? '');
}

/** Writes values as `JSON.stringify(document, null, indent)` writes them at their depth in the document. */
class JsonWriter {
  readonly #gap: string;
  readonly colon: string;

  constructor(indent: string) {
    // JSON.stringify indents by at most ten characters.
    this.#gap = indent.slice(0, 10);
    this.colon = this.#gap ? ': ' : ':';
  }

  newline(depth: number): string {
    return this.#gap ? `\n${this.#gap.repeat(depth)}` : '';
  }

  /** Strings in JSON hold no raw newline: every newline of the text is a line break of the layout. */
  value(value: unknown, depth: number): string {
    const text = JSON.stringify(value, null, this.#gap);
    return this.#gap && depth > 0 ? text.replaceAll('\n', this.newline(depth)) : text;
  }
}

/** One masking call: walks a value, keeping the current path for the record. */
class Walker {
  readonly #path: PathKey[] = [];
  /** The current path, formatted once per distinct path by the recorder; one closure for the whole walk. */
  readonly #currentPath = () => this.recorder.pathOf(this.#path);

  constructor(
    readonly engine: Engine,
    readonly recorder: MaskingRecorder,
  ) {}

  /** Anything `maskObject` accepts: a Table, a `*List`, an object, or any JSON value. */
  document(value: unknown, context: MaskContext): unknown {
    if (isTable(value)) return this.table(value, context);
    const kind = stringField(value, 'kind') ?? context.kind;
    if (isObject(value) && kind?.endsWith('List') && Array.isArray(value.items)) return this.list(value, kind, context);
    return this.object(value, kind, stringField(value, 'metadata', 'namespace') ?? context.namespace);
  }

  /** A `*List`: its items each by its own kind, recorded under `$.items[*]`; its other fields by the list's kind. */
  list(list: Json, listKind: string, context: MaskContext): unknown {
    const itemKind = listItemKind(listKind, context);
    const state = this.engine.rules.root(listKind, context.namespace);
    const { cover, detectors } = this.enter(state, undefined, this.engine.rules.noDetectors);
    if (cover) return this.cover(list, cover, false, state);
    return this.mapObject(list, (key, value) => {
      if (key !== 'items') return this.child(list, key, value, state.child(key), detectors, 0, false);
      return this.at(key, () =>
        this.at(EVERY_ITEM, () => this.mapArray(value as unknown[], (item) => this.listItem(item, itemKind, context))),
      );
    });
  }

  /** An item of a list, by its own kind and namespace, else the list's. */
  listItem(item: unknown, itemKind: string | undefined, context: MaskContext): unknown {
    return this.object(
      item,
      stringField(item, 'kind') ?? itemKind,
      stringField(item, 'metadata', 'namespace') ?? context.namespace,
    );
  }

  /** One Kubernetes object (or any JSON value) at the root of its kind's rules. */
  object(value: unknown, kind: string | undefined, namespace: string | undefined, nesting = 0): unknown {
    const state = this.engine.rules.root(kind, namespace);
    const { cover, detectors } = this.enter(state, undefined, this.engine.rules.noDetectors);
    if (cover) return this.cover(value, cover, false, state);
    if (!isObject(value)) return this.value(value, state, detectors, nesting, false);
    // Secret data is base64 by definition: its values are decoded, masked and encoded again.
    const secret = kind === 'Secret';
    return this.mapObject(value, (key, child) =>
      this.child(value, key, child, state.child(key), detectors, nesting, secret && key === 'data'),
    );
  }

  /** A Table: its rows recorded under `$.rows[*]`; its other fields (columns, metadata) as they are. */
  table(table: unknown, context: MaskContext): unknown {
    if (!isTable(table)) return this.document(table, context);
    const columns = columnNames(table);
    return this.mapObject(table, (key, rows) => {
      if (key !== 'rows') return rows;
      return this.at(key, () =>
        this.at(EVERY_ITEM, () => this.mapArray(rows as unknown[], (row) => this.row(row, columns, context))),
      );
    });
  }

  /** A Table row: cells by column rule, else detectors; `object` by its kind. */
  row(row: unknown, columns: readonly string[], context: MaskContext): unknown {
    if (!isObject(row)) return row;
    const rules = this.engine.rules;
    const kind = stringField(row.object, 'kind') ?? context.kind;
    const namespace = stringField(row.object, 'metadata', 'namespace') ?? context.namespace;
    const { detectors } = this.enter(rules.root(kind, namespace), undefined, rules.noDetectors);
    const maskCell = (cell: unknown, index: number) => {
      const rule = rules.columnRule(columns[index] ?? '', kind, namespace);
      if (rule) return this.cover(cell, rule, false, rules.dead);
      return typeof cell === 'string' ? this.string(cell, rules.dead, detectors, 0) : cell;
    };
    return this.mapObject(row, (key, value) =>
      this.at(key, () => {
        if (key === 'object') return this.object(value, kind, namespace);
        if (key !== 'cells' || !Array.isArray(value)) return value;
        return this.mapArray(value, (cell, index) => this.at(index, () => maskCell(cell, index)));
      }),
    );
  }

  /** maskJsonText: a list or a Table split at its items (rows), any other document parsed whole. */
  jsonText(bytes: Buffer, emit: (piece: string) => void, context: MaskContext): void {
    const head = bytes.toString('utf8', 0, Math.min(bytes.length, INDENT_SNIFF_BYTES));
    const writer = new JsonWriter(/^\s*[{[]\r?\n([ \t]+)/.exec(head)?.[1] ?? '');
    const end = bytes[bytes.length - 1] === NEWLINE ? '\n' : '';
    try {
      // A small document is parsed whole: splitting it would cost a layout scan and save no memory worth having.
      if (bytes.length > this.engine.splitAboveBytes && this.splitDocument(bytes, writer, emit, end, context)) return;
    } catch (error) {
      // An element's parse error points into the element: the whole input's says where in the input.
      if (error instanceof SyntaxError) JSON.parse(bytes.toString('utf8'));
      throw error;
    }
    emit(writer.value(this.document(JSON.parse(bytes.toString('utf8')), context), 0) + end);
  }

  /**
   * Writes a list item by item (a Table row by row) when `bytes` hold one: its other members are parsed and masked as
   * the document without the array, then each element is decoded, parsed, masked and written. False, with nothing
   * written, for any other document.
   */
  splitDocument(
    bytes: Buffer,
    writer: JsonWriter,
    emit: (piece: string) => void,
    end: string,
    context: MaskContext,
  ): boolean {
    const members = objectLayout(bytes, SPLIT_KEYS);
    const split = members?.find((member) => member.elements);
    if (!members || !split) return false;
    const shell = JSON.parse(`${bytes.toString('utf8', 0, split.start)}[]${bytes.toString('utf8', split.end)}`) as Json;
    // JSON.parse keeps the last of duplicate keys and puts integer keys first: writing member by member needs neither.
    const keys = Object.keys(shell);
    if (keys.length !== members.length || keys.some((key, index) => key !== members[index]!.key)) return false;
    const maskElement = this.elementMasker(shell, split.key, context);
    if (!maskElement) return false;
    const masked = maskElement.shell;
    emit('{');
    members.forEach((member, index) => {
      const head = `${index > 0 ? ',' : ''}${writer.newline(1)}${JSON.stringify(member.key)}${writer.colon}`;
      if (member === split) this.writeElements(bytes, split, writer, emit, head, maskElement.element);
      else emit(head + writer.value(masked[member.key], 1));
    });
    emit(`${writer.newline(0)}}${end}`);
    return true;
  }

  /** The masked document without its split array, and how to mask each element: a list's items, a Table's rows. */
  elementMasker(
    shell: Json,
    splitKey: string,
    context: MaskContext,
  ): { shell: Json; element: (value: unknown) => unknown } | undefined {
    if (isTable(shell)) {
      if (splitKey !== 'rows') return undefined;
      const columns = columnNames(shell);
      return { shell, element: (row) => this.row(row, columns, context) };
    }
    const kind = stringField(shell, 'kind') ?? context.kind;
    if (splitKey !== 'items' || !kind?.endsWith('List')) return undefined;
    const rules = this.engine.rules;
    // A rule covering the whole list masks its items as values, index by index: the whole document's walk does that.
    if (this.enter(rules.root(kind, context.namespace), undefined, rules.noDetectors).cover) return undefined;
    const itemKind = listItemKind(kind, context);
    return {
      shell: this.list(shell, kind, context) as Json,
      element: (item) => this.listItem(item, itemKind, context),
    };
  }

  /** `"key": [element, …]`, each element parsed, masked and written in turn, recorded under `key[*]`. */
  writeElements(
    bytes: Buffer,
    split: MemberSpan,
    writer: JsonWriter,
    emit: (piece: string) => void,
    head: string,
    maskElement: (value: unknown) => unknown,
  ): void {
    const elements = split.elements!;
    if (elements.length === 0) return emit(`${head}[]`);
    emit(`${head}[`);
    const newline = writer.newline(2);
    this.#path.push(split.key, EVERY_ITEM);
    for (let index = 0; index < elements.length; index += 2) {
      const element = maskElement(JSON.parse(bytes.toString('utf8', elements[index], elements[index + 1])));
      emit(`${index > 0 ? ',' : ''}${newline}${writer.value(element, 2)}`);
    }
    this.#path.length -= 2;
    emit(`${writer.newline(1)}]`);
  }

  /** The detectors that apply to text: those enabled at the root of an object in the context's kind and namespace. */
  textDetectors(context: MaskContext): DetectorPolicy {
    const rules = this.engine.rules;
    return this.enter(rules.root(context.kind, context.namespace), undefined, rules.noDetectors).detectors;
  }

  /**
   * The rules that fire where `state` is reached, inside `parent`: the first value rule whose `where` holds covers the
   * value; detector rules add their detectors to those in force.
   */
  enter(
    state: PathState,
    parent: unknown,
    detectors: DetectorPolicy,
  ): { cover: CompiledRule | undefined; detectors: DetectorPolicy } {
    for (const rule of state.accepts) {
      if (rule.where.length > 0 && !whereHolds(rule, parent)) continue;
      if (!rule.detectors) return { cover: rule, detectors };
      detectors = detectors.with(rule);
    }
    return { cover: undefined, detectors };
  }

  child(
    parent: unknown,
    key: string | number,
    value: unknown,
    state: PathState,
    detectors: DetectorPolicy,
    nesting: number,
    base64: boolean,
  ): unknown {
    // The hot path: no closure per node. No try/finally either: a throw abandons the whole walk, path included.
    this.#path.push(key);
    let masked: unknown;
    if (state.accepts.length === 0) masked = this.value(value, state, detectors, nesting, base64);
    else {
      const entered = this.enter(state, parent, detectors);
      masked = entered.cover
        ? this.cover(value, entered.cover, base64, state)
        : this.value(value, state, entered.detectors, nesting, base64);
    }
    this.#path.pop();
    return masked;
  }

  /** Runs `walk` with `key` appended to the current path. */
  at<T>(key: PathKey, walk: () => T): T {
    this.#path.push(key);
    const result = walk();
    this.#path.pop();
    return result;
  }

  value(value: unknown, state: PathState, detectors: DetectorPolicy, nesting: number, base64: boolean): unknown {
    if (typeof value === 'string') {
      if (!base64) return this.string(value, state, detectors, nesting);
      const decoded = decodeBase64Text(value);
      if (decoded === undefined) return value; // Binary: nothing a detector could read.
      const masked = this.string(decoded, state, detectors, nesting + 1);
      return masked === decoded ? value : encodeBase64Text(masked);
    }
    // The same copy-on-write as mapArray and mapObject, inlined: this runs for every array and object.
    if (Array.isArray(value)) {
      const element = state.element();
      let copy: unknown[] | undefined;
      for (let index = 0; index < value.length; index += 1) {
        const item: unknown = value[index];
        const masked = this.child(value, index, item, element, detectors, nesting, base64);
        if (masked !== item) (copy ??= value.slice())[index] = masked;
      }
      return copy ?? value;
    }
    if (isObject(value)) {
      let copy: Json | undefined;
      for (const key in value) {
        const child = value[key];
        const masked = this.child(value, key, child, state.child(key), detectors, nesting, base64);
        if (masked !== child) (copy ??= { ...value })[key] = masked;
      }
      return copy ?? value;
    }
    return value;
  }

  /** A string no value rule covers: decoded and walked if it holds JSON, YAML or `key=value` lines, else scanned. */
  string(text: string, state: PathState, detectors: DetectorPolicy, nesting: number): string {
    if (text.length < 2 || (detectors.isEmpty && state.isDead)) return text;
    if (nesting < MAX_NESTING) {
      const json = decodeJsonText(text);
      if (json) {
        const masked = this.nested(json.value, state, detectors, nesting + 1);
        return masked === json.value ? text : encodeJsonText(masked, json.indent, text);
      }
      const yaml = decodeYamlText(text);
      if (yaml) {
        const masked = this.nested(yaml.value, state, detectors, nesting + 1);
        return masked === yaml.value ? text : encodeYamlText(yaml.document, yaml.value, masked);
      }
      const lines = decodeKeyValueText(text);
      if (lines) return this.keyValueLines(text, lines, state, detectors, nesting + 1);
    }
    return this.text(text, detectors, this.#currentPath);
  }

  /** A decoded document continues the path it was found at, unless it is a Kubernetes object: then its kind rules. */
  nested(value: object, state: PathState, detectors: DetectorPolicy, nesting: number): unknown {
    if (!isKubernetesObject(value)) return this.value(value, state, detectors, nesting, false);
    return this.object(value, value.kind as string, stringField(value, 'metadata', 'namespace'), nesting);
  }

  keyValueLines(
    text: string,
    lines: ReturnType<typeof decodeKeyValueText> & object,
    state: PathState,
    detectors: DetectorPolicy,
    nesting: number,
  ): string {
    const pairs = lines.filter((line) => line.key !== undefined);
    // The pairs as an object, so `where` can test a sibling key as it does in JSON.
    const asObject = Object.fromEntries(
      pairs.map((line) => [line.key!, line.text.slice(line.valueStart, line.valueEnd)]),
    );
    let changed = false;
    const values = pairs.map((line) => {
      const value = line.text.slice(line.valueStart, line.valueEnd);
      const masked = this.child(
        asObject,
        line.key!,
        value,
        state.child(line.key!),
        detectors,
        nesting,
        false,
      ) as string;
      changed ||= masked !== value;
      return masked;
    });
    return changed ? encodeKeyValueText(lines, values) : text;
  }

  /**
   * Every string and number under a value a rule covers becomes that rule's token (`keep`: left alone), unless an
   * earlier rule matches a value below: the first rule in order that matches a value decides it, however deep.
   */
  cover(value: unknown, rule: CompiledRule, base64: boolean, state: PathState): unknown {
    const action = rule.action;
    if (action.action === 'keep') return value;
    if (typeof value === 'string' || typeof value === 'number') {
      const text = String(value);
      if (base64) {
        const decoded = decodeBase64Text(text);
        if (decoded !== undefined && isToken(decoded)) return value;
        // Base64 of the token, so a client that decodes Secret data still gets text.
        return encodeBase64Text(this.token(rule, decoded ?? text));
      }
      return isToken(text) ? value : this.token(rule, text);
    }
    if (Array.isArray(value)) {
      const element = state.element();
      return this.mapArray(value, (item, index) => this.covered(value, index, item, rule, base64, element));
    }
    if (isObject(value)) {
      return this.mapObject(value, (key, child) => this.covered(value, key, child, rule, base64, state.child(key)));
    }
    return value;
  }

  covered(
    parent: unknown,
    key: string | number,
    value: unknown,
    rule: CompiledRule,
    base64: boolean,
    state: PathState,
  ): unknown {
    const earlier = state.accepts.find(
      (accepted) =>
        accepted.index < rule.index &&
        !accepted.detectors &&
        (accepted.where.length === 0 || whereHolds(accepted, parent)),
    );
    return this.at(key, () => this.cover(value, earlier ?? rule, base64, state));
  }

  token(rule: CompiledRule, value: string): string {
    this.recorder.add(this.recorder.pathOf(this.#path), rule.by);
    return maskToken(
      rule.action as Exclude<CompiledRule['action'], { action: 'keep' }>,
      rule.label,
      value,
      this.engine.hashKey,
    );
  }

  /** Replaces what the enabled detectors find; tokens already in the text are left as they are. */
  text(text: string, detectors: DetectorPolicy, path: () => string): string {
    if (detectors.isEmpty) return text;
    const detections = this.engine.scanner.scan(text);
    if (detections.length === 0) return text;
    const tallies = talliesOf(detectors);
    let masked = '';
    let last = 0;
    // A text masks many values (a log chunk about one a line): counted here, recorded once per detector.
    let counted: DetectorTally[] | undefined;
    try {
      for (const detection of detections) {
        const tally = tallies.get(detection.detector);
        if (!tally || detection.start < last) continue;
        const token =
          tally.redacted ??
          maskToken(
            tally.action,
            detectorLabel(detection.detector),
            text.slice(detection.start, detection.end),
            this.engine.hashKey,
          );
        masked += text.slice(last, detection.start) + token;
        last = detection.end;
        if (tally.count++ === 0) (counted ??= []).push(tally);
      }
      if (counted) {
        const where = path();
        for (const tally of counted) this.recorder.add(where, tally.recordName, tally.count);
      }
    } finally {
      if (counted) for (const tally of counted) tally.count = 0;
    }
    return last === 0 ? text : masked + text.slice(last);
  }

  textWindow(window: string, cut: number, detectors: DetectorPolicy): { text: string; consumed: number } {
    let consumed = Math.min(cut, window.length);
    if (!detectors.isEmpty) {
      for (const detection of this.engine.scanner.scan(window)) {
        if (!detectors.byDetector.has(detection.detector)) continue;
        if (detection.start < consumed && detection.end > consumed) {
          // Reaching the window's end, the identifier may go on in the next window: carry it over whole.
          consumed = detection.end < window.length || detection.start === 0 ? detection.end : detection.start;
        }
      }
    }
    // Never split a surrogate pair between two windows.
    const code = window.charCodeAt(consumed - 1);
    if (consumed < window.length && code >= 0xd800 && code <= 0xdbff) consumed -= 1;
    return { text: this.text(window.slice(0, consumed), detectors, () => TEXT_PATH), consumed };
  }

  /** Copy-on-write map over an object's entries: the same object back when no entry changed. */
  mapObject(value: Json, map: (key: string, child: unknown) => unknown): Json {
    let copy: Json | undefined;
    for (const key in value) {
      const child = value[key];
      const mapped = map(key, child);
      if (mapped !== child) (copy ??= { ...value })[key] = mapped;
    }
    return copy ?? value;
  }

  mapArray(value: unknown[], map: (item: unknown, index: number) => unknown): unknown[] {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index += 1) {
      const item = value[index];
      const mapped = map(item, index);
      if (mapped !== item) (copy ??= value.slice())[index] = mapped;
    }
    return copy ?? value;
  }
}

function whereHolds(rule: CompiledRule, parent: unknown): boolean {
  if (!isObject(parent)) return false;
  return rule.where.every(([key, match]) => typeof parent[key] === 'string' && match(parent[key]));
}
