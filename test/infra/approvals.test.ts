import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_HEARTBEAT_RATE, type FUNCTION_NAMES } from '../../infra/control-plane-stack.ts';
import { buildTestApp, TEST_CONFIG, type TestApp } from './support.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized CloudFormation is untyped JSON
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DeletionPolicy?: string };
type Statement = Record<string, Json>;
type Name = (typeof FUNCTION_NAMES)[number];

let app: TestApp;
let resources: Record<string, Resource>;
/** The same app on a configuration without email and with a public API URL. */
let noEmail: TestApp;
let noEmailResources: Record<string, Resource>;

beforeAll(() => {
  app = buildTestApp();
  resources = Template.fromStack(app.controlPlane).toJSON().Resources;
  noEmail = buildTestApp({
    ...TEST_CONFIG,
    notifications: { publicApiUrl: 'https://gatehouse.acme.example/' },
  });
  noEmailResources = Template.fromStack(noEmail.controlPlane).toJSON().Resources;
});

const idOf = (target: TestApp, construct: { node: { defaultChild?: unknown } }) =>
  target.controlPlane.getLogicalId(construct.node.defaultChild as never);
const statementsOf = (name: Name, target = app, all = resources): Statement[] =>
  all[idOf(target, target.controlPlane.functions[name].policy)]!.Properties.PolicyDocument.Statement;
const variablesOf = (name: Name, target = app, all = resources): Record<string, Json> =>
  all[idOf(target, target.controlPlane.functions[name].function)]!.Properties.Environment.Variables;
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat() as string[]);
const withAction = (statements: Statement[], action: string) =>
  statements.filter((s) => [s.Action].flat().includes(action));
const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: idOf(app, construct) });
const secrets = () => app.controlPlane.approvalSecrets;
const resolve = (value: unknown) => app.controlPlane.resolve(value);

/** Actions every function has (logs, X-Ray) and table actions: what is left is the function's own business. */
const BASELINE = /^(logs:|xray:|dynamodb:|kms:(Decrypt|DescribeKey|Encrypt|GenerateDataKey)$)/;

describe('approval functions: environment', () => {
  const common = ['GATEHOUSE_CONFIG', 'EVENTS_TABLE', 'STATE_TABLE'];
  const expected: Record<string, string[]> = {
    'approval-notify': ['SLACK_BOT_TOKEN_SECRET_ARN', 'APPROVAL_LINK_KEY_SECRET_ARN', 'API_BASE_URL'],
    'approval-close': ['SLACK_BOT_TOKEN_SECRET_ARN'],
    'approval-slack': ['SLACK_SIGNING_SECRET_SECRET_ARN', 'SLACK_BOT_TOKEN_SECRET_ARN', 'LIFECYCLE_STATE_MACHINE_ARN'],
    'approval-link-page': ['APPROVAL_LINK_KEY_SECRET_ARN'],
    'approval-link-decide': [
      'APPROVAL_LINK_KEY_SECRET_ARN',
      'SLACK_BOT_TOKEN_SECRET_ARN',
      'LIFECYCLE_STATE_MACHINE_ARN',
    ],
    'approval-heartbeat': ['LIFECYCLE_STATE_MACHINE_ARN'],
  };
  const shared = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'NODE_OPTIONS', 'SLOT_ROLE_ARNS'];

  it.each(Object.entries(expected))('%s gets exactly the variables its handler reads', (name, own) => {
    expect(Object.keys(variablesOf(name as Name)).sort()).toEqual([...common, ...shared, ...own].sort());
  });

  it('points each secret variable at its secret', () => {
    expect(variablesOf('approval-slack').SLACK_SIGNING_SECRET_SECRET_ARN).toEqual(ref(secrets().slackSigningSecret));
    expect(variablesOf('approval-notify').SLACK_BOT_TOKEN_SECRET_ARN).toEqual(ref(secrets().slackBotToken));
    expect(variablesOf('approval-link-decide').APPROVAL_LINK_KEY_SECRET_ARN).toEqual(ref(secrets().linkKey));
  });

  it('builds API_BASE_URL from the API id and stage, or takes notifications.publicApiUrl when set', () => {
    expect(JSON.stringify(variablesOf('approval-notify'))).toContain(
      JSON.stringify({ Ref: idOf(app, app.controlPlane.api) }),
    );
    expect(JSON.stringify(variablesOf('approval-notify').API_BASE_URL)).toMatch(/execute-api.*\/live\//);
    expect(variablesOf('approval-notify', noEmail, noEmailResources).API_BASE_URL).toBe(
      'https://gatehouse.acme.example/',
    );
  });
});

