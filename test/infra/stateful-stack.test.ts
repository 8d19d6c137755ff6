import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_LOGICAL_IDS, STATE_PENDING_APPROVALS_INDEX } from '../../infra/stateful-stack.ts';
import { PENDING_APPROVALS_INDEX } from '../../shared/adapters/aws/tables.ts';
import { buildTestApp, type TestApp } from './support.ts';

let app: TestApp;
let template: Template;

beforeAll(() => {
  app = buildTestApp();
  template = Template.fromStack(app.stateful);
});

const tableIds = [
  STATEFUL_LOGICAL_IDS.eventsTable,
  STATEFUL_LOGICAL_IDS.stateTable,
  STATEFUL_LOGICAL_IDS.idempotencyTable,
];

describe('StatefulStack', () => {
  it('keeps the logical ids of the keys, the three tables, the audit buckets and the audit bucket policy (a change would replace them and lose data or the deny)', () => {
    expect(STATEFUL_LOGICAL_IDS).toEqual({
      key: 'GatehouseDataKey',
      eventsTable: 'EventsTable',
      stateTable: 'StateTable',
      idempotencyTable: 'IdempotencyTable',
      auditBucket: 'AuditBucket',
      auditBucketPolicy: 'AuditBucketPolicy',
      auditAccessLogBucket: 'AuditAccessLogBucket',
      digestSigningKey: 'DigestSigningKey',
      relayCredentialKey: 'RelayCredentialKey',
    });
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    expect(resources.GatehouseDataKey?.Type).toBe('AWS::KMS::Key');
    for (const id of tableIds) expect(resources[id]?.Type).toBe('AWS::DynamoDB::Table');
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::DynamoDB::Table')).toHaveLength(3);
    expect(resources.AuditBucket?.Type).toBe('AWS::S3::Bucket');
    expect(resources.AuditBucketPolicy?.Type).toBe('AWS::S3::BucketPolicy');
    expect(resources.AuditAccessLogBucket?.Type).toBe('AWS::S3::Bucket');
    expect(resources.DigestSigningKey?.Type).toBe('AWS::KMS::Key');
    expect(resources.RelayCredentialKey?.Type).toBe('AWS::KMS::Key');
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::S3::Bucket')).toHaveLength(2);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::KMS::Key')).toHaveLength(3);
  });

  it('has an asymmetric ECC_NIST_P256 SIGN_VERIFY relay credential key, retained, exposed to the other stacks', () => {
    const key = template.toJSON().Resources[STATEFUL_LOGICAL_IDS.relayCredentialKey];
    expect(key).toMatchObject({
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', PendingWindowInDays: 30 },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(key.Properties.EnableKeyRotation).toBeUndefined();
    expect(app.stateful.resolve(app.stateful.relayCredentialKey.keyArn)).toEqual({
      'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.relayCredentialKey, 'Arn'],
    });
  });

  it('has a customer-managed key with rotation, retained on delete', () => {
    expect(template.toJSON().Resources[STATEFUL_LOGICAL_IDS.key]).toMatchObject({
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('encrypts every table with the key, with PITR, deletion protection, on-demand billing and RETAIN', () => {
    for (const id of tableIds) {
      const table = template.toJSON().Resources[id];
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.key, 'Arn'] },
        },
      });
      expect(table.Properties.TableName).toBeUndefined();
    }
  });

  it('shapes the events table: stream/seq keys, byTime index with all attributes, NEW_IMAGE stream', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'stream', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'stream', AttributeType: 'S' },
        { AttributeName: 'seq', AttributeType: 'N' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byTime',
          KeySchema: [
            { AttributeName: 'day', KeyType: 'HASH' },
            { AttributeName: 'timeId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
  });

  it('shapes the state and idempotency tables with their TTL attributes', () => {
    const resources = template.toJSON().Resources;
    expect(resources.StateTable.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(resources.StateTable.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
    expect(resources.IdempotencyTable.Properties.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect(resources.IdempotencyTable.Properties.TimeToLiveSpecification).toEqual({
      AttributeName: 'expiration',
      Enabled: true,
    });
  });

  it('gives the state table the sparse pendingApprovals index (pendingShard, expiresAt), keys only, the heartbeat queries', () => {
    const state = template.toJSON().Resources[STATEFUL_LOGICAL_IDS.stateTable].Properties;
    expect(state.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'pendingApprovals',
        KeySchema: [
          { AttributeName: 'pendingShard', KeyType: 'HASH' },
          { AttributeName: 'expiresAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect(state.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'pendingShard', AttributeType: 'S' },
        { AttributeName: 'expiresAt', AttributeType: 'S' },
      ]),
    );
    expect(STATE_PENDING_APPROVALS_INDEX).toBe(PENDING_APPROVALS_INDEX.name);
  });

  it('backs the three tables up with AWS Backup into a vault encrypted with the key', () => {
    template.hasResourceProperties('AWS::Backup::BackupVault', {
      EncryptionKeyArn: { 'Fn::GetAtt': [STATEFUL_LOGICAL_IDS.key, 'Arn'] },
    });
    const selection = JSON.stringify(template.findResources('AWS::Backup::BackupSelection'));
    for (const id of tableIds) expect(selection).toContain(`"${id}"`);
  });

  it('lets CloudWatch Logs use the key only for this account\u2019s log groups', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowCloudWatchLogsForThisAccountsLogGroups',
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('is termination-protected', () => {
    expect(app.stateful.terminationProtection).toBe(true);
  });
});
