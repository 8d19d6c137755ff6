import { describe, expect, it } from 'vitest';
import { createMasker, MaskingRulesError, type MaskerOptions } from '../../shared/masking/masker.ts';
import type { Detection, TextScanner } from '../../shared/masking/model.ts';
import type { MaskingConfigInput } from '../../shared/masking/rules.ts';

/** A scanner that knows two identifiers, so these tests exercise the masker and not the detectors. */
const scanner: TextScanner = {
  scan(text) {
    const found: Detection[] = [];
    for (const match of text.matchAll(/\b\d{3}-\d{2}-\d{4}\b|[\w.]+@[\w.]+\.[a-z]{2,}/g)) {
      found.push({
        detector: match[0].includes('@') ? 'email' : 'ssn',
        start: match.index,
        end: match.index + match[0].length,
      });
    }
    return found;
  },
};
const SSN = '123-45-6789';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');

function masker(rules: MaskingConfigInput = {}, options: Partial<MaskerOptions> = {}) {
  return createMasker(rules, { scanner, ...options });
}

const pod = (namespace = 'intake') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'intake-0', namespace, uid: '0b7e-11', annotations: { note: `patient ssn ${SSN}` } },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'registry/intake:1.2.3',
        env: [
          { name: 'PATIENT_SSN', value: 'anything' },
          { name: 'LOG_LEVEL', value: 'debug' },
        ],
      },
    ],
  },
});

