import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { MASK_NODE_FLAGS } from '../../cli/node-flags.mjs';
import { captureOutput } from '../support/cli.ts';
import { eventually } from '../support/local.ts';

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

  it('spools a JSON document to a private file until it is all masked, and leaves no spool behind', async () => {
    const temp = mkdtempSync(join(dir, 'tmp-'));
    vi.stubEnv('TMPDIR', temp);
    const list = { apiVersion: 'v1', kind: 'List', items: Array.from({ length: 3000 }, () => secret) };
    // A list that turns out not to be JSON past its first items: nothing of it is written.
    const broken = `${JSON.stringify(list).slice(0, -200)}, {"ssn": 123-45-6789}]}`;

    expect(await gatehouse(file('list.json', JSON.stringify(list)))).toBe(0);
    const written = stdout;
    stdout = '';
    expect(await gatehouse('--format', 'json', file('broken.json', broken))).toBe(2);
    vi.unstubAllEnvs();

    expect(JSON.parse(written).items).toHaveLength(3000);
    expect(stdout).toBe('');
    expect(readdirSync(temp)).toEqual([]);
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

describe('gatehouse mask, run as the installed command (cli/gatehouse.mjs)', () => {
  const entry = join(import.meta.dirname, '../../cli/gatehouse.mjs');
  const run = (args: string[], input: string) =>
    spawnSync(process.execPath, [entry, 'mask', ...args], { input, encoding: 'utf8', timeout: 60_000 });

  it('masks in a process started with the node flags of cli/node-flags.mjs', async () => {
    const cli = spawn(process.execPath, [entry, 'mask'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    // While it waits for stdin, the masking process is the entry's child: its command line has the flags. Between its
    // fork and its exec the child shows the entry's own command line, and an empty one while the exec swaps it; a
    // child started without the flags would show the entry's for good, and this wait would time out.
    const entryCommandLine = readFileSync(`/proc/${cli.pid}/cmdline`, 'utf8');
    const commandLine = await eventually(async () => {
      const children = readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(/\s+/);
      const childCommandLine = children[0] ? readFileSync(`/proc/${children[0]}/cmdline`, 'utf8') : '';
      const execed = childCommandLine.includes(entry) && childCommandLine !== entryCommandLine;
      return execed ? childCommandLine.split('\0') : undefined;
    });
    cli.stdin.end(JSON.stringify(secret));

    expect(await exited).toBe(0);
    expect(commandLine).toEqual(expect.arrayContaining([...MASK_NODE_FLAGS, entry, 'mask']));
  });

  it('passes stdin, stdout, stderr and the exit code through', () => {
    const masked = run([], JSON.stringify(secret));
    const refused = run(['--format', 'json'], '{"ssn": 123-45-6789');

    expect(masked.status).toBe(0);
    expect(JSON.parse(masked.stdout).data.password).toBe(Buffer.from('[MASKED:SECRET]').toString('base64'));
    expect(JSON.parse(masked.stderr.trim()).total).toBe(1);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^gatehouse: the input is not valid JSON/);
  });
});
