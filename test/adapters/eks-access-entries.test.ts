import {
  AccessDeniedException,
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  EKSClient,
  InvalidParameterException,
  ResourceInUseException,
  ResourceNotFoundException,
  ServerException,
} from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessEntryError, EksAccessEntries } from '../../shared/adapters/aws/eks-access-entries.ts';

const ROLE = 'arn:aws:iam::111122223333:role/gatehouse/prod-slot-3';
const USERNAME = 'gatehouse:gh-octo-org.octo-repo-01JN8ZQ6T5X7C2M4R9B0D3F6H8';
const GRANT_ID = '01JN8ZQ6T5X7C2M4R9B0D3F6H8';
const POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';

const eks = mockClient(EKSClient);
afterEach(() => eks.reset());

const regionsAsked: string[] = [];
function entries(): EksAccessEntries {
  return new EksAccessEntries({
    clusters: (name) => (name === 'prod' ? { region: 'eu-central-1', eksClusterName: 'eks-prod-a1' } : undefined),
    eksClientFor: (region) => {
      regionsAsked.push(region);
      return new EKSClient({ region, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    },
  });
}

const meta = { $metadata: { requestId: 'req-9' } };

describe('EksAccessEntries.create', () => {
  it('creates a STANDARD entry for the slot role with the username and grant tag, in the cluster region', async () => {
    eks.on(CreateAccessEntryCommand).resolves({});
    regionsAsked.length = 0;

    await entries().create({ cluster: 'prod', roleArn: ROLE, username: USERNAME, grantId: GRANT_ID });

    expect(eks.commandCalls(CreateAccessEntryCommand).map((c) => c.args[0].input)).toEqual([
      {
        clusterName: 'eks-prod-a1',
        principalArn: ROLE,
        username: USERNAME,
        type: 'STANDARD',
        tags: { 'gatehouse:grant-id': GRANT_ID },
      },
    ]);
    expect(regionsAsked).toEqual(['eu-central-1']);
  });

  it('treats an existing entry with the same username as done', async () => {
    eks.on(CreateAccessEntryCommand).rejects(new ResourceInUseException({ message: 'exists', ...meta }));
    eks.on(DescribeAccessEntryCommand).resolves({ accessEntry: { principalArn: ROLE, username: USERNAME } });

    await expect(
      entries().create({ cluster: 'prod', roleArn: ROLE, username: USERNAME, grantId: GRANT_ID }),
    ).resolves.toBeUndefined();
    expect(eks.commandCalls(DescribeAccessEntryCommand)[0]?.args[0].input).toEqual({
      clusterName: 'eks-prod-a1',
      principalArn: ROLE,
    });
  });

  it('refuses an existing entry left by another session', async () => {
    eks.on(CreateAccessEntryCommand).rejects(new ResourceInUseException({ message: 'exists', ...meta }));
    eks
      .on(DescribeAccessEntryCommand)
      .resolves({ accessEntry: { principalArn: ROLE, username: 'gatehouse:someone-else' } });

    await expect(
      entries().create({ cluster: 'prod', roleArn: ROLE, username: USERNAME, grantId: GRANT_ID }),
    ).rejects.toMatchObject({ name: 'AccessEntryError', code: 'ResourceInUseException' });
  });

  it('maps other failures to AccessEntryError with a safe message', async () => {
    eks
      .on(CreateAccessEntryCommand)
      .rejects(new InvalidParameterException({ message: 'The principal arn:... is invalid because of X', ...meta }));

    const error = await entries()
      .create({ cluster: 'prod', roleArn: ROLE, username: USERNAME, grantId: GRANT_ID })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AccessEntryError);
    expect((error as AccessEntryError).message).toBe(
      `CreateAccessEntry for ${ROLE} on cluster prod failed: InvalidParameterException (request req-9)`,
    );
    expect(error).toMatchObject({ code: 'InvalidParameterException', retryable: false });
  });

  it('refuses an unconfigured cluster without calling EKS', async () => {
    await expect(
      entries().create({ cluster: 'staging', roleArn: ROLE, username: USERNAME, grantId: GRANT_ID }),
    ).rejects.toBeInstanceOf(AccessEntryError);
    expect(eks.calls()).toHaveLength(0);
  });
});

describe('EksAccessEntries.associatePolicy', () => {
  it('associates the policy scoped to the namespaces', async () => {
    eks.on(AssociateAccessPolicyCommand).resolves({});

    await entries().associatePolicy({
      cluster: 'prod',
      roleArn: ROLE,
      policyArn: POLICY,
      namespaces: ['payments', 'jobs'],
    });

    expect(eks.commandCalls(AssociateAccessPolicyCommand).map((c) => c.args[0].input)).toEqual([
      {
        clusterName: 'eks-prod-a1',
        principalArn: ROLE,
        policyArn: POLICY,
        accessScope: { type: 'namespace', namespaces: ['payments', 'jobs'] },
      },
    ]);
  });

  it('never asks for a scope without namespaces', async () => {
    await expect(
      entries().associatePolicy({ cluster: 'prod', roleArn: ROLE, policyArn: POLICY, namespaces: [] }),
    ).rejects.toBeInstanceOf(AccessEntryError);
    expect(eks.calls()).toHaveLength(0);
  });

  it('maps a missing entry to AccessEntryError', async () => {
    eks.on(AssociateAccessPolicyCommand).rejects(new ResourceNotFoundException({ message: 'no entry', ...meta }));

    await expect(
      entries().associatePolicy({ cluster: 'prod', roleArn: ROLE, policyArn: POLICY, namespaces: ['payments'] }),
    ).rejects.toMatchObject({ name: 'AccessEntryError', code: 'ResourceNotFoundException' });
  });

  it('marks server faults retryable', async () => {
    eks.on(AssociateAccessPolicyCommand).rejects(new ServerException({ message: 'boom', ...meta }));

    await expect(
      entries().associatePolicy({ cluster: 'prod', roleArn: ROLE, policyArn: POLICY, namespaces: ['payments'] }),
    ).rejects.toMatchObject({ code: 'ServerException', retryable: true });
  });
});

describe('EksAccessEntries.delete', () => {
  it('deletes the slot role entry', async () => {
    eks.on(DeleteAccessEntryCommand).resolves({});

    await entries().delete({ cluster: 'prod', roleArn: ROLE });

    expect(eks.commandCalls(DeleteAccessEntryCommand).map((c) => c.args[0].input)).toEqual([
      { clusterName: 'eks-prod-a1', principalArn: ROLE },
    ]);
  });

  it('treats an entry already gone as done', async () => {
    eks.on(DeleteAccessEntryCommand).rejects(new ResourceNotFoundException({ message: 'gone', ...meta }));

    await expect(entries().delete({ cluster: 'prod', roleArn: ROLE })).resolves.toBeUndefined();
  });

  it('maps access denied to AccessEntryError', async () => {
    eks.on(DeleteAccessEntryCommand).rejects(new AccessDeniedException({ message: 'denied', ...meta }));

    await expect(entries().delete({ cluster: 'prod', roleArn: ROLE })).rejects.toMatchObject({
      name: 'AccessEntryError',
      code: 'AccessDeniedException',
      retryable: false,
    });
  });

  it('maps a network failure to a retryable AccessEntryError without its message', async () => {
    eks.on(DeleteAccessEntryCommand).rejects(new TypeError('connect ECONNREFUSED 10.0.0.1:443'));

    const error = await entries()
      .delete({ cluster: 'prod', roleArn: ROLE })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'AccessEntryError', retryable: true });
    expect((error as Error).message).not.toContain('ECONNREFUSED');
  });
});