describe('maskObject', () => {
  it('masks env values by name, detectors in strings, and records paths without values', () => {
    const input = pod();
    const { value, record } = masker().maskObject(input);
    const masked = value as ReturnType<typeof pod>;

    expect(masked.spec.containers[0]!.env[0]!.value).toBe('[MASKED:ENV]');
    expect(masked.spec.containers[0]!.env[1]!.value).toBe('debug');
    expect(masked.metadata.annotations.note).toBe('patient ssn [MASKED:SSN]');
    expect(record).toEqual({
      entries: [
        { path: '$.metadata.annotations.note', by: 'detector:ssn', count: 1 },
        { path: '$.spec.containers[0].env[0].value', by: 'rule:phi-env', count: 1 },
      ],
      total: 2,
    });
    expect(JSON.stringify(record)).not.toContain(SSN);
    // Copy-on-write: the input is untouched and untouched subtrees are shared.
    expect(input.metadata.annotations.note).toContain(SSN);
    expect(masked.spec.containers[0]!.env[1]).toBe(input.spec.containers[0]!.env[1]);
  });

  it('returns the very same object when nothing is masked, and is idempotent', () => {
    const clean = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' }, data: { mode: 'fast' } };
    expect(masker().maskObject(clean).value).toBe(clean);
    const once = masker().maskObject(pod()).value;
    const twice = masker().maskObject(once);
    expect(twice.value).toEqual(once);
    expect(twice.record.total).toBe(0);
  });

  it('applies partial and hash actions; hashes are stable per key and differ across keys', () => {
    const rules: MaskingConfigInput = {
      hashKey: { env: 'K' },
      rules: [
        { name: 'ssn-tail', detectors: ['ssn'], action: 'partial', keepLast: 4 },
        { name: 'mail-hash', detectors: ['email'], action: 'hash' },
      ],
    };
    const text = `ssn ${SSN} mail jane@example.org`;
    const first = masker(rules, { hashKey: 'k'.repeat(32) }).maskText(text).value;
    const again = masker(rules, { hashKey: 'k'.repeat(32) }).maskText(text).value;
    const otherKey = masker(rules, { hashKey: 'z'.repeat(32) }).maskText(text).value;

    expect(first).toMatch(/^ssn \[MASKED:SSN:…6789\] mail \[HASH:EMAIL:[0-9a-f]{16}\]$/);
    expect(again).toBe(first);
    expect(otherKey).not.toBe(first);
    expect(masker(rules, { hashKey: 'k'.repeat(32) }).maskText(first).value).toBe(first);
  });

  it('refuses hash rules without a key', () => {
    const rules: MaskingConfigInput = {
      hashKey: { env: 'K' },
      rules: [{ name: 'h', paths: ['spec'], action: 'hash' }],
    };
    expect(() => masker(rules)).toThrow(MaskingRulesError);
    expect(() => masker({ rules: [{ name: 'h', paths: ['spec'], action: 'hash' }] })).toThrow(/hashKey/);
  });

  it('keeps values a keep rule names, detectors included', () => {
    const input = { kind: 'Pod', apiVersion: 'v1', metadata: { uid: SSN, name: SSN } };
    const { value } = masker().maskObject(input);
    expect(value).toEqual({ kind: 'Pod', apiVersion: 'v1', metadata: { uid: SSN, name: '[MASKED:SSN]' } });
  });

  it('masks person names by field name, under a patient object and in a FHIR Patient', () => {
    const input = {
      kind: 'Claim',
      apiVersion: 'acme.org/v1',
      spec: {
        patientName: 'Jane Roe',
        patient: { name: 'Jane Roe', id: 'p-1' },
        subscriber: { firstName: 'John', last_name: 'Roe' },
        resource: { resourceType: 'Patient', name: [{ family: 'Roe', given: ['Jane'] }] },
        practitioner: { resourceType: 'Practitioner', name: 'Dr Who' },
      },
    };
    const spec = (masker().maskObject(input).value as typeof input).spec;
    expect(spec.patientName).toBe('[MASKED:NAME]');
    expect(spec.patient).toEqual({ name: '[MASKED:NAME]', id: 'p-1' });
    expect(spec.subscriber).toEqual({ firstName: '[MASKED:NAME]', last_name: '[MASKED:NAME]' });
    expect(spec.resource.name).toEqual([{ family: '[MASKED:NAME]', given: ['[MASKED:NAME]'] }]);
    expect(spec.practitioner.name).toBe('Dr Who');
  });

  it('masks annotations and labels with a key prefix', () => {
    const rules: MaskingConfigInput = {
      rules: [
        {
          name: 'phi-annotations',
          paths: ["metadata.annotations['phi.acme.org/*']", "metadata.labels['phi.acme.org/*']"],
          action: 'redact',
          label: 'PHI',
        },
      ],
    };
    const input = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        annotations: { 'phi.acme.org/dx': 'flu', 'acme.org/team': 'a' },
        labels: { 'phi.acme.org/ward': '3' },
      },
    };
    const { value, record } = masker(rules).maskObject(input);
    expect((value as typeof input).metadata).toEqual({
      annotations: { 'phi.acme.org/dx': '[MASKED:PHI]', 'acme.org/team': 'a' },
      labels: { 'phi.acme.org/ward': '[MASKED:PHI]' },
    });
    expect(record.entries.map((e) => e.path)).toEqual([
      "$.metadata.annotations['phi.acme.org/dx']",
      "$.metadata.labels['phi.acme.org/ward']",
    ]);
  });

  it('applies namespace rules only in their namespaces, and rules in order (the first wins)', () => {
    const rules: MaskingConfigInput = {
      rules: [
        {
          name: 'claims-images',
          namespaces: ['claims-*'],
          paths: ['spec.containers[*].image'],
          action: 'redact',
          label: 'IMAGE',
        },
        {
          name: 'env-tail',
          paths: ['**.env[*].value'],
          where: { name: 'PATIENT_SSN' },
          action: 'partial',
          keepLast: 2,
        },
      ],
    };
    const inClaims = masker(rules).maskObject(pod('claims-east')).value as ReturnType<typeof pod>;
    const inIntake = masker(rules).maskObject(pod('intake')).value as ReturnType<typeof pod>;
    expect(inClaims.spec.containers[0]!.image).toBe('[MASKED:IMAGE]');
    expect(inIntake.spec.containers[0]!.image).toBe('registry/intake:1.2.3');
    expect(inIntake.spec.containers[0]!.env[0]!.value).toBe('[MASKED:ENV_TAIL:…ng]');
    // With the context's namespace when the object has none.
    const bare = { ...pod(), metadata: { name: 'x' } };
    expect(
      (masker(rules).maskObject(bare, { namespace: 'claims-1' }).value as typeof bare).spec.containers[0]!.image,
    ).toBe('[MASKED:IMAGE]');
  });

  it('masks each item of a list by its own kind', () => {
    const list = {
      kind: 'List',
      apiVersion: 'v1',
      metadata: { resourceVersion: '42' },
      items: [
        { kind: 'Secret', apiVersion: 'v1', metadata: { name: 's' }, data: { token: b64('abc') } },
        { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c' }, data: { token: 'abc' } },
      ],
    };
    const { value, record } = masker().maskObject(list);
    const items = (value as typeof list).items;
    expect(unb64(items[0]!.data.token)).toBe('[MASKED:SECRET]');
    expect(items[1]!.data.token).toBe('abc');
    expect(record.entries).toEqual([{ path: '$.items[*].data.token', by: 'rule:secret-data', count: 1 }]);
  });

  it('takes the kind of list items without one from the list kind', () => {
    const list = { kind: 'SecretList', apiVersion: 'v1', items: [{ metadata: { name: 's' }, data: { a: b64('x') } }] };
    const items = (masker().maskObject(list).value as typeof list).items;
    expect(unb64(items[0]!.data.a)).toBe('[MASKED:SECRET]');
  });
});

