import { Aws, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { BackupPlan, BackupPlanRule, BackupResource, BackupVault } from 'aws-cdk-lib/aws-backup';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
  type CfnTable,
} from 'aws-cdk-lib/aws-dynamodb';
import { ServicePrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key, type CfnKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { PENDING_APPROVALS_INDEX } from '../shared/adapters/aws/tables.ts';

/** Stable logical ids of the stateful resources: changing one would replace a table or key, so a test pins them. */
export const STATEFUL_LOGICAL_IDS = {
  key: 'GatehouseDataKey',
  eventsTable: 'EventsTable',
  stateTable: 'StateTable',
  idempotencyTable: 'IdempotencyTable',
} as const;

/** The name of the events table's index by time, for audit queries over a time range. */
export const EVENTS_BY_TIME_INDEX = 'byTime';

/** The name of the state table's sparse index of pending approvals (the approval heartbeat queries it). */
export const STATE_PENDING_APPROVALS_INDEX = PENDING_APPROVALS_INDEX.name;

/**
 * Everything Gatehouse must not lose: the audit events, grant/request state, idempotency records, and the customer-managed
 * key encrypting them. Termination protection on; every resource RETAIN and deletion-protected; generated names.
 */
export class StatefulStack extends Stack {
  /** Customer-managed key (rotation on) for the tables, the backups, and the log groups and alarm topic of other stacks. */
  readonly key: Key;
  /** Audit events: pk `stream` (S), sk `seq` (N); GSI `byTime` (`day`, `timeId`); stream NEW_IMAGE for the archiver. */
  readonly eventsTable: Table;
  /**
   * Requests, grants, slot leases and approvals: pk `pk`, sk `sk`; TTL `ttl`; sparse GSI `pendingApprovals`
   * (`pendingShard`, `expiresAt`, keys only) holding the pending approvals.
   */
  readonly stateTable: Table;
  /** Powertools idempotency records: pk `id`; TTL `expiration`. */
  readonly idempotencyTable: Table;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { terminationProtection: true, ...props });

    this.key = new Key(this, 'DataKey', {
      description: 'Gatehouse: audit events, state, idempotency records, backups, logs and alarm notifications',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    (this.key.node.defaultChild as CfnKey).overrideLogicalId(STATEFUL_LOGICAL_IDS.key);
    // CloudWatch Logs encrypts log groups with this key only if its key policy allows the regional service principal,
    // limited to this account's log groups (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchLogsForThisAccountsLogGroups',
        principals: [new ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
          'kms:GenerateDataKey',
          'kms:DescribeKey',
        ],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
          },
        },
      }),
    );
    // CloudWatch alarms publish to the KMS-encrypted alarm topic only if they may use the key
    // (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublishToEncryptedTopics',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    };

    this.eventsTable = new Table(this, 'Events', {
      ...common,
      partitionKey: { name: 'stream', type: AttributeType.STRING },
      sortKey: { name: 'seq', type: AttributeType.NUMBER },
      stream: StreamViewType.NEW_IMAGE,
    });
    this.eventsTable.addGlobalSecondaryIndex({
      indexName: EVENTS_BY_TIME_INDEX,
      partitionKey: { name: 'day', type: AttributeType.STRING },
      sortKey: { name: 'timeId', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });

    this.stateTable = new Table(this, 'State', {
      ...common,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      timeToLiveAttribute: 'ttl',
    });
    // Added to a table that already exists: one new GSI is an in-place update (the table keeps its pinned logical id).
    this.stateTable.addGlobalSecondaryIndex({
      indexName: PENDING_APPROVALS_INDEX.name,
      partitionKey: { name: PENDING_APPROVALS_INDEX.partitionKey, type: AttributeType.STRING },
      sortKey: { name: PENDING_APPROVALS_INDEX.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    this.idempotencyTable = new Table(this, 'Idempotency', {
      ...common,
      partitionKey: { name: 'id', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
    });

    (this.eventsTable.node.defaultChild as CfnTable).overrideLogicalId(STATEFUL_LOGICAL_IDS.eventsTable);
    (this.stateTable.node.defaultChild as CfnTable).overrideLogicalId(STATEFUL_LOGICAL_IDS.stateTable);
    (this.idempotencyTable.node.defaultChild as CfnTable).overrideLogicalId(STATEFUL_LOGICAL_IDS.idempotencyTable);

    // PITR restores the last 35 days; AWS Backup keeps daily recovery points encrypted with the same key for longer.
    const vault = new BackupVault(this, 'BackupVault', {
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const plan = new BackupPlan(this, 'BackupPlan', { backupVault: vault });
    plan.addRule(BackupPlanRule.daily());
    plan.addRule(BackupPlanRule.monthly1Year());
    const selection = plan.addSelection('Tables', {
      resources: [this.eventsTable, this.stateTable, this.idempotencyTable].map((table) =>
        BackupResource.fromDynamoDbTable(table),
      ),
    });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        'The AWS Backup selection role uses the AWS-managed backup service policy, which AWS maintains as services add backup APIs; it grants backup operations only, to the AWS Backup service principal.',
    });
  }
}
