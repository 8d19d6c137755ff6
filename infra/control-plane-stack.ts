import { join } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  EndpointType,
  JsonSchemaType,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
  type IResource,
  type Method,
} from 'aws-cdk-lib/aws-apigateway';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { CfnPermission } from 'aws-cdk-lib/aws-lambda';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { CfnLoggingConfiguration, CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import type { ClusterConfig } from '../shared/config/schema.ts';
import type { InfraConfig } from './config.ts';
import { ApprovalSecrets } from './constructs/approval-secrets.ts';
import {
  GatehouseFunction,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  type TableAccess,
} from './constructs/gatehouse-function.ts';
import { SlotRoleTrust } from './constructs/slot-role-trust.ts';
import { EVENTS_BY_TIME_INDEX, STATE_PENDING_APPROVALS_INDEX } from './stateful-stack.ts';

export { GRANT_ID_SESSION_TAG } from './constructs/slot-role-trust.ts';

/** The EKS calls that create and remove a grant's access entry. */
export const EKS_GRANT_ACTIONS = [
  'eks:CreateAccessEntry',
  'eks:DeleteAccessEntry',
  'eks:AssociateAccessPolicy',
  'eks:DescribeAccessEntry',
  'eks:TagResource',
] as const;

/** The Lambda handlers, by file name under `functionsDir`. */
export const FUNCTION_NAMES = [
  'create-access-request',
  'get-access-request',
  'issue-token',
  'revoke-grant',
  'healthz',
  'lifecycle-grant',
  'lifecycle-revoke',
  'approval-notify',
  'approval-close',
  'approval-slack',
  'approval-link-page',
  'approval-link-decide',
  'approval-heartbeat',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface ControlPlaneStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The repository root (package-lock.json, tsconfig.json). */
  readonly projectRoot: string;
  readonly key: IKey;
  readonly eventsTable: ITable;
  readonly stateTable: ITable;
  readonly idempotencyTable: ITable;
  /** Where the handler files are. @default `<projectRoot>/functions` */
  readonly functionsDir?: string;
  /**
   * The lifecycle ASL, with `${GrantFunctionArn}`, `${RevokeFunctionArn}`, `${NotifyFunctionArn}` and
   * `${CloseApprovalFunctionArn}`. @default `<projectRoot>/state-machines/access-lifecycle.asl.json`
   */
  readonly lifecycleDefinitionFile?: string;
  /** Stage throttling. @default { rateLimit: 50, burstLimit: 100 } */
  readonly throttling?: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  /** How often the approval link key rotates. @default Duration.days(30) */
  readonly linkKeyRotationInterval?: Duration;
}

/** The API's one stage. */
export const STAGE_NAME = 'live';

/** The approval secrets, by the name a function spec uses. */
type SecretName = 'slackSigningSecret' | 'slackBotToken' | 'linkKey';

/** Each secret's environment variable: the handlers read exactly these names. */
const SECRET_VARIABLES: Record<SecretName, string> = {
  slackSigningSecret: 'SLACK_SIGNING_SECRET_SECRET_ARN',
  slackBotToken: 'SLACK_BOT_TOKEN_SECRET_ARN',
  linkKey: 'APPROVAL_LINK_KEY_SECRET_ARN',
};

/** The custom metrics the approval functions emit (Powertools, namespace Gatehouse, dimension service). */
export const APPROVAL_METRICS = {
  notificationFailed: 'NotificationFailed',
  approvalExpired: 'ApprovalExpired',
  approvalHeartbeats: 'ApprovalHeartbeats',
} as const;

/** How often approval-heartbeat runs; RequestApproval's HeartbeatSeconds (900) allows three missed runs. */
export const APPROVAL_HEARTBEAT_RATE = Duration.minutes(5);

/**
 * How a function may use a table: `describe` is DescribeTable only, `name` is the variable alone (the runtime needs
 * every table's name, a function may touch none of it).
 */
type FunctionTableAccess = TableAccess | 'describe' | 'name';

interface FunctionSpec {
  description: string;
  tables: { events: FunctionTableAccess; state: FunctionTableAccess; idempotency?: TableAccess };
  /** State-table indexes it queries, besides the table. */
  stateIndexes?: readonly string[];
  mintsTokens?: boolean;
  changesAccessEntries?: boolean;
  reservedConcurrency: number;
  timeout?: Duration;
  /** Secrets it reads, each bound to its variable in SECRET_VARIABLES. */
  secrets?: readonly SecretName[];
  /** Answers the lifecycle's approval task tokens (SendTaskSuccess/SendTaskFailure). */
  answersTaskTokens?: boolean;
  /** Sends approval emails through SES from `notifications.email.from`, when configured. */
  sendsEmail?: boolean;
  /** Sends heartbeats for the lifecycle's approval task tokens (SendTaskHeartbeat). */
  beatsTaskTokens?: boolean;
  /** Invoked by an EventBridge schedule (asynchronously) rather than synchronously. */
  scheduled?: boolean;
}

const FUNCTIONS: Record<FunctionName, FunctionSpec> = {
  'create-access-request': {
    description: 'POST /v1/access-requests: authenticate, evaluate Cedar, grant now or start the approval lifecycle',
    tables: { events: 'append', state: 'readWrite', idempotency: 'readWrite' },
    mintsTokens: true,
    changesAccessEntries: true,
    reservedConcurrency: 20,
    timeout: Duration.seconds(20),
  },
  'get-access-request': {
    description: 'GET /v1/access-requests/{id}: status and approvals of a request',
    tables: { events: 'append', state: 'read' },
    reservedConcurrency: 20,
    // Long polls wait up to 20 s (functions/get-access-request.ts); API Gateway gives up at 29 s.
    timeout: Duration.seconds(25),
  },
  'issue-token': {
    description: 'POST /v1/access-requests/{id}/token: a fresh ExecCredential while the grant is active',
    tables: { events: 'append', state: 'readWrite' },
    mintsTokens: true,
    reservedConcurrency: 20,
  },
  'revoke-grant': {
    description: 'POST /v1/grants/{id}/revoke: delete the access entry and release the slot',
    tables: { events: 'append', state: 'readWrite' },
    changesAccessEntries: true,
    reservedConcurrency: 10,
    timeout: Duration.seconds(20),
  },
  healthz: {
    description: 'GET /healthz: liveness and the versions of the configuration and policies',
    tables: { events: 'describe', state: 'describe' },
    reservedConcurrency: 2,
  },
  'lifecycle-grant': {
    description: 'Step Functions task: lease a slot, create the access entry, record the grant',
    tables: { events: 'append', state: 'readWrite' },
    changesAccessEntries: true,
    reservedConcurrency: 10,
    timeout: Duration.seconds(30),
  },
  'lifecycle-revoke': {
    description: 'Step Functions task: delete the access entry, release the slot, record the revocation',
    tables: { events: 'append', state: 'readWrite' },
    changesAccessEntries: true,
    reservedConcurrency: 10,
    timeout: Duration.seconds(30),
  },
  'approval-notify': {
    description:
      'Step Functions callback task: open the approval with its task token, notify approvers by Slack and email',
    tables: { events: 'append', state: 'readWrite' },
    secrets: ['slackBotToken', 'linkKey'],
    sendsEmail: true,
    reservedConcurrency: 10,
    timeout: Duration.seconds(30),
  },
  'approval-close': {
    description:
      'Step Functions task: close an approval that expired or failed, and its request; update its Slack messages',
    tables: { events: 'append', state: 'readWrite' },
    // The handler marks the Slack messages expired (functions/approval-close.ts), so it reads the bot token.
    secrets: ['slackBotToken'],
    reservedConcurrency: 5,
    timeout: Duration.seconds(20),
  },
  'approval-slack': {
    description: 'POST /v1/approvals/slack: verify the Slack signature, record the decision, answer the task token',
    tables: { events: 'append', state: 'readWrite' },
    secrets: ['slackSigningSecret', 'slackBotToken'],
    answersTaskTokens: true,
    reservedConcurrency: 10,
  },
  'approval-link-page': {
    description: 'GET /v1/approvals/{approvalId}: check the signed email link, show the confirmation page',
    tables: { events: 'append', state: 'read' },
    secrets: ['linkKey'],
    reservedConcurrency: 10,
  },
  'approval-link-decide': {
    description:
      'POST /v1/approvals/{approvalId}: check the signed email link, record the decision, answer the task token',
    tables: { events: 'append', state: 'readWrite' },
    secrets: ['linkKey', 'slackBotToken'],
    answersTaskTokens: true,
    reservedConcurrency: 10,
  },
  'approval-heartbeat': {
    description:
      'Scheduled every 5 minutes: SendTaskHeartbeat for the task token of every pending approval (pendingApprovals index)',
    tables: { events: 'name', state: 'read' },
    stateIndexes: [STATE_PENDING_APPROVALS_INDEX],
    beatsTaskTokens: true,
    scheduled: true,
    reservedConcurrency: 1,
    timeout: Duration.seconds(60),
  },
};

/** The AWS partition of a region (the config's region pattern admits the commercial, GovCloud and China regions). */
export function partitionOf(region: string): string {
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('cn-')) return 'aws-cn';
  return 'aws';
}

