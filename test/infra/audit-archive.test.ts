import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_DIGEST_SCHEDULE,
  AUDIT_RECONCILE_SCHEDULE,
  type FUNCTION_NAMES,
} from '../../infra/control-plane-stack.ts';
import { AUDIT_BUCKET_DENIED_ACTIONS, STATEFUL_LOGICAL_IDS } from '../../infra/stateful-stack.ts';
import { buildTestApp, TEST_CONFIG, type TestApp } from './support.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized CloudFormation is untyped JSON
type Json = any;
type Resource = {
  Type: string;
  Properties: Record<string, Json>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};
type Statement = Record<string, Json>;
type Name = (typeof FUNCTION_NAMES)[number];

let app: TestApp;
let stateful: Record<string, Resource>;
let resources: Record<string, Resource>;
/** The same app with a retention configured: the stateful stack must follow the configuration. */
let retained: Record<string, Resource>;

beforeAll(() => {
  app = buildTestApp();
  stateful = Template.fromStack(app.stateful).toJSON().Resources;
  resources = Template.fromStack(app.controlPlane).toJSON().Resources;
  const custom = buildTestApp({ ...TEST_CONFIG, retention: { auditDays: 3653, coldStorageAfterDays: 30 } });
  retained = Template.fromStack(custom.stateful).toJSON().Resources;
});

const idOf = (construct: { node: { defaultChild?: unknown } }) =>
  app.controlPlane.getLogicalId(construct.node.defaultChild as never);
const fnOf = (name: Name) => app.controlPlane.functions[name];
const statementsOf = (name: Name): Statement[] =>
  resources[idOf(fnOf(name).policy)]!.Properties.PolicyDocument.Statement;
const variablesOf = (name: Name): Record<string, Json> =>
  resources[idOf(fnOf(name).function)]!.Properties.Environment.Variables;
const fnArn = (name: Name) => ({ 'Fn::GetAtt': [idOf(fnOf(name).function), 'Arn'] });
const ofType = (all: Record<string, Resource>, type: string) => Object.values(all).filter((r) => r.Type === type);
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat() as string[]);
const withAction = (statements: Statement[], action: string) =>
  statements.filter((s) => [s.Action].flat().includes(action));
const imported = (logicalId: string, attribute = 'Arn') => ({
  'Fn::ImportValue': expect.stringMatching(
    new RegExp(`^GatehouseStateful:ExportsOutputFnGetAtt${logicalId}${attribute}`),
  ),
});
const bucketArn = () => imported(STATEFUL_LOGICAL_IDS.auditBucket);
const under = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });
const dataKeyArn = () => imported(STATEFUL_LOGICAL_IDS.key);
const viaService = (service: string) => ({
  StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
});