describe('approval functions: IAM', () => {
  const secretRead = (secret: { node: { defaultChild?: unknown } }) => ({
    Effect: 'Allow',
    Action: 'secretsmanager:GetSecretValue',
    Resource: ref(secret),
  });
  const own = (name: Name) => new Set(actions(statementsOf(name)).filter((a) => !BASELINE.test(a)));

  it('approval-notify: reads the bot token and link key, sends email from the configured identity, nothing else', () => {
    expect(own('approval-notify')).toEqual(new Set(['secretsmanager:GetSecretValue', 'ses:SendEmail']));
    const statements = statementsOf('approval-notify');
    expect(withAction(statements, 'secretsmanager:GetSecretValue')).toEqual([
      secretRead(secrets().slackBotToken),
      secretRead(secrets().linkKey),
    ]);
    const ses = (resource: string, name: string) =>
      resolve(app.controlPlane.formatArn({ service: 'ses', resource, resourceName: name }));
    expect(withAction(statements, 'ses:SendEmail')).toEqual([
      {
        Sid: 'SendApprovalEmails',
        Effect: 'Allow',
        Action: 'ses:SendEmail',
        Resource: [
          ses('identity', 'approvals@acme.example'),
          ses('identity', 'acme.example'),
          ses('configuration-set', 'gatehouse-approvals'),
        ],
      },
    ]);
  });

  it('approval-close: reads the bot token (to mark Slack messages expired), nothing else', () => {
    expect(own('approval-close')).toEqual(new Set(['secretsmanager:GetSecretValue']));
    expect(withAction(statementsOf('approval-close'), 'secretsmanager:GetSecretValue')).toEqual([
      secretRead(secrets().slackBotToken),
    ]);
  });

  it('approval-slack: reads the signing secret and bot token, answers task tokens', () => {
    expect(own('approval-slack')).toEqual(
      new Set(['secretsmanager:GetSecretValue', 'states:SendTaskSuccess', 'states:SendTaskFailure']),
    );
    expect(withAction(statementsOf('approval-slack'), 'secretsmanager:GetSecretValue')).toEqual([
      secretRead(secrets().slackSigningSecret),
      secretRead(secrets().slackBotToken),
    ]);
  });

  it('approval-link-page: reads the link key and the state table, writes only audit events', () => {
    expect(own('approval-link-page')).toEqual(new Set(['secretsmanager:GetSecretValue']));
    expect(withAction(statementsOf('approval-link-page'), 'secretsmanager:GetSecretValue')).toEqual([
      secretRead(secrets().linkKey),
    ]);
    const writes = withAction(statementsOf('approval-link-page'), 'dynamodb:PutItem');
    expect(writes).toHaveLength(1);
    expect(JSON.stringify(writes[0]!.Resource)).toContain('EventsTable');
    expect(JSON.stringify(writes[0]!.Resource)).not.toContain('StateTable');
  });

  it('approval-link-decide: reads the link key and bot token, answers task tokens', () => {
    expect(own('approval-link-decide')).toEqual(
      new Set(['secretsmanager:GetSecretValue', 'states:SendTaskSuccess', 'states:SendTaskFailure']),
    );
    expect(withAction(statementsOf('approval-link-decide'), 'secretsmanager:GetSecretValue')).toEqual([
      secretRead(secrets().linkKey),
      secretRead(secrets().slackBotToken),
    ]);
  });

  it('answers task tokens in one statement on "*", the only form IAM accepts for SendTask*', () => {
    for (const name of ['approval-slack', 'approval-link-decide'] as const) {
      expect(withAction(statementsOf(name), 'states:SendTaskSuccess'), name).toEqual([
        {
          Sid: 'AnswerTaskTokens',
          Effect: 'Allow',
          Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          Resource: '*',
        },
      ]);
    }
  });

  it('decrypts secrets with the data key only through Secrets Manager', () => {
    for (const name of [
      'approval-notify',
      'approval-close',
      'approval-slack',
      'approval-link-page',
      'approval-link-decide',
    ] as const) {
      const viaSecretsManager = statementsOf(name).filter((s) => s.Condition?.StringEquals?.['kms:ViaService']);
      expect(viaSecretsManager, name).toEqual([
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: { 'Fn::ImportValue': expect.stringContaining('GatehouseDataKey') },
          Condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            },
          },
        },
      ]);
    }
  });

  it('grants no SES permission anywhere when notifications.email is not configured', () => {
    const policies = Object.values(noEmailResources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy');
    for (const policy of policies) {
      expect(actions(policy.Properties.PolicyDocument.Statement).filter((a) => a.startsWith('ses:'))).toEqual([]);
    }
    expect(own('approval-notify')).toContain('ses:SendEmail');
  });

  it('gives the functions before approvals no secrets, SES or task-token answers', () => {
    for (const name of [
      'create-access-request',
      'get-access-request',
      'issue-token',
      'revoke-grant',
      'healthz',
      'lifecycle-grant',
      'lifecycle-revoke',
    ] as const) {
      const taken = actions(statementsOf(name)).filter((a) => /^(secretsmanager|ses):|^states:SendTask/.test(a));
      expect(taken, name).toEqual([]);
    }
  });
});