/** The EKS cluster ARN and the ARN pattern of its access entries. */
export function clusterArns(cluster: ClusterConfig): { cluster: string; accessEntries: string } {
  const name = cluster.eksClusterName ?? cluster.name;
  const prefix = `arn:${partitionOf(cluster.region)}:eks:${cluster.region}:${cluster.account}`;
  return { cluster: `${prefix}:cluster/${name}`, accessEntries: `${prefix}:access-entry/${name}/*` };
}

/**
 * The stateless control plane: the API, the handlers, the approval lifecycle state machine, the per-cluster slot roles,
 * and the alarms. Everything it stores lives in the stateful stack, passed in as props.
 */
export class ControlPlaneStack extends Stack {
  readonly functions: Record<FunctionName, GatehouseFunction>;
  readonly api: RestApi;
  readonly stateMachine: StateMachine;
  /** Per Gatehouse cluster name, its slot roles. */
  readonly slotRoles: Record<string, Role[]>;
  readonly alarmTopic: Topic;
  /** The Slack signing secret, the Slack bot token and the approval link key. */
  readonly approvalSecrets: ApprovalSecrets;
  /** Secrets Manager's rotation function of the approval link key. */
  readonly linkKeyRotation: GatehouseFunction;
  /** The EventBridge schedule of approval-heartbeat. */
  readonly approvalHeartbeatRule: Rule;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const functionsDir = props.functionsDir ?? join(props.projectRoot, 'functions');
    const logRetention = props.logRetention ?? RetentionDays.ONE_YEAR;
    const { config } = props.config;