describe('audit bucket (stateful stack)', () => {
  const bucket = () => stateful[STATEFUL_LOGICAL_IDS.auditBucket]!;
  const denyStatement = () =>
    (stateful[STATEFUL_LOGICAL_IDS.auditBucketPolicy]!.Properties.PolicyDocument.Statement as Statement[]).find(
      (s) => s.Sid === 'DenyDeletesAndRetentionChanges',
    );
  const self = { 'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.auditBucket, 'Arn'] };

  it('enables Object Lock with default retention COMPLIANCE for 2,192 days, and versioning', () => {
    expect(bucket().Properties.ObjectLockEnabled).toBe(true);
    expect(bucket().Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2192 } },
    });
    expect(bucket().Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('encrypts with the customer-managed data key (SSE-KMS) and bucket keys', () => {
    expect(bucket().Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.key, 'Arn'] },
          },
        },
      ],
    });
  });

  it('blocks all public access and refuses requests without TLS', () => {
    expect(bucket().Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const statements: Statement[] =
      stateful[STATEFUL_LOGICAL_IDS.auditBucketPolicy]!.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('logs server access to the separate access-log bucket', () => {
    expect(bucket().Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: STATEFUL_LOGICAL_IDS.auditAccessLogBucket },
      LogFilePrefix: 'audit/',
    });
  });

  it('moves current and noncurrent versions to Glacier Instant Retrieval after 90 days, and expires nothing', () => {
    expect(bucket().Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'ColdStorage',
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
        NoncurrentVersionTransitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
      },
    ]);
  });

  it('takes the retention and the cold-storage age from the configuration', () => {
    const properties = retained[STATEFUL_LOGICAL_IDS.auditBucket]!.Properties;
    expect(properties.ObjectLockConfiguration.Rule.DefaultRetention).toEqual({ Mode: 'COMPLIANCE', Days: 3653 });
    expect(properties.LifecycleConfiguration.Rules[0].Transitions).toEqual([
      { StorageClass: 'GLACIER_IR', TransitionInDays: 30 },
    ]);
    expect(properties.LifecycleConfiguration.Rules[0].NoncurrentVersionTransitions).toEqual([
      { StorageClass: 'GLACIER_IR', TransitionInDays: 30 },
    ]);
  });

  it('denies deletes, retention and legal-hold changes, governance bypass, lock changes and bucket deletion to "*"', () => {
    expect(denyStatement()).toEqual({
      Sid: 'DenyDeletesAndRetentionChanges',
      Effect: 'Deny',
      Principal: '*',
      Action: [
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:PutObjectRetention',
        's3:PutObjectLegalHold',
        's3:BypassGovernanceRetention',
        's3:PutBucketObjectLockConfiguration',
        's3:DeleteBucket',
      ],
      Resource: [self, { 'Fn::Join': ['', [self, '/*']] }],
    });
    expect(denyStatement()!.Action).toEqual([...AUDIT_BUCKET_DENIED_ACTIONS]);
  });

  it('is retained with its objects (no auto-delete custom resource)', () => {
    expect(bucket().DeletionPolicy).toBe('Retain');
    expect(bucket().UpdateReplacePolicy).toBe('Retain');
    expect(bucket().Properties.BucketName).toBeUndefined();
    expect(ofType(stateful, 'Custom::S3AutoDeleteObjects')).toEqual([]);
    expect(JSON.stringify(stateful)).not.toContain('auto-delete');
  });
});

