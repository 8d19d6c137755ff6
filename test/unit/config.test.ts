import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../shared/adapters/fs/config-file.ts';
import { bundleConfig, unbundleConfig } from '../../shared/config/bundle.ts';
import { ConfigError, parseConfig } from '../../shared/config/parse.ts';

const VALID = `
version: 1
issuers:
  - name: github-actions
    issuer: https://token.actions.githubusercontent.com
    audience: gatehouse
    kind: github-actions
clusters:
  - name: staging
    region: us-east-1
    account: '111122223333'
    accessLevels:
      view: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
policies:
  files: [policies/access.cedar]
`;

function problemsOf(text: string) {
  try {
    parseConfig(text, 'gatehouse.config.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('parseConfig', () => {
  it('accepts a valid file and fills the defaults', () => {
    const config = parseConfig(VALID, 'gatehouse.config.yaml');
    expect(config.clusters[0]).toMatchObject({ slotPoolSize: 4, maxDurationSeconds: 3600 });
    expect(config.issuers[0]!.claims).toEqual({ subject: 'sub', groups: 'groups', email: 'email' });
    expect(config.retention.auditDays).toBe(2192);
    expect(config.admins).toEqual({ principals: [], groups: [] });
  });

  it('lists every problem with its path, line and column', () => {
    const text = VALID.replace("account: '111122223333'", 'account: 1234')
      .replace('issuer: https://token', 'issuer: http://token')
      .replace('    kind: github-actions', '    kind: github-actions\n    colour: blue');
    const problems = problemsOf(text);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'clusters[0].account', line: 12, column: 14 }),
        expect.objectContaining({ path: 'issuers[0].issuer', line: 5, message: expect.stringContaining('https') }),
        expect.objectContaining({ path: 'issuers[0]', message: 'unknown key: colour' }),
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('points a missing key at the object that lacks it', () => {
    const problems = problemsOf(VALID.replace('    region: us-east-1\n', ''));
    expect(problems).toEqual([expect.objectContaining({ path: 'clusters[0].region', line: 9 })]);
  });

  it('refuses YAML syntax errors with their position', () => {
    const problems = problemsOf('version: 1\nissuers: [\n');
    expect(problems[0]).toMatchObject({ line: expect.any(Number) });
  });

  it('refuses duplicate cluster and issuer names', () => {
    const text = VALID.replace(
      'policies:',
      `  - name: staging
    region: us-west-2
    account: '111122223333'
    accessLevels:
      view: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
policies:`,
    );
    expect(problemsOf(text)).toEqual([expect.objectContaining({ message: 'cluster name "staging" is used twice' })]);
  });

  it('says every problem in the error message, one per line', () => {
    const text = VALID.replace("account: '111122223333'", 'account: 1').replace('region: us-east-1', 'region: mars');
    expect(() => parseConfig(text, 'x.yaml')).toThrow(/x\.yaml: 2 problems\n {2}x\.yaml:\d+:\d+ clusters\[0\]\.region/);
  });
});

describe('loadConfigFile', () => {
  it('loads the example configuration and its policy files', () => {
    const loaded = loadConfigFile('gatehouse.config.yaml');
    expect(loaded.config.clusters.map((cluster) => cluster.name)).toEqual(['staging', 'prod']);
    expect(loaded.config.issuers.map((issuer) => issuer.kind)).toEqual(['github-actions', 'gitlab']);
    expect(loaded.policyFiles[0]!.text).toContain('permit');
    expect(loaded.versions.config).toMatch(/^[0-9a-f]{12}$/);
  });

  it('names a missing policy file with its place in the config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    const file = join(dir, 'gatehouse.config.yaml');
    writeFileSync(file, VALID.replace('policies/access.cedar', 'missing.cedar'));
    expect(() => loadConfigFile(file)).toThrow(ConfigError);
    expect(() => loadConfigFile(file)).toThrow(/policies\.files\[0\]: file not found/);
  });

  it('refuses a missing config file clearly', () => {
    expect(() => loadConfigFile('/nonexistent/gatehouse.config.yaml')).toThrow(/file not found/);
  });
});

describe('policy file paths', () => {
  it.each(['../outside.cedar', '/etc/policies.cedar', 'policies/../../x.cedar'])(
    'refuses %s, which would not be bundled beside the config',
    (name) => {
      const problems = problemsOf(VALID.replace('policies/access.cedar', name));
      expect(problems).toEqual([
        expect.objectContaining({ path: 'policies.files[0]', message: expect.stringContaining('inside') }),
      ]);
    },
  );
});

describe('the deployed configuration bundle', () => {
  it('round-trips the validated configuration, its policies and versions', () => {
    const loaded = loadConfigFile('gatehouse.config.yaml');
    const restored = unbundleConfig(bundleConfig(loaded), '/var/task/gatehouse.config.json');
    expect(restored).toEqual({ ...loaded, file: '/var/task/gatehouse.config.json' });
  });

  it('validates the configuration again, so an edited bundle cannot skip the schema', () => {
    const bundle = JSON.parse(bundleConfig(loadConfigFile('gatehouse.config.yaml'))) as {
      config: { clusters: { slotPoolSize: number }[] };
    };
    bundle.config.clusters[0]!.slotPoolSize = 0;
    expect(() => unbundleConfig(JSON.stringify(bundle), 'bundle.json')).toThrow(/clusters\[0\]\.slotPoolSize/);
  });

  it('refuses what is not a Gatehouse bundle', () => {
    expect(() => unbundleConfig('{"config":{}}', 'bundle.json')).toThrow(/gatehouse\.config-bundle\/v1/);
    expect(() => unbundleConfig('version: 1', 'bundle.json')).toThrow(/not valid JSON/);
  });
});

describe('approvers', () => {
  const withApprovers = (groups: string) =>
    VALID.replace(
      'policies:',
      `approvers:
  people:
    - id: alice
      email: alice@example.org
      slackUserId: U012ALICE
      githubLogin: alice
    - id: bob
      email: bob@example.org
  groups:
${groups}
policies:`,
    );

  it('accepts groups of known people with a quorum they can reach', () => {
    const config = parseConfig(
      withApprovers(
        '    - name: prod-approvers\n      members: [alice, bob]\n      quorum: 2\n      slackChannel: C0123ABCD',
      ),
      'gatehouse.config.yaml',
    );
    expect(config.approvers.groups[0]).toMatchObject({ quorum: 2, timeoutSeconds: 3600, email: false });
  });

  it('refuses unknown members and a quorum above the group size', () => {
    const problems = problemsOf(
      withApprovers('    - name: prod-approvers\n      members: [alice, carol]\n      quorum: 3'),
    );
    expect(problems.map((problem) => problem.message)).toEqual([
      '"carol" is not in approvers.people',
      "quorum 3 is more than the group's 2 member(s)",
    ]);
  });
});