    this.functions = Object.fromEntries(
      FUNCTION_NAMES.map((name) => {
        const spec = FUNCTIONS[name];
        const fn = new GatehouseFunction(this, pascal(name), {
          entry: join(functionsDir, `${name}.ts`),
          description: spec.description,
          projectRoot: props.projectRoot,
          config: { bundle: props.config.bundle },
          logKey: props.key,
          logRetention,
          reservedConcurrentExecutions: spec.reservedConcurrency,
          ...(spec.timeout ? { timeout: spec.timeout } : {}),
        });
        bindTable(fn, 'EVENTS_TABLE', props.eventsTable, spec.tables.events, [EVENTS_BY_TIME_INDEX]);
        bindTable(fn, 'STATE_TABLE', props.stateTable, spec.tables.state, spec.stateIndexes);
        if (spec.tables.idempotency) fn.bindTable('IDEMPOTENCY_TABLE', props.idempotencyTable, spec.tables.idempotency);
        if (spec.scheduled) acknowledgeScheduledInvocation(fn);
        else acknowledgeSynchronousInvocation(fn);
        return [name, fn];
      }),
    ) as Record<FunctionName, GatehouseFunction>;

    // Slot roles: only the token-minting functions may assume them, and only with the grant id as a session tag.
    const minters = FUNCTION_NAMES.filter((name) => FUNCTIONS[name].mintsTokens).map((name) => this.functions[name]);
    this.slotRoles = {};
    for (const cluster of config.clusters) {
      this.slotRoles[cluster.name] = Array.from({ length: cluster.slotPoolSize }, (_, index) => {
        // No permissions of its own: the cluster's access entry is what authorises a slot session.
        return new Role(this, `SlotRole-${cluster.name}-${index}`, {
          description: `Gatehouse slot ${index} for cluster ${cluster.name}: authorised in the cluster by an EKS access entry`,
          maxSessionDuration: Duration.hours(1),
          assumedBy: new SlotRoleTrust(minters.map((minter) => minter.role.roleArn)),
        });
      });
    }
    const slotRoleArns = Object.fromEntries(
      Object.entries(this.slotRoles).map(([cluster, roles]) => [cluster, roles.map((role) => role.roleArn)]),
    );
    for (const fn of Object.values(this.functions)) {
      fn.bindSlotRoles('SLOT_ROLE_ARNS', slotRoleArns, { assume: minters.includes(fn) });
    }