describe('approval heartbeat', () => {
  const stateArn = () => resolve(app.stateful.stateTable.tableArn);
  const eventsArn = () => resolve(app.stateful.eventsTable.tableArn);

  it('sends heartbeats in one statement on "*" (SendTaskHeartbeat has no resource type) and answers nothing', () => {
    const statements = statementsOf('approval-heartbeat');
    expect(new Set(actions(statements).filter((a) => !BASELINE.test(a)))).toEqual(
      new Set(['states:SendTaskHeartbeat']),
    );
    expect(withAction(statements, 'states:SendTaskHeartbeat')).toEqual([
      { Sid: 'BeatTaskTokens', Effect: 'Allow', Action: 'states:SendTaskHeartbeat', Resource: '*' },
    ]);
    for (const name of ['approval-slack', 'approval-link-decide', 'approval-notify'] as const) {
      expect(actions(statementsOf(name)), name).not.toContain('states:SendTaskHeartbeat');
    }
  });

  it('reads the state table and its pendingApprovals index, writes nothing, and touches no audit event', () => {
    const statements = statementsOf('approval-heartbeat');
    const dynamodb = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('dynamodb:')));
    expect(dynamodb).toHaveLength(1);
    expect([dynamodb[0]!.Action].flat()).not.toContain('dynamodb:PutItem');
    expect([dynamodb[0]!.Action].flat()).toContain('dynamodb:Query');
    expect(JSON.stringify(dynamodb[0]!.Resource)).toContain('/index/pendingApprovals');
    expect(JSON.stringify(dynamodb[0]!.Resource)).toContain(JSON.stringify(stateArn()).slice(1, -1));
    expect(JSON.stringify(statements)).not.toContain(JSON.stringify(eventsArn()).slice(1, -1));
    expect(variablesOf('approval-heartbeat').EVENTS_TABLE).toBeDefined();
  });

  it('runs every 5 minutes from an EventBridge rule that targets only the heartbeat function', () => {
    const heartbeatId = idOf(app, app.controlPlane.functions['approval-heartbeat'].function);
    const heartbeat = { 'Fn::GetAtt': [heartbeatId, 'Arn'] };
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.Targets).includes(heartbeatId),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties).toMatchObject({ ScheduleExpression: 'rate(5 minutes)', State: 'ENABLED' });
    expect(rules[0]!.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: heartbeat,
        RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 2 },
      }),
    ]);
    const permissions = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Permission' &&
        r.Properties.Principal === 'events.amazonaws.com' &&
        JSON.stringify(r.Properties.FunctionName).includes(heartbeatId),
    );
    expect(permissions).toHaveLength(1);
    expect(permissions[0]!.Properties.SourceArn).toEqual({
      'Fn::GetAtt': [idOf(app, app.controlPlane.schedules['approval-heartbeat']!), 'Arn'],
    });
  });

  it('matches the ASL: RequestApproval fails after 900 s without a heartbeat (three missed runs), as a failure', async () => {
    const { readFileSync } = await import('node:fs');
    const asl = JSON.parse(
      readFileSync(new URL('../../state-machines/access-lifecycle.asl.json', import.meta.url), 'utf8'),
    );
    const request = asl.States.RequestApproval;
    expect(request.HeartbeatSeconds).toBe(900);
    expect(request.HeartbeatSeconds).toBe(3 * APPROVAL_HEARTBEAT_RATE.toSeconds());
    // Step Functions' States.Timeout also matches a heartbeat timeout: the heartbeat catcher must come first.
    const catchers = request.Catch.map((c: { ErrorEquals: string[]; Next: string }) => [c.ErrorEquals.join(), c.Next]);
    expect(catchers.slice(0, 2)).toEqual([
      ['States.HeartbeatTimeout', 'CloseApprovalAfterError'],
      ['States.Timeout', 'ExpireApproval'],
    ]);
    expect(asl.States.CloseApprovalAfterError.Next).toBe('ApprovalFailed');
    expect(asl.States.ApprovalFailed.Type).toBe('Fail');
  });
});

