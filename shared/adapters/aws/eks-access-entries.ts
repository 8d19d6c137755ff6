/**
 * AccessEntries on EKS: one STANDARD access entry per slot role while a grant holds it, with the grant's access policy
 * scoped to its namespaces. Revocation deletes the entry, which cuts off every token of the grant at once.
 */
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  EKSClient,
} from '@aws-sdk/client-eks';
import type { AccessEntries } from '../../ports.ts';
import type { EksClusterLocation, EksClusterLookup } from '../../tokens/eks-token.ts';

/** The tag that names the grant an access entry was made for. */
export const GRANT_ID_TAG = 'gatehouse:grant-id';

/** An EKS access entry call failed. The message names the operation, cluster, role and AWS error code only. */
export class AccessEntryError extends Error {
  override name = 'AccessEntryError';
  /** The AWS error code, when AWS answered with one. */
  readonly code: string | undefined;
  /** True when trying again later may succeed (throttling, AWS-side faults, network). */
  readonly retryable: boolean;

  constructor(message: string, options: { code?: string; retryable?: boolean } = {}) {
    super(message);
    this.code = options.code;
    this.retryable = options.retryable ?? false;
  }
}

export interface EksAccessEntriesProps {
  /** Where each Gatehouse cluster lives in EKS. */
  clusters: EksClusterLookup;
  /** Builds the EKS client for a region. @default a regional `EKSClient`, one per region */
  eksClientFor?: (region: string) => EKSClient;
}

export class EksAccessEntries implements AccessEntries {
  private readonly clients = new Map<string, EKSClient>();

  constructor(private readonly props: EksAccessEntriesProps) {}

  /**
   * Creates the slot role's access entry. An entry that already exists with the same username (a retried grant) is
   * fine; one with another username is left over from another grant and is refused, so a grant never inherits it.
   */
  async create(input: { cluster: string; roleArn: string; username: string; grantId: string }): Promise<void> {
    const location = this.locate('CreateAccessEntry', input.cluster, input.roleArn);
    const client = this.client(location.region);
    try {
      await client.send(
        new CreateAccessEntryCommand({
          clusterName: location.eksClusterName,
          principalArn: input.roleArn,
          username: input.username,
          type: 'STANDARD',
          tags: { [GRANT_ID_TAG]: input.grantId },
        }),
      );
      return;
    } catch (error) {
      if (awsCode(error) !== 'ResourceInUseException') {
        throw entryError('CreateAccessEntry', input.cluster, input.roleArn, error);
      }
    }
    let existing;
    try {
      existing = await client.send(
        new DescribeAccessEntryCommand({ clusterName: location.eksClusterName, principalArn: input.roleArn }),
      );
    } catch (error) {
      throw entryError('DescribeAccessEntry', input.cluster, input.roleArn, error);
    }
    if (existing.accessEntry?.username !== input.username) {
      throw new AccessEntryError(
        `an access entry for ${input.roleArn} on cluster ${input.cluster} already exists for another session`,
        { code: 'ResourceInUseException' },
      );
    }
  }

  /** Associates the access policy with the entry, scoped to the namespaces (never cluster-wide). */
  async associatePolicy(input: {
    cluster: string;
    roleArn: string;
    policyArn: string;
    namespaces: string[];
  }): Promise<void> {
    const location = this.locate('AssociateAccessPolicy', input.cluster, input.roleArn);
    // An empty list would be refused by EKS anyway; saying so here keeps a cluster-wide scope impossible to reach.
    if (input.namespaces.length === 0) {
      throw new AccessEntryError(
        `refusing to associate ${input.policyArn} with no namespace on cluster ${input.cluster}`,
      );
    }
    try {
      await this.client(location.region).send(
        new AssociateAccessPolicyCommand({
          clusterName: location.eksClusterName,
          principalArn: input.roleArn,
          policyArn: input.policyArn,
          accessScope: { type: 'namespace', namespaces: [...input.namespaces] },
        }),
      );
    } catch (error) {
      throw entryError('AssociateAccessPolicy', input.cluster, input.roleArn, error);
    }
  }

  /** Deletes the entry (and with it every policy association); an entry already gone is fine. */
  async delete(input: { cluster: string; roleArn: string }): Promise<void> {
    const location = this.locate('DeleteAccessEntry', input.cluster, input.roleArn);
    try {
      await this.client(location.region).send(
        new DeleteAccessEntryCommand({ clusterName: location.eksClusterName, principalArn: input.roleArn }),
      );
    } catch (error) {
      if (awsCode(error) === 'ResourceNotFoundException') return;
      throw entryError('DeleteAccessEntry', input.cluster, input.roleArn, error);
    }
  }

  private locate(operation: string, cluster: string, roleArn: string): EksClusterLocation {
    const location = this.props.clusters(cluster);
    if (location === undefined) {
      throw new AccessEntryError(`${operation} for ${roleArn}: cluster ${JSON.stringify(cluster)} is not configured`);
    }
    return location;
  }

  private client(region: string): EKSClient {
    let client = this.clients.get(region);
    if (client === undefined) {
      client = this.props.eksClientFor?.(region) ?? new EKSClient({ region });
      this.clients.set(region, client);
    }
    return client;
  }
}

interface AwsErrorShape {
  name: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { requestId?: string };
}

function awsCode(error: unknown): string | undefined {
  return error instanceof Error && '$metadata' in error ? error.name : undefined;
}

function entryError(operation: string, cluster: string, roleArn: string, error: unknown): AccessEntryError {
  const code = awsCode(error);
  if (code === undefined) {
    // Network and SDK client errors: keep only the class name, never the raw message.
    const kind = error instanceof Error ? error.name : 'unknown error';
    return new AccessEntryError(`${operation} for ${roleArn} on cluster ${cluster} failed: ${kind}`, {
      retryable: true,
    });
  }
  const aws = error as AwsErrorShape;
  const requestId = aws.$metadata?.requestId;
  return new AccessEntryError(
    `${operation} for ${roleArn} on cluster ${cluster} failed: ${code}${requestId ? ` (request ${requestId})` : ''}`,
    { code, retryable: aws.$retryable !== undefined || aws.$fault === 'server' || /Throttl/.test(code) },
  );
}