    // Access entries: only on the configured clusters, only for Gatehouse's slot roles and configured access policies.
    for (const name of FUNCTION_NAMES.filter((n) => FUNCTIONS[n].changesAccessEntries)) {
      const fn = this.functions[name];
      for (const cluster of config.clusters) {
        const arns = clusterArns(cluster);
        fn.addToPolicy(
          new PolicyStatement({
            actions: ['eks:CreateAccessEntry'],
            resources: [arns.cluster],
            conditions: { ArnEquals: { 'eks:principalArn': slotRoleArns[cluster.name]! } },
          }),
        );
        fn.addToPolicy(
          new PolicyStatement({
            actions: ['eks:AssociateAccessPolicy'],
            resources: [arns.accessEntries],
            conditions: { StringEquals: { 'eks:policyArn': [...new Set(Object.values(cluster.accessLevels))] } },
          }),
        );
        fn.addToPolicy(
          new PolicyStatement({
            actions: ['eks:DeleteAccessEntry', 'eks:DescribeAccessEntry', 'eks:TagResource'],
            resources: [arns.accessEntries],
          }),
        );
        Validations.of(fn.policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${arns.accessEntries}]`,
          reason: `Access entry ARNs end in a UUID that EKS assigns at creation, so they are scoped to the access entries of cluster ${cluster.eksClusterName ?? cluster.name} only; creation is limited to Gatehouse slot roles (eks:principalArn) and policy association to the configured access policies (eks:policyArn).`,
        });
      }
    }

    this.linkKeyRotation = new GatehouseFunction(this, 'RotateApprovalLinkKey', {
      entry: join(props.projectRoot, 'infra/handlers/rotate-approval-link-key.ts'),
      description: 'Secrets Manager rotation of the approval link key: a new random key becomes AWSCURRENT',
      projectRoot: props.projectRoot,
      config: { bundle: props.config.bundle },
      logKey: props.key,
      logRetention,
      reservedConcurrentExecutions: 1,
      timeout: Duration.seconds(30),
    });
    this.approvalSecrets = new ApprovalSecrets(this, 'ApprovalSecrets', {
      key: props.key,
      linkKeyRotation: this.linkKeyRotation.function,
      ...(props.linkKeyRotationInterval ? { linkKeyRotationInterval: props.linkKeyRotationInterval } : {}),
    });
    this.bindLinkKeyRotation();
    // CDK lets secretsmanager.amazonaws.com invoke the rotation function from any account; only this account's
    // Secrets Manager may (confused deputy: https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html).
    for (const child of this.linkKeyRotation.function.node.children) {
      if (child instanceof CfnPermission) child.sourceAccount = this.account;
    }
    for (const name of FUNCTION_NAMES) {
      for (const secret of FUNCTIONS[name].secrets ?? []) {
        this.functions[name].bindSecret(SECRET_VARIABLES[secret], this.approvalSecrets[secret]);
      }
    }
    const email = config.notifications.email;
    if (email) {
      for (const name of FUNCTION_NAMES.filter((n) => FUNCTIONS[n].sendsEmail)) {
        this.functions[name].addToPolicy(
          new PolicyStatement({
            sid: 'SendApprovalEmails',
            actions: ['ses:SendEmail'],
            resources: sesSendResources(this, email.from, email.configurationSet),
          }),
        );
      }
    }

    this.stateMachine = this.lifecycleStateMachine(props, logRetention);
    this.functions['create-access-request'].bindStateMachineStart(
      'LIFECYCLE_STATE_MACHINE_ARN',
      this.stateMachine.stateMachineArn,
    );
    for (const name of FUNCTION_NAMES.filter((n) => FUNCTIONS[n].answersTaskTokens)) {
      this.functions[name].bindTaskCallbacks('LIFECYCLE_STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    }
    for (const name of FUNCTION_NAMES.filter((n) => FUNCTIONS[n].beatsTaskTokens)) {
      this.functions[name].bindTaskHeartbeats('LIFECYCLE_STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    }
    // A run that fails or is late is repaired by the next one; an event older than one interval is dropped.
    this.approvalHeartbeatRule = new Rule(this, 'ApprovalHeartbeatSchedule', {
      description: 'approval-heartbeat: keep the RequestApproval task tokens of pending approvals alive',
      schedule: Schedule.rate(APPROVAL_HEARTBEAT_RATE),
      targets: [
        new LambdaFunction(this.functions['approval-heartbeat'].function, {
          maxEventAge: APPROVAL_HEARTBEAT_RATE,
          retryAttempts: 2,
        }),
      ],
    });
    Validations.of(this.approvalHeartbeatRule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'The target is a schedule tick that carries nothing: an undelivered tick is made up by the next one five minutes later (each run beats every pending approval), so a dead-letter queue would only collect stale ticks with nothing to replay; deliveries that keep failing end the waiting approvals with States.HeartbeatTimeout, which the failed-executions alarm reports.',
    });

    this.api = this.restApi(props, logRetention);
    // Links in approval emails point at the public URL when one is configured (a custom domain), else at the stage. The
    // stage URL is built from the API id, not `api.url`: that references the stage, which depends (through the methods,
    // create-access-request and the state machine) on approval-notify itself.
    this.functions['approval-notify'].function.addEnvironment(
      'API_BASE_URL',
      config.notifications.publicApiUrl ??
        `https://${this.api.restApiId}.execute-api.${this.region}.${this.urlSuffix}/${STAGE_NAME}/`,
    );
    this.alarmTopic = this.alarms(props.key);
  }

