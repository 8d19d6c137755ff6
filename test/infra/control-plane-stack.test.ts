import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/app.ts';
import { EKS_GRANT_ACTIONS, FUNCTION_NAMES } from '../../infra/control-plane-stack.ts';
import { loadBundledConfig } from '../../shared/adapters/fs/bundled-config.ts';
import { buildTestApp, TEST_CONFIG, type TestApp } from './support.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized CloudFormation is untyped JSON
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DeletionPolicy?: string };
let app: TestApp;
let template: Template;
let resources: Record<string, Resource>;

beforeAll(() => {
  app = buildTestApp();
  template = Template.fromStack(app.controlPlane);
  resources = template.toJSON().Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  app.controlPlane.getLogicalId(construct.node.defaultChild as never);
const policyOf = (name: (typeof FUNCTION_NAMES)[number]) =>
  resources[logicalId(app.controlPlane.functions[name].policy)]!.Properties.PolicyDocument.Statement as Array<
    Record<string, Json>
  >;
const actionsOf = (statements: Array<Record<string, Json>>) => statements.flatMap((s) => [s.Action].flat());

describe('ControlPlaneStack functions', () => {
  it("gives get-access-request longer than its 20 s long poll, and less than API Gateway's 29 s", () => {
    const fn = resources[logicalId(app.controlPlane.functions['get-access-request'].function)]!;
    expect(fn.Properties.Timeout).toBeGreaterThan(20);
    expect(fn.Properties.Timeout).toBeLessThan(29);
  });

  it('pins runtime, architecture, tracing, memory, timeout and reserved concurrency on all eighteen handlers and the rotation function', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(FUNCTION_NAMES.length + 1);
    expect(FUNCTION_NAMES).toHaveLength(18);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        MemorySize: 512,
      });
      expect(fn.Properties.Timeout).toBeGreaterThanOrEqual(10);
      expect(fn.Properties.ReservedConcurrentExecutions).toBeGreaterThan(0);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    for (const name of FUNCTION_NAMES) {
      const fn = resources[logicalId(app.controlPlane.functions[name].function)]!;
      expect(fn.Properties, name).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        MemorySize: 512,
        Environment: {
          Variables: {
            GATEHOUSE_CONFIG: '/var/task/gatehouse.config.json',
            POWERTOOLS_SERVICE_NAME: 'gatehouse',
            POWERTOOLS_METRICS_NAMESPACE: 'Gatehouse',
            EVENTS_TABLE: expect.anything(),
            STATE_TABLE: expect.anything(),
            SLOT_ROLE_ARNS: expect.anything(),
          },
        },
      });
    }
  });

  it('gives only create-access-request the idempotency table and the right to start executions', () => {
    for (const name of FUNCTION_NAMES) {
      const variables =
        resources[logicalId(app.controlPlane.functions[name].function)]!.Properties.Environment.Variables;
      const only = name === 'create-access-request';
      expect('IDEMPOTENCY_TABLE' in variables, name).toBe(only);
      expect(JSON.stringify(policyOf(name)).includes('IdempotencyTable'), name).toBe(only);
      expect(actionsOf(policyOf(name)).includes('states:StartExecution'), name).toBe(only);
    }
  });

  it('lets only the two token-issuing functions sign with the relay credential key, and names it in their environment', () => {
    const relayKey = {
      'Fn::ImportValue': expect.stringMatching(/^GatehouseStateful:ExportsOutputFnGetAttRelayCredentialKey/),
    };
    const issuers = ['create-access-request', 'issue-token'];
    for (const name of FUNCTION_NAMES) {
      const variables =
        resources[logicalId(app.controlPlane.functions[name].function)]!.Properties.Environment.Variables;
      const signing = policyOf(name).filter((s) => JSON.stringify(s).includes('RelayCredentialKey'));
      if (issuers.includes(name)) {
        expect(variables.RELAY_CREDENTIAL_KEY_ARN, name).toEqual(relayKey);
        expect(signing, name).toEqual([
          { Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey'], Resource: relayKey },
        ]);
      } else {
        expect(variables.RELAY_CREDENTIAL_KEY_ARN, name).toBeUndefined();
        expect(signing, name).toEqual([]);
      }
    }
  });

  it('gives the state machine ARN to the function that starts executions, the two that answer task tokens and the heartbeat', () => {
    const machine = { Ref: logicalId(app.controlPlane.stateMachine) };
    const withArn = ['create-access-request', 'approval-slack', 'approval-link-decide', 'approval-heartbeat'];
    for (const name of FUNCTION_NAMES) {
      const variables =
        resources[logicalId(app.controlPlane.functions[name].function)]!.Properties.Environment.Variables;
      expect(variables.LIFECYCLE_STATE_MACHINE_ARN, name).toEqual(withArn.includes(name) ? machine : undefined);
    }
  });

  it('writes audit events append-only: no function may update or delete an event', () => {
    for (const name of FUNCTION_NAMES) {
      for (const statement of policyOf(name)) {
        if (!JSON.stringify(statement.Resource).includes('EventsTable')) continue;
        const actions = [statement.Action].flat();
        expect(actions, name).not.toContain('dynamodb:UpdateItem');
        expect(actions, name).not.toContain('dynamodb:DeleteItem');
        expect(actions, name).not.toContain('dynamodb:BatchWriteItem');
      }
    }
  });

  it('gives every function a KMS-encrypted log group with one-year retention, retained', () => {
    for (const name of FUNCTION_NAMES) {
      const group = resources[logicalId(app.controlPlane.functions[name].logGroup)]!;
      expect(group.Properties.RetentionInDays).toBe(365);
      expect(group.Properties.KmsKeyId).toEqual({ 'Fn::ImportValue': expect.stringContaining('GatehouseDataKey') });
      expect(group.DeletionPolicy).toBe('Retain');
    }
    for (const [, group] of ofType('AWS::Logs::LogGroup')) {
      expect(group.Properties.KmsKeyId).toBeDefined();
      expect(group.Properties.RetentionInDays).toBe(365);
    }
  });

  it('uses no inline IAM policies and no wildcard actions', () => {
    expect(ofType('AWS::IAM::Policy')).toEqual([]);
    for (const [, policy] of ofType('AWS::IAM::ManagedPolicy')) {
      for (const action of actionsOf(policy.Properties.PolicyDocument.Statement)) expect(action).not.toContain('*');
    }
  });
});

