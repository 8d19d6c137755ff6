import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { GATEHOUSE_ENTRY } from '../../cli/commands/kubeconfig.ts';
import { main } from '../../cli/main.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const EXISTING = `# my clusters
apiVersion: v1
kind: Config
clusters:
  - name: kind-dev # keep me
    cluster:
      server: https://127.0.0.1:6443
  - name: gatehouse-local
    cluster:
      server: https://old.example.com
users:
  - name: kind-dev
    user:
      token: keep-this-one
contexts:
  - name: kind-dev
    context:
      cluster: kind-dev
      user: kind-dev
current-context: kind-dev
`;

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: { exec?: Record<string, unknown>; token?: string } }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  'current-context': string;
}

let dir: string;
let stderr: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-kubeconfig-'));
  writeFileSync(join(dir, 'ca.pem'), PEM);
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(...extra: string[]): Promise<number> {
  return main([
    'node',
    'gatehouse',
    'kubeconfig',
    '--api',
    'https://gatehouse.example.com',
    '--cluster',
    'local',
    '--server',
    'https://127.0.0.1:8443',
    '--certificate-authority',
    join(dir, 'ca.pem'),
    '--namespace',
    'demo',
    '--namespace',
    'jobs',
    '--access',
    'view',
    '--duration',
    '900',
    '--purpose',
    'deploy',
    '--kubeconfig',
    join(dir, 'config'),
    ...extra,
  ]);
}

describe('gatehouse kubeconfig', () => {
  it('writes an exec-plugin user, its cluster with the CA data, and a current context, in a 0600 file', async () => {
    expect(await kubeconfig('--oidc-token-file', 'token.jwt')).toBe(0);

    const file = join(dir, 'config');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const config = parse(readFileSync(file, 'utf8')) as Kubeconfig;
    expect(config.clusters).toEqual([
      {
        name: 'gatehouse-local',
        cluster: {
          server: 'https://127.0.0.1:8443',
          'certificate-authority-data': Buffer.from(PEM).toString('base64'),
        },
      },
    ]);
    expect(config.users[0]!.user.exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: process.execPath,
      args: [
        GATEHOUSE_ENTRY,
        'token',
        '--cluster',
        'local',
        '--namespace',
        'demo',
        '--namespace',
        'jobs',
        '--access',
        'view',
        '--duration',
        '900',
        '--purpose',
        'deploy',
        '--oidc-token-file',
        join(process.cwd(), 'token.jwt'),
      ],
      env: [{ name: 'GATEHOUSE_API', value: 'https://gatehouse.example.com' }],
      interactiveMode: 'Never',
      provideClusterInfo: false,
    });
    expect(config.contexts).toEqual([
      { name: 'gatehouse-local', context: { cluster: 'gatehouse-local', user: 'gatehouse-local', namespace: 'demo' } },
    ]);
    expect(config['current-context']).toBe('gatehouse-local');
    expect(GATEHOUSE_ENTRY).toMatch(/cli[/\\]gatehouse\.mjs$/);
  });

  it('merges into an existing kubeconfig: other entries and comments stay, a same-named entry is replaced', async () => {
    writeFileSync(join(dir, 'config'), EXISTING);

    expect(await kubeconfig('--no-set-current')).toBe(0);

    const text = readFileSync(join(dir, 'config'), 'utf8');
    expect(text).toContain('# my clusters');
    expect(text).toContain('# keep me');
    const config = parse(text) as Kubeconfig;
    expect(config.clusters.map((cluster) => cluster.name)).toEqual(['kind-dev', 'gatehouse-local']);
    expect(config.clusters[1]!.cluster.server).toBe('https://127.0.0.1:8443');
    expect(config.users.map((user) => user.name)).toEqual(['kind-dev', 'gatehouse-local']);
    expect(config.users[0]!.user.token).toBe('keep-this-one');
    expect(config.contexts.map((context) => context.name)).toEqual(['kind-dev', 'gatehouse-local']);
    expect(config['current-context']).toBe('kind-dev');
  });

  it.each([
    ['an http:// server', ['--server', 'http://127.0.0.1:8080']],
    ['a CA file that holds no certificate', ['--certificate-authority', join(tmpdir(), 'gatehouse-no-such-ca.pem')]],
    ['a plain-http API that is not loopback', ['--api', 'http://gatehouse.example.com']],
  ])('exits 2 on %s, writing nothing', async (_name, extra) => {
    expect(await kubeconfig(...extra)).toBe(2);
    expect(stderr).toMatch(/^gatehouse: /);
    expect(() => statSync(join(dir, 'config'))).toThrow();
  });

  it('with --via relay, points the cluster at the relay, verifies its TLS with the CA, and asks the plugin for relay credentials', async () => {
    expect(await kubeconfig('--server', 'https://relay.internal.example:443', '--via', 'relay')).toBe(0);

    const text = readFileSync(join(dir, 'config'), 'utf8');
    const config = parse(text) as Kubeconfig;
    expect(config.clusters[0]!.cluster).toEqual({
      server: 'https://relay.internal.example:443',
      'certificate-authority-data': Buffer.from(PEM).toString('base64'),
    });
    const args = config.users[0]!.user.exec!.args as string[];
    expect(args.slice(-2)).toEqual(['--via', 'relay']);
    expect(text).not.toContain('insecure-skip-tls-verify');
  });

  it('with --via relay and no --server, takes the relay URL from GATEHOUSE_RELAY_URL', async () => {
    vi.stubEnv('GATEHOUSE_RELAY_URL', 'https://relay.from-env.example');
    try {
      const args = ['node', 'gatehouse', 'kubeconfig', '--api', 'https://gatehouse.example.com', '--cluster', 'local'];
      args.push('--namespace', 'demo', '--access', 'view', '--duration', '900', '--purpose', 'agent', '--via', 'relay');
      expect(await main([...args, '--kubeconfig', join(dir, 'config')])).toBe(0);
    } finally {
      vi.unstubAllEnvs();
    }

    const text = readFileSync(join(dir, 'config'), 'utf8');
    expect((parse(text) as Kubeconfig).clusters[0]!.cluster).toEqual({ server: 'https://relay.from-env.example' });
    expect(text).not.toContain('insecure-skip-tls-verify');
  });

  it('never writes insecure-skip-tls-verify, with or without a CA, direct or via relay', async () => {
    for (const extra of [[], ['--via', 'relay']]) {
      expect(await kubeconfig(...extra)).toBe(0);
      expect(readFileSync(join(dir, 'config'), 'utf8')).not.toMatch(/insecure/);
    }
  });

  it.each([
    ['an http:// relay', ['--via', 'relay', '--server', 'http://relay.internal.example']],
    ['an unknown --via', ['--via', 'tunnel']],
  ])('exits 2 on %s, writing nothing', async (_name, extra) => {
    expect(await kubeconfig(...extra)).toBe(2);
    expect(() => statSync(join(dir, 'config'))).toThrow();
  });

  it('refuses a CA file that is not PEM', async () => {
    writeFileSync(join(dir, 'ca.pem'), 'not a certificate');

    expect(await kubeconfig()).toBe(2);
    expect(stderr).toContain('holds no PEM certificate');
  });
});