  /** The rotation function may change only the link key's versions, and use the key only through Secrets Manager. */
  private bindLinkKeyRotation(): void {
    const { linkKey } = this.approvalSecrets;
    const rotation = this.linkKeyRotation;
    rotation.addToPolicy(
      new PolicyStatement({
        sid: 'RotateLinkKey',
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        resources: [linkKey.secretArn],
      }),
    );
    rotation.addToPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [linkKey.encryptionKey!.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
      }),
    );
    Validations.of(rotation.function).acknowledge(
      {
        id: 'HIPAA.Security-LambdaDLQ',
        reason:
          'Secrets Manager invokes rotation steps itself and records a failed step (the version stays AWSPENDING, the next rotation retries); a dead-letter queue would hold nothing Secrets Manager does not already report, and the errors alarm pages the operator.',
      },
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          'Secrets Manager invokes rotation steps itself and retries a failed rotation; the errors alarm pages the operator.',
      },
    );
    acknowledgeRuntimeAndNetwork(rotation);
  }

  private lifecycleStateMachine(props: ControlPlaneStackProps, retention: RetentionDays): StateMachine {
    const grant = this.functions['lifecycle-grant'].function;
    const revoke = this.functions['lifecycle-revoke'].function;
    const logGroup = new LogGroup(this, 'LifecycleLogs', {
      retention,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const notify = this.functions['approval-notify'].function;
    const close = this.functions['approval-close'].function;
    const role = new Role(this, 'LifecycleRole', { assumedBy: new ServicePrincipal('states.amazonaws.com') });
    const policy = new ManagedPolicy(this, 'LifecyclePolicy', {
      roles: [role],
      statements: [
        new PolicyStatement({
          sid: 'InvokeTaskFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: [grant.functionArn, revoke.functionArn, notify.functionArn, close.functionArn],
        }),
        // Step Functions log delivery and X-Ray: neither supports resource-level permissions
        // (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy).
        new PolicyStatement({
          sid: 'DeliverLogsAndTraces',
          actions: [
            'logs:CreateLogDelivery',
            'logs:GetLogDelivery',
            'logs:UpdateLogDelivery',
            'logs:DeleteLogDelivery',
            'logs:ListLogDeliveries',
            'logs:PutResourcePolicy',
            'logs:DescribeResourcePolicies',
            'logs:DescribeLogGroups',
            'xray:PutTraceSegments',
            'xray:PutTelemetryRecords',
            'xray:GetSamplingRules',
            'xray:GetSamplingTargets',
          ],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only CloudWatch Logs vended-log delivery (logs:*LogDelivery*, *ResourcePolic*, DescribeLogGroups) and X-Ray actions use Resource "*": AWS documents that these do not support resource-level permissions. Lambda invocation names the four task functions.',
    });
    const stateMachine = new StateMachine(this, 'Lifecycle', {
      stateMachineType: StateMachineType.STANDARD,
      comment: 'access-lifecycle: record, notify approvers, decide, grant, wait until expiry, revoke',
      definitionBody: DefinitionBody.fromFile(
        props.lifecycleDefinitionFile ?? join(props.projectRoot, 'state-machines/access-lifecycle.asl.json'),
      ),
      definitionSubstitutions: {
        GrantFunctionArn: grant.functionArn,
        RevokeFunctionArn: revoke.functionArn,
        NotifyFunctionArn: notify.functionArn,
        CloseApprovalFunctionArn: close.functionArn,
      },
      role: role.withoutPolicyUpdates(),
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    stateMachine.node.addDependency(policy);
    return stateMachine;
  }

  private restApi(props: ControlPlaneStackProps, retention: RetentionDays): RestApi {
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const throttling = props.throttling ?? { rateLimit: 50, burstLimit: 100 };
    const api = new RestApi(this, 'Api', {
      description: 'Gatehouse HTTP API v1',
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        throttlingRateLimit: throttling.rateLimit,
        throttlingBurstLimit: throttling.burstLimit,
        tracingEnabled: true,
        metricsEnabled: true,
        // Execution logs at ERROR, never with request/response data: bodies and headers carry bearer tokens.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        methodOptions: { '/healthz/GET': { throttlingRateLimit: 5, throttlingBurstLimit: 10 } },
      },
    });
    Validations.of(api).acknowledge({
      id: 'HIPAA.Security-APIGWCacheEnabledAndEncrypted',
      reason:
        'Every response is specific to the caller authenticated from its bearer token and many carry short-lived credentials; a stage cache could serve one caller\u2019s credential to another, so caching is deliberately off.',
    });
    Validations.of(api).acknowledge({
      id: 'HIPAA.Security-APIGWSSLEnabled',
      reason:
        'A client certificate authenticates API Gateway to HTTP backends; every integration here is an AWS_PROXY Lambda invocation signed with SigV4, so there is no HTTP backend to present it to.',
    });
    const cloudWatchRole = api.node.findChild('CloudWatchRole');
    Validations.of(cloudWatchRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-level API Gateway logging role needs the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy: API Gateway names the execution log groups itself at runtime, so no customer policy can list them in advance.',
    });

    // API Gateway checks what is shape-only (path parameters present, a JSON object body); the handlers' zod schemas
    // remain the contract and answer in application/problem+json.
    const validator = api.addRequestValidator('Validator', {
      requestValidatorName: 'parameters-and-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    const jsonObject = api.addModel('JsonObject', {
      contentType: 'application/json',
      schema: { schema: JsonSchemaVersion.DRAFT4, type: JsonSchemaType.OBJECT },
    });
    const route = (
      resource: IResource,
      method: string,
      fn: FunctionName,
      options: { pathParameters?: string[]; jsonBody?: boolean; authentication?: string } = {},
    ) => {
      const created = resource.addMethod(method, new LambdaIntegration(this.functions[fn].function), {
        requestValidator: validator,
        requestParameters: Object.fromEntries(
          (options.pathParameters ?? []).map((name) => [`method.request.path.${name}`, true]),
        ),
        ...(options.jsonBody ? { requestModels: { 'application/json': jsonObject } } : {}),
      });
      acknowledgeHandlerAuthentication(created, options.authentication);
    };
    const v1 = api.root.addResource('v1');
    const requests = v1.addResource('access-requests');
    route(requests, 'POST', 'create-access-request', { jsonBody: true });
    const request = requests.addResource('{id}');
    route(request, 'GET', 'get-access-request', { pathParameters: ['id'] });
    route(request.addResource('token'), 'POST', 'issue-token', { pathParameters: ['id'] });
    route(v1.addResource('grants').addResource('{id}').addResource('revoke'), 'POST', 'revoke-grant', {
      pathParameters: ['id'],
    });
    route(api.root.addResource('healthz'), 'GET', 'healthz');
    // Approver callbacks: Slack posts form-encoded interactions, email links post an HTML form; neither is JSON, and
    // each handler authenticates the request from what Slack or the link signed.
    const approvals = v1.addResource('approvals');
    route(approvals.addResource('slack'), 'POST', 'approval-slack', { authentication: SLACK_AUTHENTICATION });
    const approval = approvals.addResource('{approvalId}');
    route(approval, 'GET', 'approval-link-page', {
      pathParameters: ['approvalId'],
      authentication: LINK_AUTHENTICATION,
    });
    route(approval, 'POST', 'approval-link-decide', {
      pathParameters: ['approvalId'],
      authentication: LINK_AUTHENTICATION,
    });

    this.webAcl(api, props.key, retention);
    return api;
  }

  /** A regional web ACL: AWS IP reputation and known-bad-input rule groups, and a per-IP rate limit. */
  private webAcl(api: RestApi, key: IKey, retention: RetentionDays): void {
    const managed = (name: string, priority: number): CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: false, metricName: name },
    });
    const acl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: false, metricName: 'gatehouse' },
      rules: [
        managed('AWSManagedRulesAmazonIpReputationList', 0),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 1),
        {
          name: 'RateLimitPerIp',
          priority: 2,
          action: { block: {} },
          statement: { rateBasedStatement: { aggregateKeyType: 'IP', limit: 600 } },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            sampledRequestsEnabled: false,
            metricName: 'RateLimitPerIp',
          },
        },
      ],
    });
    new CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: api.deploymentStage.stageArn,
      webAclArn: acl.attrArn,
    });
    // WAF requires the aws-waf-logs- prefix, so this log group has a name; the stack name keeps it unique.
    const logs = new LogGroup(this, 'WebAclLogs', {
      logGroupName: `aws-waf-logs-${this.stackName}`,
      retention,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new CfnLoggingConfiguration(this, 'WebAclLogging', {
      resourceArn: acl.attrArn,
      logDestinationConfigs: [
        this.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logs.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      // WAF logs every header by default; bearer tokens must never reach a log (DESIGN.md section 7).
      redactedFields: [{ singleHeader: { Name: 'authorization' } }, { singleHeader: { Name: 'cookie' } }],
    });
  }

  private alarms(key: IKey): Topic {
    const topic = new Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: 'Gatehouse alarms' });
    const action = new SnsAction(topic);
    const alarm = (id: string, metric: IMetric, description: string) => {
      new Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      }).addAlarmAction(action);
    };
    for (const [name, fn] of Object.entries(this.functions)) {
      const period = { period: Duration.minutes(5) };
      alarm(`${pascal(name)}Errors`, fn.function.metricErrors(period), `${name}: invocation errors`);
      alarm(`${pascal(name)}Throttles`, fn.function.metricThrottles(period), `${name}: throttled invocations`);
    }
    alarm('Api5xx', this.api.metricServerError({ period: Duration.minutes(5) }), 'API: 5XX responses');
    alarm(
      'LifecycleFailed',
      this.stateMachine.metricFailed({ period: Duration.minutes(5) }),
      'access-lifecycle: failed executions (a grant may not have been revoked)',
    );
    const approvalMetric = (metricName: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    alarm(
      'NotificationFailed',
      approvalMetric(APPROVAL_METRICS.notificationFailed),
      'approval-notify: an approver could not be notified by Slack or email (a request may wait without anyone seeing it)',
    );
    alarm(
      'ApprovalExpired',
      approvalMetric(APPROVAL_METRICS.approvalExpired),
      'approval-close: an approval expired because the approvers did not answer before the timeout (check that notifications arrive and that the approver groups are staffed)',
    );
    alarm(
      'RotateApprovalLinkKeyErrors',
      this.linkKeyRotation.function.metricErrors({ period: Duration.minutes(5) }),
      'rotate-approval-link-key: a rotation step failed (the link key stays as it was)',
    );
    alarm(
      'LifecycleTimedOut',
      this.stateMachine.metricTimedOut({ period: Duration.minutes(5) }),
      'access-lifecycle: timed-out executions (a grant may not have been revoked)',
    );
    return topic;
  }
}