describe('ControlPlaneStack slot roles', () => {
  it('creates slotPoolSize roles per cluster with generated names and one-hour sessions', () => {
    const roles = Object.values(app.controlPlane.slotRoles);
    expect(app.controlPlane.slotRoles.staging).toHaveLength(2);
    expect(app.controlPlane.slotRoles.prod).toHaveLength(3);
    for (const role of roles.flat()) {
      const properties = resources[logicalId(role)]!.Properties;
      expect(properties.RoleName).toBeUndefined();
      expect(properties.MaxSessionDuration).toBe(3600);
      expect(properties.Policies).toBeUndefined();
      expect(properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('trusts only the token-minting functions\u2019 roles, and only with the grant-id session tag', () => {
    const mintingRoleIds = ['create-access-request', 'issue-token'].map((name) =>
      app.controlPlane.getLogicalId(
        app.controlPlane.functions[name as 'issue-token'].node.findChild('Role').node.defaultChild as never,
      ),
    );
    for (const role of Object.values(app.controlPlane.slotRoles).flat()) {
      expect(resources[logicalId(role)]!.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
          Principal: { AWS: mintingRoleIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) },
          Condition: { Null: { 'aws:RequestTag/gatehouse:grant-id': 'false' } },
        },
      ]);
    }
  });

  it('lets only the minting functions assume roles, and only the slot roles', () => {
    const slotRoleArns = Object.values(app.controlPlane.slotRoles)
      .flat()
      .map((role) => ({ 'Fn::GetAtt': [logicalId(role), 'Arn'] }));
    for (const name of FUNCTION_NAMES) {
      const assume = policyOf(name).filter((s) => [s.Action].flat().includes('sts:AssumeRole'));
      if (name === 'create-access-request' || name === 'issue-token') {
        expect(assume, name).toHaveLength(1);
        expect(assume[0]!.Resource).toEqual(slotRoleArns);
      } else {
        expect(assume, name).toEqual([]);
      }
    }
  });
});

describe('ControlPlaneStack EKS permissions', () => {
  const changers = ['create-access-request', 'revoke-grant', 'lifecycle-grant', 'lifecycle-revoke'] as const;
  const allowed = new Set([
    'arn:aws:eks:us-east-1:111122223333:cluster/acme-staging',
    'arn:aws:eks:us-east-1:111122223333:access-entry/acme-staging/*',
    'arn:aws:eks:eu-west-1:444455556666:cluster/prod',
    'arn:aws:eks:eu-west-1:444455556666:access-entry/prod/*',
  ]);

  it('scopes every EKS action to the configured clusters and their access entries', () => {
    for (const name of changers) {
      const eks = policyOf(name).filter((s) => actionsOf([s]).some((a: string) => a.startsWith('eks:')));
      expect(new Set(actionsOf(eks)), name).toEqual(new Set(EKS_GRANT_ACTIONS));
      for (const statement of eks) {
        for (const resource of [statement.Resource].flat())
          expect(allowed.has(resource), `${name}: ${resource}`).toBe(true);
      }
      expect(eks.map((s) => s.Resource).flat()).toEqual(expect.arrayContaining([...allowed]));
    }
  });

  it('limits access entry creation to slot roles and policy association to configured access policies', () => {
    const statements = policyOf('lifecycle-grant');
    const create = statements.find((s) => s.Action === 'eks:CreateAccessEntry' && s.Resource.endsWith('cluster/prod'));
    expect(create!.Condition.ArnEquals['eks:principalArn']).toEqual(
      app.controlPlane.slotRoles.prod!.map((role) => ({ 'Fn::GetAtt': [logicalId(role), 'Arn'] })),
    );
    const associate = statements.find((s) => s.Action === 'eks:AssociateAccessPolicy' && s.Resource.includes('/prod/'));
    expect(associate!.Condition.StringEquals['eks:policyArn']).toEqual(
      Object.values(TEST_CONFIG.clusters[1]!.accessLevels),
    );
  });

  it('gives no EKS permission to the functions that do not change access entries', () => {
    for (const name of ['get-access-request', 'issue-token', 'healthz'] as const) {
      expect(
        actionsOf(policyOf(name)).filter((a: string) => a.startsWith('eks:')),
        name,
      ).toEqual([]);
    }
  });
});

describe('ControlPlaneStack API', () => {
  it('routes the ten methods to their functions with Lambda proxy integration and no API Gateway authorizer', () => {
    const methods = ofType('AWS::ApiGateway::Method');
    expect(methods.map(([, m]) => m.Properties.HttpMethod).sort()).toEqual([
      'GET',
      'GET',
      'GET',
      'GET',
      'GET',
      'POST',
      'POST',
      'POST',
      'POST',
      'POST',
    ]);
    for (const [, method] of methods) {
      expect(method.Properties.AuthorizationType).toBe('NONE');
      expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
    }
    const paths = ofType('AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart);
    expect(paths.sort()).toEqual(
      [
        'access-requests',
        'approvals',
        'events',
        'evidence',
        'grants',
        'healthz',
        'revoke',
        'slack',
        'token',
        'v1',
        '{approvalId}',
        '{id}',
        '{id}',
      ].sort(),
    );
  });

  it('logs access as JSON to an encrypted log group, throttles, traces, and never logs request data', () => {
    const [[, stage]] = ofType('AWS::ApiGateway::Stage') as [[string, Resource]];
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    expect(stage.Properties.AccessLogSetting.DestinationArn).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ApiAccessLogs/), 'Arn'],
    });
    expect(stage.Properties.TracingEnabled).toBe(true);
    expect(stage.Properties.MethodSettings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ]),
    );
    template.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: Match.anyValue() });
  });

  it('puts a WAF web ACL with a per-IP rate limit in front of the stage and redacts the Authorization header in its logs', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: Match.arrayWith([Match.objectLike({ Statement: { RateBasedStatement: Match.anyValue() } })]),
    });
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: Match.arrayWith([{ SingleHeader: { Name: 'authorization' } }]),
    });
  });
});

