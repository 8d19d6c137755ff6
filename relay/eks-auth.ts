/**
 * The relay's own credential for EKS: a presigned STS GetCallerIdentity token of its task role (the token
 * aws-iam-authenticator verifies), made with shared/tokens/eks-token.ts and reused until a minute before it ends. The
 * cluster maps the task role to a Kubernetes identity allowed only to impersonate Gatehouse users and groups (operator
 * guide, "Relay").
 */
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { Clock } from '#shared/ports.ts';
import { presignEksToken, type SigningCredentials } from '#shared/tokens/eks-token.ts';
import type { UpstreamAuth } from './upstream.ts';

export function eksTaskRoleAuth(
  cluster: { region: string; eksClusterName: string },
  clock: Clock,
  credentials: () => Promise<SigningCredentials> = fromNodeProviderChain(),
): UpstreamAuth {
  let current: { header: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const refresh = async () => {
    const now = clock.now();
    const token = await presignEksToken({
      credentials: await credentials(),
      region: cluster.region,
      clusterName: cluster.eksClusterName,
      now,
    });
    current = { header: `Bearer ${token.token}`, refreshAt: token.expiresAt.getTime() - 60_000 };
    return current.header;
  };
  return {
    async authorization() {
      if (current && clock.now().getTime() < current.refreshAt) return current.header;
      pending ??= refresh().finally(() => (pending = undefined));
      return pending;
    },
  };
}