function bindTable(
  fn: GatehouseFunction,
  variable: string,
  table: ITable,
  access: FunctionTableAccess,
  indexes: readonly string[] = [],
): void {
  if (access !== 'describe' && access !== 'name') {
    fn.bindTable(variable, table, access, indexes);
    return;
  }
  fn.function.addEnvironment(variable, table.tableName);
  if (access === 'name') return;
  fn.addToPolicy(new PolicyStatement({ actions: ['dynamodb:DescribeTable'], resources: [table.tableArn] }));
}

/** The functions are invoked synchronously only (API Gateway proxy, Step Functions RequestResponse). */
function acknowledgeSynchronousInvocation(fn: GatehouseFunction): void {
  const reason =
    'Invoked only synchronously (API Gateway Lambda proxy or a Step Functions task): a dead-letter queue applies to asynchronous invocations and would never receive anything; failures return to the caller, which retries (Step Functions Retry) or reports the error.';
  acknowledgeNoDeadLetterQueue(fn, reason);
}

/** approval-heartbeat: EventBridge invokes it asynchronously on a schedule. */
function acknowledgeScheduledInvocation(fn: GatehouseFunction): void {
  const reason =
    'Invoked only by its EventBridge schedule every 5 minutes, with an event that carries nothing: a failed run is repaired by the next one (each run beats every pending approval), and runs that keep failing end the waiting approvals with States.HeartbeatTimeout, which the errors and failed-executions alarms report. A dead-letter queue would hold only stale schedule events, with nothing to replay.';
  acknowledgeNoDeadLetterQueue(fn, reason);
}