describe('audit access-log bucket (stateful stack)', () => {
  const logs = () => stateful[STATEFUL_LOGICAL_IDS.auditAccessLogBucket]!;
  const policy = () =>
    ofType(stateful, 'AWS::S3::BucketPolicy').find(
      (p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: STATEFUL_LOGICAL_IDS.auditAccessLogBucket }),
    )!.Properties.PolicyDocument.Statement as Statement[];

  it('uses SSE-S3 (log delivery cannot write SSE-KMS), versioning, all four public access blocks, and TLS only', () => {
    expect(logs().Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(logs().Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(logs().Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(policy()).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(logs().DeletionPolicy).toBe('Retain');
  });

  it('owns every log object (ACLs off) and lets log delivery write only for the audit bucket, in this account', () => {
    expect(logs().Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(logs().Properties.AccessControl).toBeUndefined();
    expect(policy()).toContainEqual({
      Effect: 'Allow',
      Principal: { Service: 'logging.s3.amazonaws.com' },
      Action: 's3:PutObject',
      Resource: {
        'Fn::Join': ['', [{ 'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.auditAccessLogBucket, 'Arn'] }, '/audit/*']],
      },
      Condition: {
        ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.auditBucket, 'Arn'] } },
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      },
    });
  });

  it('keeps logs as long as the archive, in Glacier Instant Retrieval after the cold-storage age', () => {
    expect(logs().Properties.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
        ExpirationInDays: 2192,
      }),
    ]);
  });
});

describe('digest signing key (stateful stack)', () => {
  it('is an asymmetric ECC_NIST_P256 SIGN_VERIFY key, retained', () => {
    const key = stateful[STATEFUL_LOGICAL_IDS.digestSigningKey]!;
    expect(key.Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    // Asymmetric keys cannot rotate automatically.
    expect(key.Properties.EnableKeyRotation).toBeUndefined();
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('audit functions: environment', () => {
  const common = [
    'GATEHOUSE_CONFIG',
    'POWERTOOLS_SERVICE_NAME',
    'POWERTOOLS_METRICS_NAMESPACE',
    'NODE_OPTIONS',
    'SLOT_ROLE_ARNS',
    'EVENTS_TABLE',
    'STATE_TABLE',
  ];
  const expected: Record<string, string[]> = {
    'audit-archive': ['AUDIT_BUCKET'],
    'audit-digest': ['AUDIT_BUCKET', 'DIGEST_SIGNING_KEY_ARN'],
    'audit-reconcile': ['AUDIT_BUCKET'],
    'list-events': [],
    'get-evidence': ['AUDIT_BUCKET'],
  };

  it.each(Object.entries(expected))('%s gets exactly the common variables and %j', (name, own) => {
    expect(Object.keys(variablesOf(name as Name)).sort()).toEqual([...common, ...own].sort());
  });

  it('names the bucket and the signing key', () => {
    expect(variablesOf('audit-archive').AUDIT_BUCKET).toEqual({
      'Fn::ImportValue': expect.stringMatching(/^GatehouseStateful:ExportsOutputRefAuditBucket/),
    });
    expect(variablesOf('audit-digest').DIGEST_SIGNING_KEY_ARN).toEqual(imported(STATEFUL_LOGICAL_IDS.digestSigningKey));
  });
});

describe('audit functions: least privilege', () => {
  /** Every S3 statement of a function, as action → resources. */
  const s3 = (name: Name) =>
    Object.fromEntries(
      statementsOf(name)
        .filter((s) => actions([s]).some((a) => a.startsWith('s3:')))
        .map((s) => [s.Action, [s.Resource].flat()]),
    );

  it('audit-archive: puts and reads objects only under events/ and manifests/', () => {
    expect(s3('audit-archive')).toEqual({
      's3:ListBucket': [bucketArn()],
      's3:GetObject': [under('events/'), under('manifests/')],
      's3:PutObject': [under('events/'), under('manifests/')],
    });
  });

  it('audit-digest: reads manifests/ and digests/, writes only digests/', () => {
    expect(s3('audit-digest')).toEqual({
      's3:ListBucket': [bucketArn()],
      's3:GetObject': [under('manifests/'), under('digests/')],
      's3:PutObject': [under('digests/')],
    });
  });

  it('audit-reconcile: reads events/, manifests/ and digests/, writes no object', () => {
    expect(s3('audit-reconcile')).toEqual({
      's3:ListBucket': [bucketArn()],
      's3:GetObject': [under('events/'), under('manifests/'), under('digests/')],
    });
  });

  it('get-evidence: reads digests/ and events/, writes no object; list-events touches no bucket', () => {
    expect(s3('get-evidence')).toEqual({
      's3:ListBucket': [bucketArn()],
      's3:GetObject': [under('digests/'), under('events/')],
    });
    expect(s3('list-events')).toEqual({});
  });

  it('gives no function a delete, retention, legal-hold or version permission on the bucket', () => {
    for (const name of Object.keys(app.controlPlane.functions) as Name[]) {
      const granted = actions(statementsOf(name)).filter((a) => a.startsWith('s3:'));
      expect(
        granted.filter((a) => !['s3:ListBucket', 's3:GetObject', 's3:PutObject'].includes(a)),
        name,
      ).toEqual([]);
    }
  });

  it('uses the data key for S3 only through S3: decrypt to read, generate data keys to write', () => {
    const viaS3 = (name: Name) => statementsOf(name).filter((s) => JSON.stringify(s.Condition ?? {}).includes('"s3."'));
    expect(viaS3('audit-archive')).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: dataKeyArn(),
        Condition: viaService('s3'),
      },
    ]);
    expect(viaS3('audit-reconcile')).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKeyArn(), Condition: viaService('s3') },
    ]);
  });

  it('signs only with the signing key, and only audit-digest may', () => {
    expect(withAction(statementsOf('audit-digest'), 'kms:Sign')).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Sign', 'kms:GetPublicKey'],
        Resource: imported(STATEFUL_LOGICAL_IDS.digestSigningKey),
      },
    ]);
    for (const name of Object.keys(app.controlPlane.functions) as Name[]) {
      if (name === 'audit-digest') continue;
      // The token issuers sign relay credentials with their own key (test/infra/control-plane-stack.test.ts).
      const signing = withAction(statementsOf(name), 'kms:Sign');
      expect(JSON.stringify(signing), name).not.toContain('DigestSigningKey');
      expect(JSON.stringify(statementsOf(name)), name).not.toContain('DigestSigningKey');
    }
  });

  it('list-events and get-evidence query the events table and its byTime index, and never update or delete', () => {
    for (const name of ['list-events', 'get-evidence'] as const) {
      const dynamodb = statementsOf(name).filter((s) => actions([s]).some((a) => a.startsWith('dynamodb:')));
      expect(dynamodb, name).toHaveLength(1);
      expect(dynamodb[0]!.Action, name).toContain('dynamodb:Query');
      expect(dynamodb[0]!.Action, name).not.toContain('dynamodb:UpdateItem');
      expect(dynamodb[0]!.Resource, name).toEqual([
        imported(STATEFUL_LOGICAL_IDS.eventsTable),
        { 'Fn::Join': ['', [imported(STATEFUL_LOGICAL_IDS.eventsTable), '/index/byTime']] },
      ]);
    }
  });

  it('audit-reconcile reads the events table and writes nothing to DynamoDB', () => {
    const dynamodb = actions(statementsOf('audit-reconcile')).filter((a) => a.startsWith('dynamodb:'));
    expect(dynamodb).toContain('dynamodb:Query');
    expect(dynamodb).not.toContain('dynamodb:PutItem');
  });

  it('audit-archive reads the events stream and sends to its dead-letter queue, and reads no table item', () => {
    const statements = statementsOf('audit-archive');
    expect(withAction(statements, 'dynamodb:GetRecords')).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        Resource: imported(STATEFUL_LOGICAL_IDS.eventsTable, 'StreamArn'),
      },
    ]);
    expect(withAction(statements, 'sqs:SendMessage')).toEqual([
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [idOf(app.controlPlane.auditArchiveDeadLetterQueue), 'Arn'] },
      },
    ]);
    expect(actions(statements)).not.toContain('dynamodb:GetItem');
    expect(actions(statements)).not.toContain('dynamodb:PutItem');
  });
});