describe('nested encodings', () => {
  const configMap = (data: Record<string, string>) => ({
    kind: 'ConfigMap',
    apiVersion: 'v1',
    metadata: { name: 'c' },
    data,
  });
  const maskData = (data: Record<string, string>, rules?: MaskingConfigInput) => {
    const result = masker(rules).maskObject(configMap(data));
    return { data: (result.value as ReturnType<typeof configMap>).data, record: result.record };
  };

  it('decodes JSON in a string, masks it by path and detectors, and writes it back in its indentation', () => {
    const json = JSON.stringify({ patient: { name: 'Jane', ssn: SSN }, ward: 3 }, null, 2);
    const { data, record } = maskData({ 'bundle.json': json });
    expect(JSON.parse(data['bundle.json']!)).toEqual({
      patient: { name: '[MASKED:NAME]', ssn: '[MASKED:SSN]' },
      ward: 3,
    });
    expect(data['bundle.json']).toContain('\n  "ward": 3');
    expect(record.entries.map((e) => e.path)).toEqual([
      "$.data['bundle.json'].patient.name",
      "$.data['bundle.json'].patient.ssn",
    ]);
  });

  it('decodes YAML in a ConfigMap and keeps its comments and unmasked lines', () => {
    const yaml = '# intake settings\nward: 3\npatient:\n  name: Jane Roe   # from HL7\n  contact: jane@example.org\n';
    const { data } = maskData({ 'app.yaml': yaml });
    expect(data['app.yaml']).toContain('# intake settings\nward: 3\n');
    expect(data['app.yaml']).toContain('# from HL7');
    expect(data['app.yaml']).not.toContain('Jane');
    expect(data['app.yaml']).not.toContain('jane@example.org');
    expect(data['app.yaml']).toMatch(/name: "?\[MASKED:NAME\]"?/);
  });

  it('decodes key=value lines and keeps their layout', () => {
    const env = '# patient defaults\nWARD=3\nPATIENT_NAME="Jane Roe"\nCONTACT = jane@example.org\n';
    const { data } = maskData({ '.env': env });
    expect(data['.env']).toBe('# patient defaults\nWARD=3\nPATIENT_NAME="[MASKED:NAME]"\nCONTACT = [MASKED:EMAIL]\n');
  });

  it('round-trips base64 Secret data: decoded, masked, encoded again', () => {
    const rules: MaskingConfigInput = {
      rules: [{ name: 'secret-ssn', kinds: ['Secret'], paths: ['data.password'], action: 'keep' }],
    };
    const secret = {
      kind: 'Secret',
      apiVersion: 'v1',
      data: {
        'app.env': b64(`PATIENT_NAME=Jane\nSSN=${SSN}\n`),
        binary: Buffer.from([0, 159, 146, 150]).toString('base64'),
        password: b64('hunter2'),
      },
    };
    const noSecretRule = {
      ...rules,
      rules: [
        ...rules.rules!,
        { name: 'secret-open', kinds: ['Secret'], paths: ['data.*'], where: { never: 'x' }, action: 'redact' as const },
      ],
    };
    // With the default secret rule every value is replaced by base64 of a token, binary included.
    const redacted = (masker(rules).maskObject(secret).value as typeof secret).data;
    expect(unb64(redacted['app.env'])).toBe('[MASKED:SECRET]');
    expect(unb64(redacted.binary)).toBe('[MASKED:SECRET]');
    expect(redacted.password).toBe(secret.data.password);
    // Without it (defaults off), values are decoded and masked inside.
    const inside = (
      masker({
        ...noSecretRule,
        defaults: false,
        rules: [
          ...noSecretRule.rules,
          { name: 'names', paths: ['**.PATIENT_NAME'], action: 'redact', label: 'NAME' },
          { name: 'all', detectors: 'all', action: 'redact' },
        ],
      }).maskObject(secret).value as typeof secret
    ).data;
    expect(unb64(inside['app.env'])).toBe('PATIENT_NAME=[MASKED:NAME]\nSSN=[MASKED:SSN]\n');
    expect(inside.binary).toBe(secret.data.binary);
  });

  it('masks an object embedded as JSON (last-applied-configuration) by its own kind', () => {
    const applied = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      stringData: { password: 'hunter2' },
    });
    const input = {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } },
    };
    const masked = masker().maskObject(input).value as typeof input;
    const inner = JSON.parse(masked.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
    expect(inner.stringData.password).toBe('[MASKED:SECRET]');
  });
});