/** Both DLQ rules (HIPAA and Serverless packs) answered with one reason, plus the runtime and network ones. */
function acknowledgeNoDeadLetterQueue(fn: GatehouseFunction, reason: string): void {
  Validations.of(fn.function).acknowledge({ id: 'HIPAA.Security-LambdaDLQ', reason });
  Validations.of(fn.function).acknowledge({ id: 'Serverless-LambdaDLQ', reason });
  acknowledgeRuntimeAndNetwork(fn);
}

/** The runtime is pinned on purpose and the function reaches AWS APIs only. */
function acknowledgeRuntimeAndNetwork(fn: GatehouseFunction): void {
  Validations.of(fn.function).acknowledge({
    id: 'HIPAA.Security-LambdaInsideVPC',
    reason:
      'The function calls only AWS regional APIs (DynamoDB, STS, EKS, Step Functions, KMS, Secrets Manager, SES) over TLS with SigV4 and, for approvals, Slack\u2019s public Web API over TLS; it reaches no private network resource or cluster endpoint, so a VPC would add NAT or endpoints without shrinking what it can reach.',
  });
  const runtime =
    'Pinned to nodejs22.x: the bundle targets node22 and CI tests on it; moving to a newer runtime is a deliberate upgrade with its own test run, not a silent change at deploy.';
  Validations.of(fn.function).acknowledge({ id: 'AwsSolutions-L1', reason: runtime });
  Validations.of(fn.function).acknowledge({ id: 'Serverless-LambdaLatestVersion', reason: runtime });
}