describe('ControlPlaneStack lifecycle state machine', () => {
  it('is STANDARD, traced, logs ALL to an encrypted log group, with the function ARNs substituted', () => {
    const [[, machine]] = ofType('AWS::StepFunctions::StateMachine') as [[string, Resource]];
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.LoggingConfiguration.Level).toBe('ALL');
    const group = machine.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn;
    const groupId = group['Fn::GetAtt'][0] as string;
    expect(resources[groupId]!.Properties.KmsKeyId).toBeDefined();
    const arnOf = (name: (typeof FUNCTION_NAMES)[number]) => ({
      'Fn::GetAtt': [logicalId(app.controlPlane.functions[name].function), 'Arn'],
    });
    expect(machine.Properties.DefinitionSubstitutions).toEqual({
      GrantFunctionArn: arnOf('lifecycle-grant'),
      RevokeFunctionArn: arnOf('lifecycle-revoke'),
      NotifyFunctionArn: arnOf('approval-notify'),
      CloseApprovalFunctionArn: arnOf('approval-close'),
    });
  });

  it('uses every substitution the fixture ASL names, in the places the real ASL uses them', () => {
    const asl = JSON.parse(readFileSync(join(PROJECT_ROOT, 'test/infra/fixtures/access-lifecycle.asl.json'), 'utf8'));
    expect(asl.States.RequestApproval).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: '${NotifyFunctionArn}', Payload: { 'taskToken.$': '$$.Task.Token' } },
    });
    expect(asl.States.ExpireApproval.Resource).toBe('${CloseApprovalFunctionArn}');
    const [[, machine]] = ofType('AWS::StepFunctions::StateMachine') as [[string, Resource]];
    const used = [...JSON.stringify(asl).matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]);
    expect(new Set(used)).toEqual(new Set(Object.keys(machine.Properties.DefinitionSubstitutions)));
  });

  it('may invoke only the four task functions', () => {
    const policy = app.controlPlane.node.findChild('LifecyclePolicy') as never;
    const statements = resources[logicalId(policy)]!.Properties.PolicyDocument.Statement as Array<Record<string, Json>>;
    const invoke = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('lambda:')));
    expect(invoke).toHaveLength(1);
    expect(invoke[0]!.Resource).toEqual(
      ['lifecycle-grant', 'lifecycle-revoke', 'approval-notify', 'approval-close'].map((name) => ({
        'Fn::GetAtt': [logicalId(app.controlPlane.functions[name as 'lifecycle-grant'].function), 'Arn'],
      })),
    );
  });
});

