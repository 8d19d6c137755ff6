/**
 * `gatehouse eks-token --cluster NAME [--region R] [--role-arn ARN]`: an EKS token from the caller's own AWS
 * credentials, printed as an ExecCredential; a drop-in for `aws eks get-token` in a kubeconfig `exec` block.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Command } from 'commander';
import {
  EksTokenError,
  isExecCredentialApiVersion,
  presignEksToken,
  toExecCredential,
} from '../../shared/tokens/eks-token.ts';
import type { ExecCredentialApiVersion, SigningCredentials } from '../../shared/tokens/eks-token.ts';
import { CommandFailedError, UsageError } from '../errors.ts';

// Derived from the provider chain, so no undeclared @aws-sdk/types import is needed.
type AwsCredentialIdentityProvider = ReturnType<typeof fromNodeProviderChain>;
type AwsCredentialIdentity = Awaited<ReturnType<AwsCredentialIdentityProvider>>;

/** What the AWS CLI prints when kubectl does not say which ExecCredential version it reads. */
export const DEFAULT_EXEC_API_VERSION: ExecCredentialApiVersion = 'client.authentication.k8s.io/v1beta1';
const ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const ASSUMED_ROLE_SESSION_NAME = 'gatehouse-eks-token';

export interface EksTokenCommandDeps {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default writes to process.stdout */
  stdout?: (text: string) => void;
  /** @default the system clock */
  now?: () => Date;
  /** The caller's base credentials. @default fromNodeProviderChain() */
  credentials?: AwsCredentialIdentityProvider;
  /** The STS client used for --role-arn. @default a regional STSClient with the base credentials */
  stsClientFor?: (region: string, credentials: AwsCredentialIdentityProvider) => STSClient;
}

interface EksTokenOptions {
  cluster: string;
  region?: string;
  roleArn?: string;
}

/** Builds the `eks-token` command. */
export function eksTokenCommand(deps: EksTokenCommandDeps = {}): Command {
  return (
    new Command('eks-token')
      .description('print an EKS token from your own AWS credentials as an ExecCredential (like aws eks get-token)')
      .requiredOption('--cluster <name>', 'EKS cluster name')
      .option('--region <region>', 'AWS region of the cluster (default: AWS_REGION or AWS_DEFAULT_REGION)')
      .option('--role-arn <arn>', 'IAM role to assume before signing')
      // addCommand does not pass the program's exitOverride down; without it a usage error would call process.exit.
      .exitOverride()
      .action(async (options: EksTokenOptions) => {
        const env = deps.env ?? process.env;
        const write = deps.stdout ?? ((text: string) => void process.stdout.write(text));
        const region = options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
        if (region === undefined) {
          throw new UsageError('no AWS region: pass --region or set AWS_REGION');
        }
        if (options.roleArn !== undefined && !ROLE_ARN_PATTERN.test(options.roleArn)) {
          throw new UsageError('--role-arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
        }
        const apiVersion = execApiVersion(env.KUBERNETES_EXEC_INFO);

        const base = deps.credentials ?? fromNodeProviderChain();
        const credentials =
          options.roleArn === undefined
            ? await resolve(base)
            : await assumeRole(options.roleArn, region, base, deps.stsClientFor);

        try {
          const { token, expiresAt } = await presignEksToken({
            credentials,
            region,
            clusterName: options.cluster,
            now: (deps.now ?? (() => new Date()))(),
          });
          write(`${JSON.stringify(toExecCredential(token, expiresAt, apiVersion))}\n`);
        } catch (error) {
          if (error instanceof EksTokenError) throw new UsageError(error.message);
          throw error;
        }
      })
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** kubectl passes the ExecCredential version it reads in KUBERNETES_EXEC_INFO; unparsable info is ignored, as aws-iam-authenticator does. */
function execApiVersion(execInfo: string | undefined): ExecCredentialApiVersion {
  if (execInfo === undefined || execInfo.trim() === '') return DEFAULT_EXEC_API_VERSION;
  let parsed: unknown;
  try {
    parsed = JSON.parse(execInfo);
  } catch {
    return DEFAULT_EXEC_API_VERSION;
  }
  const apiVersion =
    typeof parsed === 'object' && parsed !== null ? (parsed as { apiVersion?: unknown }).apiVersion : undefined;
  if (apiVersion === undefined) return DEFAULT_EXEC_API_VERSION;
  if (!isExecCredentialApiVersion(apiVersion)) {
    throw new UsageError('KUBERNETES_EXEC_INFO asks for an ExecCredential apiVersion this command does not write');
  }
  return apiVersion;
}

async function resolve(provider: AwsCredentialIdentityProvider): Promise<SigningCredentials> {
  let identity: AwsCredentialIdentity;
  try {
    identity = await provider();
  } catch (error) {
    // The provider chain's messages name files and profiles, not secrets; keep the class name only regardless.
    throw new CommandFailedError(
      `no usable AWS credentials (${error instanceof Error ? error.name : 'unknown error'}); configure them as for the AWS CLI`,
    );
  }
  return signingCredentials(identity);
}

async function assumeRole(
  roleArn: string,
  region: string,
  base: AwsCredentialIdentityProvider,
  stsClientFor: EksTokenCommandDeps['stsClientFor'],
): Promise<SigningCredentials> {
  const client = stsClientFor?.(region, base) ?? new STSClient({ region, credentials: base });
  let response;
  try {
    response = await client.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: ASSUMED_ROLE_SESSION_NAME, DurationSeconds: 900 }),
    );
  } catch (error) {
    const code = error instanceof Error ? error.name : 'unknown error';
    throw new CommandFailedError(`could not assume ${roleArn}: ${code}`);
  }
  const c = response.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey) {
    throw new CommandFailedError(`AssumeRole on ${roleArn} returned no credentials`);
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    ...(c.Expiration ? { expiration: c.Expiration } : {}),
  };
}

function signingCredentials(identity: AwsCredentialIdentity): SigningCredentials {
  return {
    accessKeyId: identity.accessKeyId,
    secretAccessKey: identity.secretAccessKey,
    ...(identity.sessionToken ? { sessionToken: identity.sessionToken } : {}),
    ...(identity.expiration ? { expiration: identity.expiration } : {}),
  };
}