const BEARER_AUTHENTICATION =
  'The handler authenticates every request itself from the OIDC bearer token (issuer, audience, expiry, asymmetric signature against the issuer\u2019s JWKS; DESIGN.md section 2.1): CI jobs have no Cognito or IAM identity, and /healthz is deliberately public.';
const SLACK_AUTHENTICATION =
  'Slack calls this interactivity endpoint with no AWS, Cognito or OAuth identity; the handler authenticates every request by Slack\u2019s X-Slack-Signature (HMAC-SHA256 of the raw body with the signing secret, constant-time compare, timestamp within five minutes) and maps the Slack user to an approver before anything is decided.';
const LINK_AUTHENTICATION =
  'An approver opens this from an email on any device, with no AWS or Cognito identity: the signed link is the credential (HMAC-SHA256 bound to the link, request and approver, expiring, single use), checked by the handler on GET and again on the deciding POST; a bad link decides nothing and is audited.';

function acknowledgeHandlerAuthentication(method: Method, reason: string = BEARER_AUTHENTICATION): void {
  Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason });
  Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason });
}

/**
 * What `ses:SendEmail` is authorised against: the sender's address identity and its domain identity (SES checks
 * whichever the sender is verified as), and the configuration set when messages name one
 * (https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html).
 */
export function sesSendResources(stack: Stack, from: string, configurationSet?: string): string[] {
  const domain = from.slice(from.lastIndexOf('@') + 1);
  const arn = (resource: string, resourceName: string) => stack.formatArn({ service: 'ses', resource, resourceName });
  return [
    arn('identity', from),
    arn('identity', domain),
    ...(configurationSet ? [arn('configuration-set', configurationSet)] : []),
  ];
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
