import { Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
// cdk-nag names an IAM5 finding by the resource flattened with this function; acknowledgements must repeat that name.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';
import { TABLE_ACTIONS } from './gatehouse-function.ts';

/** Where the relay writes exec/attach session recordings in the audit bucket (relay/session-proxy.ts). */
export const SESSIONS_PREFIX = 'sessions/';

/** The relay reads one grant at a time (consistent GetItem); it never writes the state table. */
export const RELAY_STATE_TABLE_ACTIONS = ['dynamodb:GetItem'] as const;

export interface RelayTaskRoleProps {
  /** Audit events: the relay appends one per request and per session. */
  readonly eventsTable: ITable;
  /** Grants: the relay checks a credential's grant is still active. */
  readonly stateTable: ITable;
  /** The audit archive: recordings go under `sessions/`. */
  readonly auditBucket: IBucket;
  /** The key of the tables and the audit bucket. */
  readonly dataKey: IKey;
  /** The asymmetric key relay credentials are signed with: the relay reads its public key to verify them. */
  readonly relayCredentialKey: IKey;
  /** ARN of the EKS cluster the relay fronts (DescribeCluster for its endpoint and CA). */
  readonly clusterArn: string;
}

/**
 * The relay task's role: exactly what the relay process calls, in one customer-managed policy (no inline policies). No
 * permission is needed to reach the cluster: the relay presents a presigned STS GetCallerIdentity URL signed with these
 * credentials, and the cluster authorises the role through its EKS access entry.
 */
export class RelayTaskRole extends Construct {
  /** The role as the task definition takes it: CDK grants added elsewhere go nowhere (`withoutPolicyUpdates`). */
  readonly role: IRole;
  /** The role's ARN, for the cluster's access entry. */
  readonly roleArn: string;
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: RelayTaskRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', {
        // Only ECS tasks of this account may assume it (confused deputy:
        // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html#create_task_iam_policy_and_role).
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'ecs', resource: '*' }) },
        },
      }),
      description:
        'Gatehouse relay task: audit events, grants, session recordings, relay credential key, cluster lookup',
    });
    this.roleArn = role.roleArn;

    const bucketArn = importedArnOf(this, props.auditBucket, props.auditBucket.bucketArn);
    const recordings = `${bucketArn}/${SESSIONS_PREFIX}*`;
    const viaService = (service: string) => ({
      StringEquals: { 'kms:ViaService': `${service}.${stack.region}.amazonaws.com` },
    });
    this.policy = new ManagedPolicy(this, 'Policy', {
      roles: [role],
      statements: [
        new PolicyStatement({
          sid: 'AppendAuditEvents',
          // As the functions that append audit events: read the chain head, put the next event with a condition, never
          // update or delete. On the table only: the relay queries no index.
          actions: [...TABLE_ACTIONS.append],
          resources: [props.eventsTable.tableArn],
        }),
        new PolicyStatement({
          sid: 'ReadGrants',
          actions: [...RELAY_STATE_TABLE_ACTIONS],
          resources: [props.stateTable.tableArn],
        }),
        // As bindTable grants a writer: decrypt what it reads, encrypt what it writes; only through DynamoDB.
        new PolicyStatement({
          sid: 'UseDataKeyThroughDynamoDb',
          actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [props.dataKey.keyArn],
          conditions: viaService('dynamodb'),
        }),
        new PolicyStatement({ sid: 'WriteSessionRecordings', actions: ['s3:PutObject'], resources: [recordings] }),
        // SSE-KMS on put (the bucket key included) needs GenerateDataKey only; only through S3.
        new PolicyStatement({
          sid: 'EncryptSessionRecordings',
          actions: ['kms:GenerateDataKey'],
          resources: [props.dataKey.keyArn],
          conditions: viaService('s3'),
        }),
        new PolicyStatement({
          sid: 'ReadRelayCredentialPublicKey',
          actions: ['kms:GetPublicKey'],
          resources: [props.relayCredentialKey.keyArn],
        }),
        new PolicyStatement({
          sid: 'DescribeCluster',
          actions: ['eks:DescribeCluster'],
          resources: [props.clusterArn],
        }),
      ],
    });
    Validations.of(this.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(recordings))}]`,
      reason: `Session recordings are named by day and session id (sessions/<day>/<session>.cast, relay/session-proxy.ts), so the relay may put objects under ${SESSIONS_PREFIX} only, never elsewhere in the bucket, and may not read, list or delete any; the bucket policy denies deletes and retention changes to everyone and Object Lock keeps each recording.`,
    });
    this.role = role.withoutPolicyUpdates();
  }
}

/**
 * `arn` of `resource` as this construct's stack references it: for a resource of another stack, the import of its
 * export, so that the ARN has a fixed name at construction (the export's) which acknowledgements can repeat.
 */
function importedArnOf(scope: Construct, resource: Construct, arn: string): string {
  const owner = Stack.of(resource);
  return owner === Stack.of(scope) ? arn : owner.exportValue(arn);
}