describe('audit archiver: stream source and dead-letter queue', () => {
  const mapping = () => ofType(resources, 'AWS::Lambda::EventSourceMapping');
  const queue = () => resources[idOf(app.controlPlane.auditArchiveDeadLetterQueue)]!;

  it('reads the events table stream from the trim horizon, in order, with bisecting retries and partial failures', () => {
    expect(mapping()).toHaveLength(1);
    expect(mapping()[0]!.Properties).toEqual({
      EventSourceArn: imported(STATEFUL_LOGICAL_IDS.eventsTable, 'StreamArn'),
      FunctionName: { Ref: idOf(fnOf('audit-archive').function) },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ParallelizationFactor: 1,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf(app.controlPlane.auditArchiveDeadLetterQueue), 'Arn'] } },
      },
    });
  });

  it('gives the archiver a 60 s timeout and a concurrency reserve', () => {
    const fn = resources[idOf(fnOf('audit-archive').function)]!.Properties;
    expect(fn.Timeout).toBe(60);
    expect(fn.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(1);
  });

  it('keeps failed batches 14 days in a queue encrypted with the data key, TLS only', () => {
    expect(queue().Properties).toEqual({ KmsMasterKeyId: dataKeyArn(), MessageRetentionPeriod: 1209600 });
    const policies = ofType(resources, 'AWS::SQS::QueuePolicy').filter((p) =>
      JSON.stringify(p.Properties.Queues).includes(idOf(app.controlPlane.auditArchiveDeadLetterQueue)),
    );
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('audit schedules', () => {
  const ruleOf = (name: Name) => resources[idOf(app.controlPlane.schedules[name]!)]!.Properties;

  it.each([
    ['audit-digest', AUDIT_DIGEST_SCHEDULE, 'cron(10 * * * ? *)'],
    ['audit-reconcile', AUDIT_RECONCILE_SCHEDULE, 'cron(30 1 * * ? *)'],
  ] as const)('runs %s on %s', (name, schedule, expression) => {
    expect(schedule).toBe(expression);
    expect(ruleOf(name)).toMatchObject({ ScheduleExpression: expression, State: 'ENABLED' });
    expect(ruleOf(name).Targets).toEqual([
      expect.objectContaining({ Arn: fnArn(name), RetryPolicy: expect.objectContaining({ MaximumRetryAttempts: 2 }) }),
    ]);
    const permissions = ofType(resources, 'AWS::Lambda::Permission').filter(
      (p) =>
        p.Properties.Principal === 'events.amazonaws.com' &&
        JSON.stringify(p.Properties.FunctionName).includes(idOf(fnOf(name).function)),
    );
    expect(permissions.map((p) => p.Properties.SourceArn)).toEqual([
      { 'Fn::GetAtt': [idOf(app.controlPlane.schedules[name]!), 'Arn'] },
    ]);
  });

  it('schedules exactly the heartbeat, the digester and the reconciler', () => {
    expect(Object.keys(app.controlPlane.schedules).sort()).toEqual(
      ['approval-heartbeat', 'audit-digest', 'audit-reconcile'].sort(),
    );
    expect(ofType(resources, 'AWS::Events::Rule')).toHaveLength(3);
  });
});

describe('audit routes', () => {
  const routes = () =>
    app.controlPlane.api.methods.map((method) => ({
      route: `${method.httpMethod} ${method.resource.path}`,
      properties: resources[idOf(method)]!.Properties,
    }));

  it.each([
    ['GET /v1/events', 'list-events'],
    ['GET /v1/evidence', 'get-evidence'],
  ] as const)('%s invokes %s by Lambda proxy, validated like the other routes', (route, name) => {
    const found = routes().filter((r) => r.route === route);
    expect(found).toHaveLength(1);
    const { properties } = found[0]!;
    expect(properties.AuthorizationType).toBe('NONE');
    expect(properties.Integration.Type).toBe('AWS_PROXY');
    expect(JSON.stringify(properties.Integration.Uri)).toContain(idOf(fnOf(name).function));
    expect(properties.RequestValidatorId).toBeDefined();
  });
});

describe('audit alarms', () => {
  const alarms = () => ofType(resources, 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
  const topic = () => ({ Ref: idOf(app.controlPlane.alarmTopic) });
  const named = (metric: string, dimension?: Json) =>
    alarms().filter(
      (a) =>
        a.MetricName === metric &&
        (dimension === undefined || JSON.stringify(a.Dimensions).includes(JSON.stringify(dimension))),
    );

  it.each(['ArchiveGaps', 'AuditItemChanged'])('alarms on Gatehouse/%s \u2265 1 to the alarm topic', (metric) => {
    expect(named(metric)).toEqual([
      expect.objectContaining({
        Namespace: 'Gatehouse',
        Dimensions: [{ Name: 'service', Value: 'gatehouse' }],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topic()],
      }),
    ]);
  });

  it('alarms on any message visible in the archiver dead-letter queue', () => {
    expect(named('ApproximateNumberOfMessagesVisible')).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [idOf(app.controlPlane.auditArchiveDeadLetterQueue), 'QueueName'] },
          },
        ],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topic()],
      }),
    ]);
  });

  it('alarms when the archiver iterator age exceeds one hour', () => {
    expect(named('IteratorAge')).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: idOf(fnOf('audit-archive').function) } }],
        Statistic: 'Maximum',
        Threshold: 3_600_000,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [topic()],
      }),
    ]);
  });

  it.each(['audit-archive', 'audit-digest', 'audit-reconcile'] as const)('alarms on any error of %s', (name) => {
    expect(named('Errors', { Ref: idOf(fnOf(name).function) })).toEqual([
      expect.objectContaining({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topic()],
      }),
    ]);
  });

  it('alarms when the digester has not run for two hours, counting no data as a missed run', () => {
    expect(named('Invocations', { Ref: idOf(fnOf('audit-digest').function) })).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        Statistic: 'Sum',
        Period: 3600,
        EvaluationPeriods: 2,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        AlarmActions: [topic()],
      }),
    ]);
  });
});
