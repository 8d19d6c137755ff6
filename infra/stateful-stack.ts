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
import { Effect, PolicyStatement, ServicePrincipal, StarPrincipal } from 'aws-cdk-lib/aws-iam';
import { Key, KeySpec, KeyUsage, type CfnKey } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
  ObjectOwnership,
  StorageClass,
  type CfnBucket,
  type CfnBucketPolicy,
} from 'aws-cdk-lib/aws-s3';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import { PENDING_APPROVALS_INDEX } from '../shared/adapters/aws/tables.ts';
import type { GatehouseConfig } from '../shared/config/schema.ts';

/** Stable logical ids of the stateful resources: changing one would replace a table or key, so a test pins them. */
export const STATEFUL_LOGICAL_IDS = {
  key: 'GatehouseDataKey',
  eventsTable: 'EventsTable',
  stateTable: 'StateTable',
  idempotencyTable: 'IdempotencyTable',
  auditBucket: 'AuditBucket',
  // A bucket policy replaced under a new logical id is put, then the old one deleted: the bucket would end with none.
  auditBucketPolicy: 'AuditBucketPolicy',
  auditAccessLogBucket: 'AuditAccessLogBucket',
  digestSigningKey: 'DigestSigningKey',
  relayCredentialKey: 'RelayCredentialKey',
} as const;

/**
 * What nobody may do to the audit bucket or its objects, whoever they are (bucket policy, `Principal: "*"`). Object Lock
 * COMPLIANCE already refuses deleting a locked version and shortening its retention, to root too; this also refuses the
 * delete markers, legal holds, governance bypass, lock configuration changes and bucket deletion that Object Lock allows.
 */
export const AUDIT_BUCKET_DENIED_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:PutBucketObjectLockConfiguration',
  's3:DeleteBucket',
] as const;