describe('ControlPlaneStack alarms', () => {
  it('alarms on errors and throttles of every function, API 5XX and failed executions, to an encrypted SSL-only topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const metrics = alarms.map((a) => `${a.Namespace}/${a.MetricName}`);
    expect(metrics.filter((m) => m === 'AWS/Lambda/Errors')).toHaveLength(FUNCTION_NAMES.length + 1);
    expect(metrics.filter((m) => m === 'AWS/Lambda/Throttles')).toHaveLength(FUNCTION_NAMES.length);
    expect(metrics).toContain('AWS/ApiGateway/5XXError');
    expect(metrics).toContain('AWS/States/ExecutionsFailed');
    const topicId = logicalId(app.controlPlane.alarmTopic);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
    expect(resources[topicId]!.Properties.KmsMasterKeyId).toBeDefined();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('GatehouseFunction bundle', () => {
  it('is an ESM bundle with the require banner and the validated configuration bundle its runtime loads', () => {
    const code = resources[logicalId(app.controlPlane.functions['create-access-request'].function)]!.Properties.Code;
    const dir = join(app.app.outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
    expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toMatch(
      /^import \{ createRequire as __gatehouseCreateRequire \}/,
    );
    const loaded = loadBundledConfig(join(dir, 'gatehouse.config.json'));
    expect(loaded.config.clusters.map((cluster) => cluster.eksClusterName)).toContain('acme-staging');
    expect(loaded.policyFiles).toEqual([{ name: 'policies/access.cedar', text: expect.stringContaining('permit') }]);
    // The YAML parser stays out of Lambda: one of its error messages would be in the bundle if it were there.
    expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).not.toContain('Implicit keys need to be on a single line');
  });
});
