import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { captureOutput } from '../support/cli.ts';

let dir: string;
let stdout: string;
let stderr: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-mask-'));
  stdout = '';
  stderr = '';
  captureOutput(
    (text) => (stdout += text),
    (text) => (stderr += text),
  );
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function gatehouse(...args: string[]): Promise<number> {
  return main(['node', 'gatehouse', 'mask', ...args]);
}

const secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'intake' },
  data: { password: 'aHVudGVyMg==' },
};
const record = () => JSON.parse(stderr.trimEnd().split('\n').at(-1)!);

describe('gatehouse mask', () => {
  it('masks a JSON file to stdout in its indentation and writes the record to stderr', async () => {
    const code = await gatehouse(file('secret.json', `${JSON.stringify(secret, null, 4)}\n`));

    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(Buffer.from(out.data.password, 'base64').toString()).toBe('[MASKED:SECRET]');
    expect(stdout).toMatch(/^\{\n {4}"apiVersion": "v1",/);
    expect(stdout.endsWith('}\n')).toBe(true);
    expect(record()).toEqual({ entries: [{ path: '$.data.password', by: 'rule:secret-data', count: 1 }], total: 1 });
  });

  it('explains which rule masked each path', async () => {
    const code = await gatehouse('--explain', file('secret.json', JSON.stringify(secret)));

    expect(code).toBe(0);
    expect(stderr).toContain('masked 1 value at 1 path:\n  $.data.password  rule:secret-data\n');
  });

  it('detects a watch stream and masks it event by event', async () => {
    const events = [secret, secret].map((object) => JSON.stringify({ type: 'ADDED', object })).join('\n');
    const code = await gatehouse(file('watch.jsonl', `${events}\n`));

    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(record()).toEqual({
      entries: [{ path: '$.object.data.password', by: 'rule:secret-data', count: 2 }],
      total: 2,
    });
  });

  it('treats other input as text, and JSON lines that are no single document as text too', async () => {
    expect(await gatehouse(file('app.log', 'started\nok\n'))).toBe(0);
    expect(stdout).toBe('started\nok\n');
    stdout = '';
    expect(await gatehouse(file('app.jsonl', '{"a":1}\n{"b":2}\n'))).toBe(0);
    expect(stdout).toBe('{"a":1}\n{"b":2}\n');
  });

  it('applies a rules file and a hash key file', async () => {
    const rules = file(
      'rules.yaml',
      [
        'hashKey: { file: key.txt }',
        'rules:',
        '  - name: names',
        "    paths: ['metadata.name']",
        '    action: hash',
        '    label: NAME',
      ].join('\n'),
    );
    file('key.txt', `${'k'.repeat(32)}\n`);
    const code = await gatehouse('--rules', rules, '--format', 'json', file('secret.json', JSON.stringify(secret)));

    expect(code).toBe(0);
    expect(JSON.parse(stdout).metadata.name).toMatch(/^\[HASH:NAME:[0-9a-f]{16}\]$/);
  });

  it('exits 2 with one line for a bad rules file, an unreadable input, or bad JSON — quoting no value', async () => {
    const rules = file('rules.yaml', 'rules:\n  - name: x\n    action: redact\n');
    expect(await gatehouse('--rules', rules, file('a.json', '{}'))).toBe(2);
    expect(stderr).toMatch(
      /^gatehouse: bad rules file .*rules\.yaml: 2:\d+ rules\[0\]\.paths: a rule needs paths, columns or detectors\n$/,
    );

    stderr = '';
    expect(await gatehouse(join(dir, 'missing.json'))).toBe(2);
    expect(stderr).toMatch(/^gatehouse: cannot read .*missing\.json: file not found\n$/);

    stderr = '';
    expect(await gatehouse('--format', 'json', file('bad.json', '{"ssn": 123-45-6789'))).toBe(2);
    expect(stderr).toMatch(/^gatehouse: the input is not valid JSON/);
    expect(stderr).not.toContain('123-45');

    stderr = '';
    expect(await gatehouse('--format', 'watch', file('bad.jsonl', 'ssn 123-45-6789\n'))).toBe(2);
    expect(stderr).toBe('gatehouse: watch event 1: not JSON\n');

    stderr = '';
    const hashRules = file(
      'hash.yaml',
      'hashKey: { env: NO_SUCH_KEY_VAR }\nrules:\n  - { name: h, paths: [spec], action: hash }\n',
    );
    expect(await gatehouse('--rules', hashRules, file('b.json', '{}'))).toBe(2);
    expect(stderr).toBe('gatehouse: hash key: environment variable NO_SUCH_KEY_VAR is not set\n');
  });

  it('exits 2 on an unknown format', async () => {
    expect(await gatehouse('--format', 'xml', file('a.json', '{}'))).toBe(2);
  });
});