export interface StatefulStackProps extends StackProps {
  /** Object Lock retention and cold-storage age of the audit archive (`retention` in the configuration). */
  readonly retention: GatehouseConfig['retention'];
}

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
  /**
   * The audit archive (DESIGN.md section 2.5): `events/`, `manifests/`, `digests/` (archive-layout.ts), Object Lock
   * COMPLIANCE for `retention.auditDays`, SSE-KMS with `key`, deletes and retention changes denied to everyone.
   */
  readonly auditBucket: Bucket;
  /** Server access logs of the audit bucket (SSE-S3: log delivery cannot write SSE-KMS). */
  readonly auditAccessLogBucket: Bucket;
  /** Signs the hourly digests: asymmetric ECC_NIST_P256, SIGN_VERIFY (ECDSA_SHA_256). */
  readonly digestSigningKey: Key;
  /**
   * Signs relay credentials (shared/tokens/relay-credential.ts): asymmetric ECC_NIST_P256, SIGN_VERIFY (ES256). The
   * token-issuing functions sign with it; the relay reads only its public key.
   */
  readonly relayCredentialKey: Key;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, { terminationProtection: true, ...props });
    // Log delivery is granted by a bucket policy scoped to the audit bucket (aws:SourceArn, aws:SourceAccount), the way
    // AWS recommends, rather than the legacy log-delivery ACL (which needs ACLs enabled on the log bucket).
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

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

    this.auditAccessLogBucket = this.accessLogBucket(props.retention);
    this.auditBucket = this.archiveBucket(props.retention);
    this.digestSigningKey = this.signingKey();
    this.relayCredentialKey = this.relayKey();

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

  /**
   * The audit bucket. Operationally, the deny statement and COMPLIANCE mode mean:
   * - nobody, root included, can delete an archived object or shorten its retention before `auditDays` have passed;
   * - a longer `retention.auditDays` applies to objects written after the change (existing versions keep theirs), and
   *   changing it at all needs `s3:PutBucketObjectLockConfiguration`, which the statement denies: first remove that
   *   action from the statement in a reviewed change and deploy it, then change the retention, then put the action back;
   * - the bucket is never deleted with the stack (RETAIN, and `s3:DeleteBucket` denied).
   */
  private archiveBucket(retention: GatehouseConfig['retention']): Bucket {
    const bucket = new Bucket(this, 'Audit', {
      objectLockEnabled: true,
      objectLockDefaultRetention: ObjectLockRetention.compliance(Duration.days(retention.auditDays)),
      versioned: true,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket instead of a KMS call per object: archiving writes many small objects.
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      serverAccessLogsBucket: this.auditAccessLogBucket,
      serverAccessLogsPrefix: 'audit/',
      lifecycleRules: [
        {
          id: 'ColdStorage',
          transitions: [
            {
              storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(retention.coldStorageAfterDays),
            },
          ],
          noncurrentVersionTransitions: [
            {
              storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(retention.coldStorageAfterDays),
            },
          ],
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
    });
    bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyDeletesAndRetentionChanges',
        effect: Effect.DENY,
        principals: [new StarPrincipal()],
        actions: [...AUDIT_BUCKET_DENIED_ACTIONS],
        resources: [bucket.bucketArn, bucket.arnForObjects('*')],
      }),
    );
    (bucket.node.defaultChild as CfnBucket).overrideLogicalId(STATEFUL_LOGICAL_IDS.auditBucket);
    (bucket.policy!.node.defaultChild as CfnBucketPolicy).overrideLogicalId(STATEFUL_LOGICAL_IDS.auditBucketPolicy);
    acknowledgeSingleRegion(bucket);
    return bucket;
  }

  /** Where S3 delivers the audit bucket's server access logs. */
  private accessLogBucket(retention: GatehouseConfig['retention']): Bucket {
    const bucket = new Bucket(this, 'AuditAccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // ACLs off: log delivery writes through the bucket policy, and the bucket owns every log object.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'KeepAsLongAsTheArchive',
          transitions: [
            {
              storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(retention.coldStorageAfterDays),
            },
          ],
          expiration: Duration.days(retention.auditDays),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
    });
    (bucket.node.defaultChild as CfnBucket).overrideLogicalId(STATEFUL_LOGICAL_IDS.auditAccessLogBucket);
    const sseS3 =
      'S3 server access log delivery writes only to target buckets with SSE-S3 (AES256) default encryption; it does not support SSE-KMS (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html). The logs hold request metadata of the audit bucket, not event contents.';
    Validations.of(bucket).acknowledge({ id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: sseS3 });
    const noOwnLogs =
      'This bucket is the access-log target of the audit bucket; logging its own access would need a further log bucket, and so on without end. Changes to it are recorded by CloudTrail management events, and delivery alone writes to it.';
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: noOwnLogs });
    Validations.of(bucket).acknowledge({ id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: noOwnLogs });
    acknowledgeSingleRegion(bucket);
    return bucket;
  }

  /** The digest signing key; the verifier checks signatures against its public key, published under `digests/keys/`. */
  private signingKey(): Key {
    const key = new Key(this, 'DigestSigning', {
      description: 'Gatehouse: signs the hourly audit digests (ECDSA_SHA_256)',
      keySpec: KeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    (key.node.defaultChild as CfnKey).overrideLogicalId(STATEFUL_LOGICAL_IDS.digestSigningKey);
    return key;
  }

  /**
   * The relay credential key. Stateful because relays trust it by its `kid`: replacing it would make every relay refuse
   * every credential until the relays read the new public key. Asymmetric keys do not rotate automatically; a rotation
   * is a new key alongside the old one, trusted by the relays before the API signs with it.
   */
  private relayKey(): Key {
    const key = new Key(this, 'RelayCredential', {
      description: 'Gatehouse: signs the short-lived relay credentials of relay grants (ES256)',
      keySpec: KeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    (key.node.defaultChild as CfnKey).overrideLogicalId(STATEFUL_LOGICAL_IDS.relayCredentialKey);
    return key;
  }
}

/** Neither bucket is replicated to another region. */
function acknowledgeSingleRegion(bucket: Bucket): void {
  Validations.of(bucket).acknowledge({
    id: 'HIPAA.Security-S3BucketReplicationEnabled',
    reason:
      'Gatehouse deploys to one region and owns no bucket elsewhere; versioning and Object Lock COMPLIANCE guard against deletion, S3 stores objects across availability zones, and the events table (PITR and AWS Backup) is the source from which the archive can be rebuilt. Cross-region replication needs an Object Lock bucket in a second region, which an operator adds with its own retention.',
  });
}
