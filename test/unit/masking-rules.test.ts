import { describe, expect, it } from 'vitest';
import { ConfigError, parseMaskingRules } from '../../shared/config/parse.ts';
import { GatehouseConfigSchema } from '../../shared/config/schema.ts';
import { CompiledRuleSet } from '../../shared/masking/matcher.ts';
import { parsePath, parsePattern } from '../../shared/masking/paths.ts';
import { DEFAULT_MASKING_RULES, MaskingConfigSchema, type MaskingRule } from '../../shared/masking/rules.ts';

function problemsOf(text: string): string[] {
  try {
    parseMaskingRules(text, 'rules.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.line}:${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('masking rules schema', () => {
  it('accepts a rules file with every selector and action, defaults appended', () => {
    const rules = parseMaskingRules(
      [
        'hashKey: { env: MASKING_KEY }',
        'rules:',
        '  - name: intake-env',
        '    kinds: [Deployment, Pod]',
        '    namespaces: [patient-*]',
        "    paths: ['spec.template.spec.containers[*].env[*].value']",
        "    where: { name: '/^PATIENT_/' }",
        '    action: hash',
        '  - name: mrn-column',
        '    columns: [MRN]',
        '    action: partial',
        '    keepLast: 4',
        '  - name: ssn-only',
        '    detectors: [ssn]',
        '    action: redact',
      ].join('\n'),
      'rules.yaml',
    );
    expect(rules.rules.map((rule) => rule.name)).toEqual(['intake-env', 'mrn-column', 'ssn-only']);
    expect(rules.defaults).toBe(true);
    expect(rules.detectors.enabled.length).toBeGreaterThan(0);
  });

  it('reads the masking section of a whole Gatehouse config', () => {
    const rules = parseMaskingRules('version: 1\nissuers: []\nmasking:\n  defaults: false\n', 'gatehouse.config.yaml');
    expect(rules.defaults).toBe(false);
  });

  it('names the line and path of every problem', () => {
    const problems = problemsOf(
      [
        'rules:',
        '  - name: Bad_Name',
        '    paths: [data]',
        '    action: redact',
        '  - name: no-key',
        '    paths: [spec]',
        '    action: hash',
        '  - name: half',
        '    paths: ["spec..x"]',
        '    action: partial',
        '  - name: nothing',
        '    action: redact',
        '  - name: bad-regex',
        "    paths: ['**./(unclosed/']",
        '    action: redact',
      ].join('\n'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^2:rules\[0\]\.name: lowercase/),
        expect.stringMatching(/^7:rules\[1\]\.action: hash needs masking\.hashKey/),
        expect.stringMatching(/^9:rules\[2\]\.paths\[0\]: empty segment/),
        expect.stringMatching(/rules\[2\]\.keepLast: partial needs keepLast/),
        expect.stringMatching(/rules\[3\]\.paths: a rule needs paths, columns or detectors/),
        expect.stringMatching(/^14:rules\[4\]\.paths\[0\]: not a valid regular expression/),
      ]),
    );
  });

  it('refuses unknown keys, duplicate names and a key written into the file', () => {
    const problems = problemsOf(
      ['hashKey: { value: s3cr3t }', 'rules:', '  - { name: a, paths: [x], action: redact, colour: red }'].join('\n'),
    );
    expect(problems.some((p) => p.includes('hashKey'))).toBe(true);
    expect(problems.some((p) => p.includes('rules[0]') && p.includes('colour'))).toBe(true);
    expect(problems.join('\n')).not.toContain('s3cr3t');
    expect(
      problemsOf('rules:\n  - { name: a, paths: [x], action: redact }\n  - { name: a, paths: [y], action: keep }'),
    ).toEqual(['3:rules[1].name: rule name "a" is used twice']);
  });

  it('is optional in the Gatehouse config, with the default rules', () => {
    expect(GatehouseConfigSchema.shape.masking.parse(undefined)).toMatchObject({ defaults: true, rules: [] });
  });

  it('ships default rules that validate', () => {
    expect(() => MaskingConfigSchema.parse({ rules: DEFAULT_MASKING_RULES, defaults: false })).not.toThrow();
  });
});

