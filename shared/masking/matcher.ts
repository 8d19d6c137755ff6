/**
 * Masking rules compiled once into a matcher the masker steps through while it walks a value: each key moves a path
 * state (a lazily built DFA over every rule's path patterns, transitions cached), so no pattern is parsed or compiled per
 * value and a subtree no rule can reach costs one map lookup per key.
 */
import type { DetectorName, MaskAction } from './model.ts';
import { DETECTOR_NAMES } from './model.ts';
import { parsePath, parsePattern, type NameMatcher, type PathSegment } from './paths.ts';
import type { MaskingRule } from './rules.ts';

/** What a rule does: a mask action, or `keep` (leave the value alone, detectors included). */
export type RuleAction = MaskAction | { action: 'keep' };

export interface CompiledRule {
  /** Position in the rule set: the lower wins. */
  readonly index: number;
  readonly name: string;
  /** `rule:<name>`, as the masking record names it. */
  readonly by: string;
  readonly label: string;
  readonly action: RuleAction;
  /** Set for detector rules: the detectors the rule enables under its paths. */
  readonly detectors: ReadonlySet<DetectorName> | undefined;
  /** Sibling conditions on the object holding the matched field. */
  readonly where: ReadonlyArray<readonly [string, NameMatcher]>;
  readonly columns: readonly NameMatcher[] | undefined;
  appliesTo(kind: string | undefined, namespace: string | undefined): boolean;
}

/** Thrown when rules cannot be compiled; the message names the rule and field, never a value. */
export class MaskingRulesError extends Error {
  override name = 'MaskingRulesError';
}

/** The detectors enabled at a point of the walk, each with the rule (the first in order) whose action it takes. */
export class DetectorPolicy {
  readonly #merged = new Map<number, DetectorPolicy>();
  constructor(
    readonly byDetector: ReadonlyMap<DetectorName, CompiledRule>,
    readonly rules: readonly CompiledRule[],
  ) {}

  get isEmpty(): boolean {
    return this.byDetector.size === 0;
  }

  /** This policy plus a detector rule accepted deeper in the tree; earlier rules keep their detectors. */
  with(rule: CompiledRule): DetectorPolicy {
    if (this.rules.includes(rule)) return this;
    let merged = this.#merged.get(rule.index);
    if (!merged) {
      const rules = [...this.rules, rule].sort((a, b) => a.index - b.index);
      const byDetector = new Map<DetectorName, CompiledRule>();
      for (const each of rules)
        for (const detector of each.detectors!) if (!byDetector.has(detector)) byDetector.set(detector, each);
      merged = new DetectorPolicy(byDetector, rules);
      this.#merged.set(rule.index, merged);
    }
    return merged;
  }
}

const NO_DETECTORS = new DetectorPolicy(new Map(), []);
/** Positions pack (pattern, step); paths have at most 64 segments. */
const STEP_BITS = 7;
const STEP_MASK = (1 << STEP_BITS) - 1;
/** Keys seen under one state before its transitions stop being cached (Secret data and label keys are unbounded). */
const MAX_CACHED_KEYS = 512;
const ELEMENT = Symbol('element');

/** Where the walk is, as far as path rules can tell: the rules still able to match below, and those matched here. */
export class PathState {
  readonly #children = new Map<string, PathState>();
  #element: PathState | undefined;

  constructor(
    readonly automaton: PathAutomaton,
    readonly positions: readonly number[],
    /** Rules whose path ends exactly here, in rule order (their `where` is for the walker to check). */
    readonly accepts: readonly CompiledRule[],
  ) {}

  /** No rule can match at or below this state. */
  get isDead(): boolean {
    return this.positions.length === 0;
  }

