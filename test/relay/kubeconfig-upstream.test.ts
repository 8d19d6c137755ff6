import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KubeconfigError, upstreamFromKubeconfig } from '../../relay/kubeconfig-upstream.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: {
            server: 'https://10.0.0.1:6443',
            'certificate-authority-data': Buffer.from('CA PEM').toString('base64'),
            ...cluster,
          },
        },
      ],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return file;
}

describe('the local relay upstream from a kubeconfig', () => {
  it('takes the current context’s server, CA and bearer token', async () => {
    const upstream = upstreamFromKubeconfig(kubeconfig({ token: 'abc' }));
    expect(upstream.url).toBe('https://10.0.0.1:6443');
    expect(upstream.ca).toBe('CA PEM');
    expect(await upstream.auth.authorization()).toBe('Bearer abc');
  });

  it('takes a client certificate and key', async () => {
    const upstream = upstreamFromKubeconfig(
      kubeconfig({
        'client-certificate-data': Buffer.from('CERT').toString('base64'),
        'client-key-data': Buffer.from('KEY').toString('base64'),
      }),
    );
    expect(upstream.clientCertificate).toEqual({ cert: 'CERT', key: 'KEY' });
    expect(await upstream.auth.authorization()).toBeUndefined();
  });

  it('runs an exec plugin for its token, as kubectl does', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-plugin' },
    });
    const upstream = upstreamFromKubeconfig(
      kubeconfig({ exec: { command: 'node', args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`] } }),
    );
    expect(await upstream.auth.authorization()).toBe('Bearer from-plugin');
  });

  it('refuses a cluster whose TLS is not verified, and a user without a credential', () => {
    expect(() => upstreamFromKubeconfig(kubeconfig({ token: 'a' }, { 'insecure-skip-tls-verify': true }))).toThrow(
      KubeconfigError,
    );
    expect(() => upstreamFromKubeconfig(kubeconfig({}))).toThrow(/has no token, client certificate or exec plugin/);
    expect(() => upstreamFromKubeconfig(join(dir, 'missing'))).toThrow(/cannot be read/);
  });
});
