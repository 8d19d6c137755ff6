/**
 * TokenMinter on AWS: assume the grant's slot role (session name, source identity and tags from the principal and the
 * grant id; 900 s, the shortest STS session) and presign an EKS token with the session's credentials.
 */
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import type { DirectGrant, ExecCredential, Principal } from '../../model.ts';
import type { Clock, TokenMinter } from '../../ports.ts';
import { EksTokenError, TokenMintError, presignEksToken, toExecCredential } from '../../tokens/eks-token.ts';
import type { EksClusterLookup } from '../../tokens/eks-token.ts';
import { isValidRoleSessionName, sessionIdentity, sessionTags } from '../../tokens/session-name.ts';

/** STS's minimum session length; the token lives 15 minutes at most anyway. */
export const SLOT_SESSION_SECONDS = 900;

export { TokenMintError };

export interface StsTokenMinterProps {
  /** Where each Gatehouse cluster lives in EKS. */
  clusters: EksClusterLookup;
  clock: Clock;
  /** Builds the STS client for a region. @default a regional `STSClient`, one per region */
  stsClientFor?: (region: string) => STSClient;
}

export class StsTokenMinter implements TokenMinter {
  private readonly clients = new Map<string, STSClient>();

  constructor(private readonly props: StsTokenMinterProps) {}

  async mint({ grant, principal }: { grant: DirectGrant; principal: Principal }): Promise<ExecCredential> {
    const location = this.props.clusters(grant.cluster);
    if (location === undefined) {
      throw new TokenMintError(`cluster ${JSON.stringify(grant.cluster)} of grant ${grant.id} is not configured`);
    }
    if (!isValidRoleSessionName(grant.sessionName)) {
      throw new TokenMintError(`grant ${grant.id} has a session name STS would refuse`);
    }

    const { sourceIdentity } = sessionIdentity(principal, grant.id);
    const tags = sessionTags({ principal, grantId: grant.id, cluster: grant.cluster });
    let assumed;
    try {
      assumed = await this.client(location.region).send(
        new AssumeRoleCommand({
          RoleArn: grant.slot.roleArn,
          RoleSessionName: grant.sessionName,
          SourceIdentity: sourceIdentity,
          Tags: tags.map(({ key, value }) => ({ Key: key, Value: value })),
          DurationSeconds: SLOT_SESSION_SECONDS,
        }),
      );
    } catch (error) {
      throw mintErrorFrom(error, grant);
    }

    const credentials = assumed.Credentials;
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) {
      throw new TokenMintError(`AssumeRole for grant ${grant.id} returned no credentials`);
    }
    try {
      const { token, expiresAt } = await presignEksToken({
        credentials: {
          accessKeyId: credentials.AccessKeyId,
          secretAccessKey: credentials.SecretAccessKey,
          sessionToken: credentials.SessionToken,
          ...(credentials.Expiration ? { expiration: credentials.Expiration } : {}),
        },
        region: location.region,
        clusterName: location.eksClusterName,
        now: this.props.clock.now(),
      });
      return toExecCredential(token, expiresAt);
    } catch (error) {
      if (error instanceof EksTokenError) {
        throw new TokenMintError(`could not sign a token for grant ${grant.id}: ${error.message}`);
      }
      throw error;
    }
  }

  private client(region: string): STSClient {
    let client = this.clients.get(region);
    if (client === undefined) {
      client = this.props.stsClientFor?.(region) ?? new STSClient({ region });
      this.clients.set(region, client);
    }
    return client;
  }
}

function mintErrorFrom(error: unknown, grant: DirectGrant): TokenMintError {
  if (error instanceof STSServiceException || (error instanceof Error && '$metadata' in error)) {
    const code = error.name;
    const exception = error as STSServiceException;
    const retryable = exception.$retryable !== undefined || exception.$fault === 'server' || /Throttl/.test(code);
    const requestId = exception.$metadata?.requestId;
    return new TokenMintError(
      `AssumeRole on the slot role of grant ${grant.id} failed: ${code}${requestId ? ` (request ${requestId})` : ''}`,
      { code, retryable },
    );
  }
  // Network and SDK client errors: their messages carry no credentials, but keep only the class name regardless.
  const kind = error instanceof Error ? error.name : 'unknown error';
  return new TokenMintError(`AssumeRole on the slot role of grant ${grant.id} failed: ${kind}`, { retryable: true });
}