  child(key: string): PathState {
    if (this.positions.length === 0) return this;
    let next = this.#children.get(key);
    if (!next) {
      next = this.automaton.step(this, key);
      if (this.#children.size < MAX_CACHED_KEYS) this.#children.set(key, next);
    }
    return next;
  }

  element(): PathState {
    if (this.positions.length === 0) return this;
    return (this.#element ??= this.automaton.step(this, ELEMENT));
  }
}

/** The DFA of every rule's paths, built lazily: a state per distinct set of (pattern, step) positions. */
export class PathAutomaton {
  readonly #patterns: Array<{ rule: CompiledRule; segments: PathSegment[] }> = [];
  readonly #states = new Map<string, PathState>();
  readonly dead: PathState;

  constructor() {
    this.dead = new PathState(this, [], []);
  }

  /** Adds a pattern and returns its start position. */
  add(rule: CompiledRule, segments: PathSegment[]): number {
    this.#patterns.push({ rule, segments });
    return (this.#patterns.length - 1) << STEP_BITS;
  }

  /** The state of a set of start positions (a root). */
  state(starts: readonly number[]): PathState {
    return this.#intern(this.#closure(starts));
  }

  step(state: PathState, key: string | typeof ELEMENT): PathState {
    const next: number[] = [];
    for (const position of state.positions) {
      const { segments } = this.#patterns[position >>> STEP_BITS]!;
      const segment = segments[position & STEP_MASK];
      if (!segment) continue;
      if (segment.type === 'deep') next.push(position);
      else if (segment.type === 'any') next.push(position + 1);
      else if (segment.type === 'element') {
        if (key === ELEMENT) next.push(position + 1);
      } else if (key !== ELEMENT && segment.match(key)) next.push(position + 1);
    }
    return this.#intern(this.#closure(next));
  }

  /** `**` also matches nothing: a position before it stands after it too. */
  #closure(positions: readonly number[]): number[] {
    const all = new Set<number>();
    const pending = [...positions];
    while (pending.length > 0) {
      const position = pending.pop()!;
      if (all.has(position)) continue;
      all.add(position);
      const segment = this.#patterns[position >>> STEP_BITS]!.segments[position & STEP_MASK];
      if (segment?.type === 'deep') pending.push(position + 1);
    }
    return [...all].sort((a, b) => a - b);
  }

  #intern(positions: number[]): PathState {
    if (positions.length === 0) return this.dead;
    const key = positions.join(',');
    let state = this.#states.get(key);
    if (!state) {
      const accepts = new Set<CompiledRule>();
      for (const position of positions) {
        const { rule, segments } = this.#patterns[position >>> STEP_BITS]!;
        if ((position & STEP_MASK) === segments.length) accepts.add(rule);
      }
      state = new PathState(
        this,
        positions,
        [...accepts].sort((a, b) => a.index - b.index),
      );
      this.#states.set(key, state);
    }
    return state;
  }
}

/** Rules compiled for the masker: roots per (kind, namespace), Table column rules, detector policies. */
export class CompiledRuleSet {
  readonly rules: readonly CompiledRule[];
  readonly noDetectors = NO_DETECTORS;
  readonly usesHash: boolean;
  readonly #automaton = new PathAutomaton();
  readonly #starts = new Map<CompiledRule, number[]>();
  readonly #roots = new Map<string, PathState>();

  constructor(rules: readonly MaskingRule[]) {
    this.rules = rules.map((rule, index) => compileRule(rule, index));
    this.usesHash = this.rules.some((rule) => rule.action.action === 'hash');
    rules.forEach((rule, index) => {
      const compiled = this.rules[index]!;
      if (!rule.paths && rule.columns) return; // A column-only rule never matches a field path.
      const paths = rule.paths ?? [];
      const starts = paths.length === 0 ? [this.#automaton.add(compiled, [])] : [];
      paths.forEach((path, pathIndex) => {
        const parsed = parsePath(path);
        if (parsed.problem !== undefined) {
          throw new MaskingRulesError(`rule ${rule.name}: paths[${pathIndex}]: ${parsed.problem}`);
        }
        starts.push(this.#automaton.add(compiled, parsed.value));
      });
      this.#starts.set(compiled, starts);
    });
  }

  /** The state no path rule can match from (Table cells, text). */
  get dead(): PathState {
    return this.#automaton.dead;
  }

  /** The path state at the root of an object of this kind in this namespace. */
  root(kind: string | undefined, namespace: string | undefined): PathState {
    const key = `${kind ?? ''}\u0000${namespace ?? ''}`;
    let root = this.#roots.get(key);
    if (!root) {
      const starts = this.rules
        .filter((rule) => rule.appliesTo(kind, namespace))
        .flatMap((rule) => this.#starts.get(rule) ?? []);
      root = this.#automaton.state(starts);
      if (this.#roots.size < 4096) this.#roots.set(key, root);
    }
    return root;
  }

  /** The value rule for a Table column, if any: the first applicable rule naming it. */
  columnRule(column: string, kind: string | undefined, namespace: string | undefined): CompiledRule | undefined {
    return this.rules.find((rule) => rule.columns?.some((match) => match(column)) && rule.appliesTo(kind, namespace));
  }
}

function compileRule(rule: MaskingRule, index: number): CompiledRule {
  const matchers = (field: string, patterns: readonly string[] | undefined) =>
    patterns?.map((text, patternIndex) => {
      const parsed = parsePattern(text);
      if (parsed.problem !== undefined) {
        throw new MaskingRulesError(`rule ${rule.name}: ${field}[${patternIndex}]: ${parsed.problem}`);
      }
      return parsed.value;
    });
  const kinds = matchers('kinds', rule.kinds);
  const namespaces = matchers('namespaces', rule.namespaces);
  const where = Object.entries(rule.where ?? {}).map(
    ([key, text]) => [key, matchers(`where.${key}`, [text])![0]!] as const,
  );
  const action: RuleAction =
    rule.action === 'partial' ? { action: 'partial', keepLast: rule.keepLast ?? 4 } : { action: rule.action };
  return {
    index,
    name: rule.name,
    by: `rule:${rule.name}`,
    label: rule.label ?? rule.name.toUpperCase().replace(/-/g, '_').slice(0, 32),
    action,
    detectors: rule.detectors ? new Set(rule.detectors === 'all' ? DETECTOR_NAMES : rule.detectors) : undefined,
    where,
    columns: matchers('columns', rule.columns),
    appliesTo: (kind, namespace) =>
      (!kinds || (kind !== undefined && kinds.some((match) => match(kind)))) &&
      (!namespaces || (namespace !== undefined && namespaces.some((match) => match(namespace)))),
  };
}