describe('path syntax', () => {
  const keyMatches = (path: string, key: string) => {
    const parsed = parsePath(path);
    const segment = parsed.value?.[0];
    return segment?.type === 'key' && segment.match(key);
  };

  it('parses keys, wildcards, elements, quoted keys and regular expressions', () => {
    expect(parsePath('spec.containers[*].env[*].value').value?.map((s) => s.type)).toEqual([
      'key',
      'key',
      'element',
      'key',
      'element',
      'key',
    ]);
    expect(parsePath("metadata.annotations['phi.acme.org/*']").value?.map((s) => s.type)).toEqual([
      'key',
      'key',
      'key',
    ]);
    expect(parsePath('**./^patient$/i./^name$/i').value?.map((s) => s.type)).toEqual(['deep', 'key', 'key']);
    expect(parsePath('data.*').value?.map((s) => s.type)).toEqual(['key', 'any']);
    expect(keyMatches("['phi.acme.org/*']", 'phi.acme.org/diagnosis')).toBe(true);
    expect(keyMatches("['phi.acme.org/*']", 'acme.org/diagnosis')).toBe(false);
    expect(keyMatches('/^PATIENT_/i', 'patient_name')).toBe(true);
    expect(keyMatches('*Name', 'patientName')).toBe(true);
  });

  it('refuses malformed paths with a reason', () => {
    expect(parsePath('').problem).toBeDefined();
    expect(parsePath('a.').problem).toMatch(/end with/);
    expect(parsePath('a[0]').problem).toMatch(/\[\*\]/);
    expect(parsePath("a['b").problem).toMatch(/unclosed/);
    expect(parsePath('a b').problem).toMatch(/expected/);
    expect(parsePattern('/x/g').problem).toMatch(/flags/);
  });
});

describe('compiled path matching', () => {
  const rule = (name: string, fields: Partial<MaskingRule>): MaskingRule =>
    ({ name, action: 'redact', ...fields }) as MaskingRule;
  const walk = (set: CompiledRuleSet, keys: Array<string | number>, kind = 'Pod', namespace = 'ns') => {
    let state = set.root(kind, namespace);
    for (const key of keys) state = typeof key === 'number' ? state.element() : state.child(key);
    return state.accepts.map((accepted) => accepted.name);
  };

  it('matches exact paths, elements, ** at any depth, and only in the kinds and namespaces named', () => {
    const set = new CompiledRuleSet([
      rule('env', { paths: ['spec.containers[*].env[*].value'] }),
      rule('names', { paths: ['**.patientName'] }),
      rule('secret', { kinds: ['Secret'], paths: ['data'] }),
      rule('billing', { namespaces: ['billing-*'], paths: ['spec.note'] }),
    ]);
    expect(walk(set, ['spec', 'containers', 0, 'env', 3, 'value'])).toEqual(['env']);
    expect(walk(set, ['spec', 'containers', 'env', 3, 'value'])).toEqual([]);
    expect(walk(set, ['patientName'])).toEqual(['names']);
    expect(walk(set, ['a', 0, 'b', 'patientName'])).toEqual(['names']);
    expect(walk(set, ['data'], 'Secret')).toEqual(['secret']);
    expect(walk(set, ['data'], 'ConfigMap')).toEqual([]);
    expect(walk(set, ['spec', 'note'], 'Pod', 'billing-east')).toEqual(['billing']);
    expect(walk(set, ['spec', 'note'], 'Pod', 'intake')).toEqual([]);
    expect(walk(set, ['spec', 'note'], 'Node', undefined as unknown as string)).toEqual([]);
  });

  it('reuses states: the same key from the same state is one transition', () => {
    const set = new CompiledRuleSet([rule('names', { paths: ['**.patientName'] })]);
    const root = set.root('Pod', 'ns');
    expect(root.child('spec')).toBe(root.child('spec'));
    expect(root.child('spec').child('x')).toBe(root.child('status'));
  });
});
