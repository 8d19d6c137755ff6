import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eksTokenCommand } from '../../cli/commands/eks-token.ts';
import { main } from '../../cli/main.ts';
import { decodeEksToken, verifyAsIamAuthenticator } from '../support/iam-authenticator-verifier.ts';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const ENV_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'ASIAENVCREDENTIAL001',
  AWS_SECRET_ACCESS_KEY: 'env/secret+access=key',
  AWS_SESSION_TOKEN: 'IQoJenv/session+token==',
};

beforeEach(() => {
  for (const [key, value] of Object.entries(ENV_CREDENTIALS)) vi.stubEnv(key, value);
  // Keep the provider chain off this machine's ~/.aws and profiles: the env provider must be what answers.
  vi.stubEnv('AWS_PROFILE', '');
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/gatehouse-test/config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/gatehouse-test/credentials');
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('AWS_DEFAULT_REGION', '');
  vi.stubEnv('KUBERNETES_EXEC_INFO', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

async function run(
  args: string[],
  now = NOW,
): Promise<Record<string, unknown> & { status: { token: string; expirationTimestamp: string } }> {
  let out = '';
  await eksTokenCommand({ stdout: (text) => (out += text), now: () => now }).parseAsync(args, { from: 'user' });
  expect(out.endsWith('\n')).toBe(true);
  return JSON.parse(out);
}

describe('gatehouse eks-token', () => {
  it('prints a v1beta1 ExecCredential whose token aws-iam-authenticator accepts, from env credentials', async () => {
    const credential = await run(['--cluster', 'prod-eu']);

    expect(credential).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: {},
      status: { expirationTimestamp: '2025-03-01T12:14:00Z' },
    });
    const check = verifyAsIamAuthenticator(credential.status.token, {
      clusterId: 'prod-eu',
      secretAccessKey: ENV_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
      accessKeyId: ENV_CREDENTIALS.AWS_ACCESS_KEY_ID,
      region: 'eu-west-1',
      now: NOW,
    });
    expect(check).toMatchObject({ ok: true, claims: { hasSessionToken: true } });
    expect(new URL(decodeEksToken(credential.status.token)).searchParams.get('X-Amz-Security-Token')).toBe(
      ENV_CREDENTIALS.AWS_SESSION_TOKEN,
    );
  });

  it('prefers --region over AWS_REGION, and falls back to AWS_DEFAULT_REGION', async () => {
    const flagged = await run(['--cluster', 'c', '--region', 'ap-southeast-2']);
    vi.stubEnv('AWS_REGION', '');
    vi.stubEnv('AWS_DEFAULT_REGION', 'ca-central-1');
    const defaulted = await run(['--cluster', 'c']);

    expect(new URL(decodeEksToken(flagged.status.token)).host).toBe('sts.ap-southeast-2.amazonaws.com');
    expect(new URL(decodeEksToken(defaulted.status.token)).host).toBe('sts.ca-central-1.amazonaws.com');
  });

  it('writes the apiVersion kubectl asks for in KUBERNETES_EXEC_INFO', async () => {
    vi.stubEnv(
      'KUBERNETES_EXEC_INFO',
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        spec: { interactive: false },
      }),
    );

    expect((await run(['--cluster', 'c'])).apiVersion).toBe('client.authentication.k8s.io/v1');
  });

  it('assumes --role-arn first and signs with the role session', async () => {
    const sts = mockClient(STSClient);
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAROLESESSION00001',
        SecretAccessKey: 'role/secret',
        SessionToken: 'role-token',
        Expiration: new Date(NOW.getTime() + 600_000),
      },
    });
    let out = '';

    await eksTokenCommand({ stdout: (text) => (out += text), now: () => NOW }).parseAsync(
      ['--cluster', 'prod-eu', '--role-arn', 'arn:aws:iam::111122223333:role/deployer'],
      { from: 'user' },
    );

    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toEqual({
      RoleArn: 'arn:aws:iam::111122223333:role/deployer',
      RoleSessionName: 'gatehouse-eks-token',
      DurationSeconds: 900,
    });
    const credential = JSON.parse(out);
    expect(credential.status.expirationTimestamp).toBe('2025-03-01T12:09:00Z');
    expect(
      verifyAsIamAuthenticator(credential.status.token, {
        clusterId: 'prod-eu',
        secretAccessKey: 'role/secret',
        accessKeyId: 'ASIAROLESESSION00001',
        now: NOW,
      }).ok,
    ).toBe(true);
    sts.restore();
  });

  it('is registered in the gatehouse program and prints to stdout with exit code 0', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });

    const code = await main(['node', 'gatehouse', 'eks-token', '--cluster', 'prod-eu']);

    vi.mocked(process.stdout.write).mockRestore();
    expect(code).toBe(0);
    const credential = JSON.parse(writes.join(''));
    expect(
      verifyAsIamAuthenticator(credential.status.token, {
        clusterId: 'prod-eu',
        secretAccessKey: ENV_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
        now: new Date(),
      }).ok,
    ).toBe(true);
  });

  it('exits 2 without a region', async () => {
    vi.stubEnv('AWS_REGION', '');
    const errors: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      errors.push(String(chunk));
      return true;
    });

    const code = await main(['node', 'gatehouse', 'eks-token', '--cluster', 'prod-eu']);

    expect(code).toBe(2);
    expect(errors.join('')).toContain('no AWS region');
  });

  it('exits 2 without --cluster, and for a malformed --role-arn', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);

    expect(await main(['node', 'gatehouse', 'eks-token'])).toBe(2);
    expect(await main(['node', 'gatehouse', 'eks-token', '--cluster', 'c', '--role-arn', 'not-an-arn'])).toBe(2);
  });

  it('fails with a CommandFailedError (exit 1) and no secret in the message when no credentials are found', async () => {
    const command = eksTokenCommand({
      stdout: () => undefined,
      credentials: async () => {
        throw new Error(`could not load ${ENV_CREDENTIALS.AWS_SECRET_ACCESS_KEY}`);
      },
    });
    const error = await command.parseAsync(['--cluster', 'c'], { from: 'user' }).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'CommandFailedError' });
    expect((error as Error).message).not.toContain(ENV_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
  });
});