describe('approval routes', () => {
  const routes = () =>
    app.controlPlane.api.methods.map((method) => ({
      route: `${method.httpMethod} ${method.resource.path}`,
      properties: resources[idOf(app, method)]!.Properties,
    }));
  const expected: Record<string, Name> = {
    'POST /v1/approvals/slack': 'approval-slack',
    'GET /v1/approvals/{approvalId}': 'approval-link-page',
    'POST /v1/approvals/{approvalId}': 'approval-link-decide',
  };

  it.each(Object.entries(expected))('%s invokes %s by Lambda proxy, with no API Gateway authorizer', (route, name) => {
    const found = routes().filter((r) => r.route === route);
    expect(found).toHaveLength(1);
    const { properties } = found[0]!;
    expect(properties.AuthorizationType).toBe('NONE');
    expect(properties.AuthorizerId).toBeUndefined();
    expect(properties.Integration.Type).toBe('AWS_PROXY');
    expect(JSON.stringify(properties.Integration.Uri)).toContain(idOf(app, app.controlPlane.functions[name].function));
    // Slack and the email form post form-encoded bodies: no JSON model may reject them before the handler.
    expect(properties.RequestModels).toBeUndefined();
  });

  it('requires the approvalId path parameter on the link routes', () => {
    for (const route of ['GET /v1/approvals/{approvalId}', 'POST /v1/approvals/{approvalId}']) {
      const { properties } = routes().find((r) => r.route === route)!;
      expect(properties.RequestParameters).toEqual({ 'method.request.path.approvalId': true });
    }
  });
});

describe('approval secrets', () => {
  const secretResources = () => Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret');

  it('are three, encrypted with the data key, with generated names, retained', () => {
    expect(secretResources()).toHaveLength(3);
    for (const [, secret] of secretResources()) {
      expect(secret.Properties.KmsKeyId).toEqual({ 'Fn::ImportValue': expect.stringContaining('GatehouseDataKey') });
      expect(secret.Properties.Name).toBeUndefined();
      expect(secret.DeletionPolicy).toBe('Retain');
    }
  });

  it('leaves the two Slack secrets empty for the operator, and generates a 64-character link key', () => {
    for (const secret of [secrets().slackSigningSecret, secrets().slackBotToken]) {
      const properties = resources[idOf(app, secret)]!.Properties;
      expect(properties.GenerateSecretString).toBeUndefined();
      expect(properties.SecretString).toBeUndefined();
    }
    expect(resources[idOf(app, secrets().linkKey)]!.Properties.GenerateSecretString).toEqual({
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
      RequireEachIncludedType: true,
    });
  });

  it('rotates the link key every 30 days with the rotation function, which may touch only that secret', () => {
    const rotation = app.controlPlane.linkKeyRotation;
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::SecretsManager::RotationSchedule');
    expect(schedules).toHaveLength(1);
    expect(schedules[0]!.Properties).toMatchObject({
      SecretId: ref(secrets().linkKey),
      RotationLambdaARN: { 'Fn::GetAtt': [idOf(app, rotation.function), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    const statements: Statement[] = resources[idOf(app, rotation.policy)]!.Properties.PolicyDocument.Statement;
    expect(withAction(statements, 'secretsmanager:PutSecretValue')).toEqual([
      {
        Sid: 'RotateLinkKey',
        Effect: 'Allow',
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        Resource: ref(secrets().linkKey),
      },
    ]);
    expect(actions(statements).filter((a) => !/^(logs|xray|kms):/.test(a))).toHaveLength(4);
    expect(actions(statements)).not.toContain('secretsmanager:GetRandomPassword');
    const invokes = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'secretsmanager.amazonaws.com',
    );
    expect(invokes.map((r) => r.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [idOf(app, rotation.function), 'Arn'] },
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    ]);
  });
});

describe('approval alarms', () => {
  const alarms = () => Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
  const topic = () => ({ Ref: idOf(app, app.controlPlane.alarmTopic) });

  it.each([
    ['NotificationFailed', /could not be notified/],
    ['ApprovalExpired', /did not answer before the timeout/],
  ])('alarms on %s \u2265 1 in five minutes to the alarm topic', (metric, description) => {
    const found = alarms().filter((a) => a.Properties.MetricName === metric);
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties).toMatchObject({
      Namespace: 'Gatehouse',
      Dimensions: [{ Name: 'service', Value: 'gatehouse' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic()],
      AlarmDescription: expect.stringMatching(description),
    });
  });

  it('keeps the failed- and timed-out-executions alarms on the lifecycle', () => {
    const machine = { Ref: idOf(app, app.controlPlane.stateMachine) };
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      const found = alarms().filter((a) => a.Properties.MetricName === metric);
      expect(found, metric).toHaveLength(1);
      expect(found[0]!.Properties.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: machine }]);
      expect(found[0]!.Properties.AlarmActions).toEqual([topic()]);
    }
  });
});

describe('lifecycle state machine logging and tracing', () => {
  it('logs ALL levels without execution data (inputs carry request details) and traces with X-Ray', () => {
    const machine = resources[idOf(app, app.controlPlane.stateMachine)]!.Properties;
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
  });
});