describe('maskTable', () => {
  const table = {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    columnDefinitions: [{ name: 'Name' }, { name: 'Patient Name' }, { name: 'Note' }, { name: 'Age' }],
    rows: [
      {
        cells: ['claim-1', 'Jane Roe', `ssn ${SSN}`, 40],
        object: {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: { name: 'claim-1', annotations: { n: SSN } },
        },
      },
      { cells: ['claim-2', 'John Roe', 'ok', 41] },
    ],
  };

  it('masks cells by column name and detectors, and row objects as objects', () => {
    const { value, record } = masker().maskTable(table);
    const rows = (value as typeof table).rows;
    expect(rows[0]!.cells).toEqual(['claim-1', '[MASKED:NAME]', 'ssn [MASKED:SSN]', 40]);
    expect(rows[1]!.cells).toEqual(['claim-2', '[MASKED:NAME]', 'ok', 41]);
    expect(rows[0]!.object!.metadata.annotations.n).toBe('[MASKED:SSN]');
    expect(record.entries.map((e) => `${e.path} ${e.by} ${e.count}`)).toEqual([
      '$.rows[*].cells[1] rule:person-names 2',
      '$.rows[*].cells[2] detector:ssn 1',
      '$.rows[*].object.metadata.annotations.n detector:ssn 1',
    ]);
    expect(masker().maskObject(table).value).toEqual(value);
  });
});

