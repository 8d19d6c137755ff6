import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { configJsonSchema } from '../../shared/config/json-schema.ts';
import { captureOutput } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const GOOD_CONFIG = readFileSync(join(ROOT, 'gatehouse.config.yaml'), 'utf8');

let dir: string;
let stdout: string;
let stderr: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-config-'));
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

function gatehouse(...args: string[]): Promise<number> {
  return main(['node', 'gatehouse', ...args]);
}

/** The example configuration with its policies copied beside it, so each test can break one thing. */
function writeConfig(config: string, policies = readFileSync(join(ROOT, 'policies', 'access.cedar'), 'utf8')): string {
  const file = join(dir, 'gatehouse.config.yaml');
  writeFileSync(file, config);
  writeFileSync(join(dir, 'access.cedar'), policies);
  writeFileSync(join(dir, 'relay.cedar'), readFileSync(join(ROOT, 'policies', 'relay.cedar'), 'utf8'));
  return file;
}

describe('gatehouse config validate', () => {
  it('accepts the example configuration with a one-line summary and exit 0', async () => {
    const file = writeConfig(
      GOOD_CONFIG.replace('policies/access.cedar', 'access.cedar').replace('policies/relay.cedar', 'relay.cedar'),
    );

    const code = await gatehouse('config', 'validate', file);

    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stdout).toMatch(
      /^.*gatehouse\.config\.yaml: ok \(2 issuers, 2 clusters, \d+ policies in 2 files; config [0-9a-f]{12}, policies [0-9a-f]{12}\)\n$/,
    );
  });

  it('lists every problem of a bad file with its line and exits 2', async () => {
    const bad = GOOD_CONFIG.replace('policies/access.cedar', 'access.cedar')
      .replace('policies/relay.cedar', 'relay.cedar')
      .replace('    kind: gitlab\n', '    kind: gitlab\n    colour: blue\n')
      .replace('slotPoolSize: 4', 'slotPoolSize: many')
      .replace('auditDays: 2192', 'auditDays: -3');
    const file = writeConfig(bad);
    const lineOf = (text: string) => bad.split('\n').findIndex((line) => line.includes(text)) + 1;

    const code = await gatehouse('config', 'validate', file);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${file}: 3 problems`);
    // An unknown key is reported at the mapping that holds it.
    expect(stderr).toContain(`${file}:${lineOf('- name: gitlab')}:5 issuers[1]: unknown key: colour`);
    expect(stderr).toContain(`${file}:${lineOf('slotPoolSize: many')}:19 clusters[0].slotPoolSize:`);
    expect(stderr).toContain(`${file}:${lineOf('auditDays: -3')}:14 retention.auditDays:`);
  });

  it('refuses policies that do not validate against the schema, naming each with its file and line (exit 2)', async () => {
    const policies = [
      '@id("reads-a-missing-attribute")',
      'permit (principal, action == Gatehouse::Action::"RequestAccess", resource)',
      'when { principal.shoeSize == 42 };',
      '',
      '@id("compares-a-string-to-a-number")',
      'permit (principal, action == Gatehouse::Action::"RequestAccess", resource)',
      'when { context.access == 7 };',
      '',
    ].join('\n');
    const file = writeConfig(
      GOOD_CONFIG.replace('policies/access.cedar', 'access.cedar').replace('policies/relay.cedar', 'relay.cedar'),
      policies,
    );

    const code = await gatehouse('config', 'validate', file);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('Cedar policies refused (2 errors)');
    expect(stderr).toContain('access.cedar:3:8 [reads-a-missing-attribute]: attribute `shoeSize`');
    expect(stderr).toContain('access.cedar:7:8 [compares-a-string-to-a-number]:');
  });

  it('names a missing file and exits 2', async () => {
    const code = await gatehouse('config', 'validate', join(dir, 'nope.yaml'));

    expect(code).toBe(2);
    expect(stderr).toContain('file not found');
  });
});

describe('gatehouse config schema', () => {
  it('prints the JSON Schema generated from the zod schema', async () => {
    const code = await gatehouse('config', 'schema');

    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(configJsonSchema());
  });

  it('matches the committed config/gatehouse.schema.json byte for byte (run `npm run schema` after a schema change)', () => {
    const generated = execFileSync(process.execPath, [join(ROOT, 'cli', 'gatehouse.mjs'), 'config', 'schema'], {
      encoding: 'utf8',
    });

    expect(readFileSync(join(ROOT, 'config', 'gatehouse.schema.json'), 'utf8')).toBe(generated);
  });
});