describe('maskJsonText', () => {
  const podList = {
    apiVersion: 'v1',
    kind: 'PodList',
    metadata: { resourceVersion: '42', continue: `token ${SSN}` },
    items: [pod(), pod('billing'), { kind: 'Secret', apiVersion: 'v1', data: { token: b64('abc') } }],
  };
  // Split at any size, so these small lists take the item-by-item path.
  const maskText = (text: string) => {
    const pieces: string[] = [];
    const record = masker({}, { splitAboveBytes: 0 }).maskJsonText(text, (piece) => pieces.push(piece));
    return { output: pieces.join(''), record, pieces };
  };
  /** What maskObject gives, written as the CLI wrote it before lists were split. */
  const whole = (value: unknown, indent?: string, end = '') => {
    const { value: masked, record } = masker().maskObject(value);
    return { output: `${JSON.stringify(masked, null, indent)}${end}`, record };
  };

  it.each([
    ['compact', undefined, ''],
    ['two-space indented with a final newline', '  ', '\n'],
    ['tab indented', '\t', ''],
  ])('writes a %s list item by item, byte for byte as maskObject and JSON.stringify', (_, indent, end) => {
    const { output, record, pieces } = maskText(`${JSON.stringify(podList, null, indent)}${end}`);
    expect(output).toBe(whole(podList, indent, end).output);
    expect(record).toEqual(whole(podList).record);
    expect(pieces.length).toBeGreaterThan(podList.items.length);
  });

  it('masks the fields around the items wherever they are, and empty lists', () => {
    const itemsFirst = { items: podList.items, kind: 'PodList', apiVersion: 'v1', metadata: podList.metadata };
    expect(maskText(JSON.stringify(itemsFirst)).output).toBe(whole(itemsFirst).output);
    const empty = { ...podList, items: [] };
    expect(maskText(JSON.stringify(empty, null, 2)).output).toBe(whole(empty, '  ').output);
  });

  it('records each list item under $.items[*], counted', () => {
    const { record } = maskText(JSON.stringify(podList));
    expect(record.entries).toContainEqual({
      path: '$.items[*].spec.containers[0].env[0].value',
      by: 'rule:phi-env',
      count: 2,
    });
    expect(record.entries.every((entry) => !/\[\d+\]\./.test(entry.path.slice(0, 10)))).toBe(true);
  });

  it('writes Tables row by row and other documents whole, as maskObject does', () => {
    const table = {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      columnDefinitions: [{ name: 'Name' }, { name: 'Note' }],
      rows: [{ cells: ['a', `ssn ${SSN}`] }, { cells: ['b', 'ok'] }],
    };
    for (const value of [table, pod(), [pod()], { items: [pod()] }, { kind: 'PodList', items: [pod()], 1: 'x' }]) {
      expect(maskText(JSON.stringify(value, null, 2)).output).toBe(whole(value, '  ').output);
    }
  });

  it('parses a document under the split size whole, with the same output and record', () => {
    const text = JSON.stringify(podList, null, 2);
    const pieces: string[] = [];
    const record = masker().maskJsonText(text, (piece) => pieces.push(piece));
    expect(pieces).toEqual([whole(podList, '  ').output]);
    expect(record).toEqual(whole(podList).record);
  });

  it('masks the UTF-8 bytes of a response body item by item, multi-byte characters and all', () => {
    const names = {
      ...podList,
      metadata: { resourceVersion: '7', note: 'Zoë Ñúñez 病院 🏥' },
      items: [{ ...pod(), metadata: { name: 'pod-é', annotations: { 'note/ü': `ssn ${SSN} 患者 🧑‍⚕️` } } }],
    };
    const text = JSON.stringify(names, null, 2);
    const pieces: string[] = [];
    const record = masker({}, { splitAboveBytes: 0 }).maskJsonText(Buffer.from(text, 'utf8'), (piece) =>
      pieces.push(piece),
    );
    expect(pieces.join('')).toBe(whole(names, '  ').output);
    expect(pieces.join('')).toContain('患者 🧑‍⚕️');
    expect(record).toEqual(whole(names).record);
  });

  it('keeps the last of duplicate keys, as JSON.parse does', () => {
    const text = `{"kind":"PodList","items":[{"a":"${SSN}"}],"items":[]}`;
    expect(maskText(text).output).toBe(whole(JSON.parse(text)).output);
  });

  it('throws the whole text’s SyntaxError when an item is not JSON', () => {
    const text = `{"kind":"PodList","items":[{"a":1},{"b":tru}]}`;
    expect(() => maskText(text)).toThrow(SyntaxError);
    let message = '';
    try {
      JSON.parse(text);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(() => maskText(text)).toThrow(message);
  });
});
