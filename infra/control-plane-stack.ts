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
import {
  Alarm,
  ComparisonOperator,
  Metric,
  TreatMissingData,
  type AlarmProps,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { CfnPermission, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { CfnLoggingConfiguration, CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import type { ClusterConfig } from '../shared/config/schema.ts';
import { DIGESTS_PREFIX, EVENTS_PREFIX, MANIFESTS_PREFIX } from '../shared/evidence/archive-layout.ts';
import type { InfraConfig } from './config.ts';
import { ApprovalSecrets } from './constructs/approval-secrets.ts';
import {
  GatehouseFunction,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  type AuditBucketAccess,
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
  'audit-archive',
  'audit-digest',
  'audit-reconcile',
  'list-events',
  'get-evidence',
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
  /** The object-locked audit archive. */
  readonly auditBucket: IBucket;
  /** The asymmetric key the hourly digests are signed with. */
  readonly digestSigningKey: IKey;
  /** The asymmetric key relay credentials are signed with (the token-issuing functions). */
  readonly relayCredentialKey: IKey;
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

/** The custom metrics of the audit archive's functions (Powertools, namespace Gatehouse, dimension service). */
export const AUDIT_METRICS = {
  /** audit-reconcile: events in DynamoDB with no archived object. */
  archiveGaps: 'ArchiveGaps',
  /** audit-archive: an event item was modified or removed in DynamoDB (events are append-only: a tamper signal). */
  auditItemChanged: 'AuditItemChanged',
} as const;

/** When audit-digest runs: ten minutes past every hour, after the archiver has written the hour that just ended. */
export const AUDIT_DIGEST_SCHEDULE = 'cron(10 * * * ? *)';

/** When audit-reconcile runs: daily at 01:30 UTC, on the day before, once its last digest (00:10) is written. */
export const AUDIT_RECONCILE_SCHEDULE = 'cron(30 1 * * ? *)';

/** Environment variables of the audit functions. */
const AUDIT_BUCKET_VARIABLE = 'AUDIT_BUCKET';
const DIGEST_SIGNING_KEY_VARIABLE = 'DIGEST_SIGNING_KEY_ARN';
/** The relay credential key of the token-issuing functions (functions/lib/aws-runtime.ts reads it). */
export const RELAY_CREDENTIAL_KEY_VARIABLE = 'RELAY_CREDENTIAL_KEY_ARN';

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
  /** Signs relay credentials with the relay credential key (the functions that answer with a credential). */
  issuesRelayCredentials?: boolean;
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
  schedule?: ScheduleSpec;
  /** Invoked by the events table's stream (event source mapping) rather than synchronously. */
  readsEventsStream?: boolean;
  /** Object reads and writes in the audit bucket, by key prefix. */
  auditBucket?: AuditBucketAccess;
  /** Signs digests with the digest signing key. */
  signsDigests?: boolean;
}

/** What an alarm may change from the default (one datapoint ≥ 1, no data no problem). */
type AlarmOptions = Partial<
  Pick<AlarmProps, 'threshold' | 'comparisonOperator' | 'evaluationPeriods' | 'treatMissingData'>
>;

interface ScheduleSpec {
  /** When EventBridge invokes the function. */
  schedule: Schedule;
  /** A tick older than this is dropped rather than delivered late. */
  maxEventAge: Duration;
  /** Why neither the function nor the rule's target has a dead-letter queue (both DLQ rules, and EventBusDLQ). */
  withoutDeadLetterQueue: string;
}

const FUNCTIONS: Record<FunctionName, FunctionSpec> = {
  'create-access-request': {
    description: 'POST /v1/access-requests: authenticate, evaluate Cedar, grant now or start the approval lifecycle',
    tables: { events: 'append', state: 'readWrite', idempotency: 'readWrite' },
    mintsTokens: true,
    issuesRelayCredentials: true,
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
    issuesRelayCredentials: true,
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
    schedule: {
      schedule: Schedule.rate(APPROVAL_HEARTBEAT_RATE),
      maxEventAge: APPROVAL_HEARTBEAT_RATE,
      withoutDeadLetterQueue:
        'Invoked only by its EventBridge schedule every 5 minutes, with an event that carries nothing: a failed or undelivered run is repaired by the next one (each run beats every pending approval), and runs that keep failing end the waiting approvals with States.HeartbeatTimeout, which the errors and failed-executions alarms report. A dead-letter queue would hold only stale schedule events, with nothing to replay.',
    },
    reservedConcurrency: 1,
    timeout: Duration.seconds(60),
  },
  'audit-archive': {
    description:
      'Events table stream: write each event to the audit bucket once (by event id), and a manifest of each batch',
    tables: { events: 'name', state: 'name' },
    readsEventsStream: true,
    // HEAD before each put (write-once), so it reads where it writes.
    auditBucket: { read: [EVENTS_PREFIX, MANIFESTS_PREFIX], write: [EVENTS_PREFIX, MANIFESTS_PREFIX] },
    // One invocation per shard at a time (parallelization factor 1); the reserve bounds the shards served at once.
    reservedConcurrency: 10,
    timeout: Duration.seconds(60),
  },
  'audit-digest': {
    description:
      'Scheduled hourly: sign the digest of an archive hour (its objects, stream heads, previous digest) with KMS',
    tables: { events: 'name', state: 'name' },
    auditBucket: { read: [MANIFESTS_PREFIX, DIGESTS_PREFIX], write: [DIGESTS_PREFIX] },
    signsDigests: true,
    schedule: {
      schedule: Schedule.expression(AUDIT_DIGEST_SCHEDULE),
      maxEventAge: Duration.minutes(30),
      withoutDeadLetterQueue:
        'Invoked only by its hourly EventBridge schedule, with an event that carries nothing: each run digests every ended hour that has no digest yet (functions/audit-digest.ts), so a failed or lost run is caught up by the next one, and a dead-letter queue would hold stale ticks with nothing to replay. Runs that keep failing or never happen are reported by the errors alarm and the no-digest alarm.',
    },
    reservedConcurrency: 1,
    timeout: Duration.minutes(5),
  },
  'audit-reconcile': {
    description:
      'Scheduled daily: check that every event of the previous day in DynamoDB has its archived object and digest entry',
    tables: { events: 'read', state: 'name' },
    auditBucket: { read: [EVENTS_PREFIX, MANIFESTS_PREFIX, DIGESTS_PREFIX] },
    schedule: {
      schedule: Schedule.expression(AUDIT_RECONCILE_SCHEDULE),
      maxEventAge: Duration.hours(6),
      withoutDeadLetterQueue:
        'Invoked only by its daily EventBridge schedule, with an event that carries nothing: a dead-letter queue would hold stale ticks with nothing to replay. A failed run is reported by the errors alarm, and the completeness check can be rerun for any range with `gatehouse audit verify`.',
    },
    reservedConcurrency: 1,
    timeout: Duration.minutes(15),
  },
  'list-events': {
    description: 'GET /v1/events: audit events by time range and filters, paginated, for auditors',
    // Query on the byTime index; PutItem because a failed authentication is audited before the 401 (lib/http.ts).
    tables: { events: 'append', state: 'name' },
    reservedConcurrency: 10,
    timeout: Duration.seconds(20),
  },
  'get-evidence': {
    description: 'GET /v1/evidence: events, digests and public key of a time range, for auditors',
    tables: { events: 'append', state: 'name' },
    auditBucket: { read: [DIGESTS_PREFIX, EVENTS_PREFIX] },
    reservedConcurrency: 5,
    // Under API Gateway's 29 s integration limit.
    timeout: Duration.seconds(25),
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
  /** The EventBridge schedules, by the function they invoke. */
  readonly schedules: Partial<Record<FunctionName, Rule>>;
  /** Where the archiver's event source mapping sends the metadata of batches it could not archive. */
  readonly auditArchiveDeadLetterQueue: Queue;

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
        if (spec.auditBucket) fn.bindAuditBucket(AUDIT_BUCKET_VARIABLE, props.auditBucket, spec.auditBucket);
        if (spec.signsDigests) fn.bindSigningKey(DIGEST_SIGNING_KEY_VARIABLE, props.digestSigningKey);
        if (spec.issuesRelayCredentials) fn.bindSigningKey(RELAY_CREDENTIAL_KEY_VARIABLE, props.relayCredentialKey);
        if (spec.schedule) acknowledgeNoDeadLetterQueue(fn, spec.schedule.withoutDeadLetterQueue);
        else if (spec.readsEventsStream) acknowledgeStreamInvocation(fn);
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
    this.schedules = {};
    for (const name of FUNCTION_NAMES) {
      const schedule = FUNCTIONS[name].schedule;
      if (!schedule) continue;
      const rule = new Rule(this, `${pascal(name)}Schedule`, {
        description: `${name}: ${FUNCTIONS[name].description}`.slice(0, 512),
        schedule: schedule.schedule,
        targets: [
          new LambdaFunction(this.functions[name].function, { maxEventAge: schedule.maxEventAge, retryAttempts: 2 }),
        ],
      });
      Validations.of(rule).acknowledge({ id: 'Serverless-EventBusDLQ', reason: schedule.withoutDeadLetterQueue });
      this.schedules[name] = rule;
    }
    this.auditArchiveDeadLetterQueue = this.archiveEventsStream(props);

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

  /**
   * audit-archive reads the events table's stream in order per shard; a batch it cannot archive after its retries goes,
   * as metadata (shard, sequence numbers, arrival times), to the dead-letter queue, from which the redrive command
   * re-reads the events from DynamoDB (the stream keeps records 24 hours, the queue 14 days).
   */
  private archiveEventsStream(props: ControlPlaneStackProps): Queue {
    const deadLetters = new Queue(this, 'AuditArchiveDeadLetters', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const reason =
      'This queue is itself the on-failure destination of the archiver\u2019s event source mapping: it holds batch metadata until the redrive command reads it, and nothing consumes it automatically, so there is no failed consumer whose messages a further queue would catch.';
    Validations.of(deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason });
    Validations.of(deadLetters).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason });
    this.functions['audit-archive'].bindTableStream(props.eventsTable, deadLetters, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      bisectBatchOnError: true,
      retryAttempts: 10,
      maxRecordAge: Duration.hours(24),
      reportBatchItemFailures: true,
      // Records of one shard are archived in order, so a stream's events reach the bucket in sequence.
      parallelizationFactor: 1,
    });
    return deadLetters;
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
    // Auditors: the handlers check membership of the configured auditors after authenticating the bearer token.
    route(v1.addResource('events'), 'GET', 'list-events');
    route(v1.addResource('evidence'), 'GET', 'get-evidence');

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
    /** By default: one datapoint ≥ 1, and no data is no problem. */
    const alarm = (id: string, metric: IMetric, description: string, options: AlarmOptions = {}) => {
      new Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
        ...options,
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
    const customMetric = (metricName: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    alarm(
      'NotificationFailed',
      customMetric(APPROVAL_METRICS.notificationFailed),
      'approval-notify: an approver could not be notified by Slack or email (a request may wait without anyone seeing it)',
    );
    alarm(
      'ApprovalExpired',
      customMetric(APPROVAL_METRICS.approvalExpired),
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
    this.auditAlarms(alarm, customMetric);
    return topic;
  }

  /** The audit archive's alarms: gaps, tampering, a stuck or failing archiver, and hours without a digest. */
  private auditAlarms(
    alarm: (id: string, metric: IMetric, description: string, options?: AlarmOptions) => void,
    customMetric: (metricName: string) => Metric,
  ): void {
    alarm(
      'ArchiveGaps',
      customMetric(AUDIT_METRICS.archiveGaps),
      'audit-reconcile: events in DynamoDB have no archived object (check the archiver\u2019s dead-letter queue and redrive it)',
    );
    alarm(
      'AuditItemChanged',
      customMetric(AUDIT_METRICS.auditItemChanged),
      'audit-archive: an audit event item was modified or removed in DynamoDB; events are append-only, so this is a tamper signal (the archived object keeps the original)',
    );
    alarm(
      'AuditArchiveDeadLettersVisible',
      this.auditArchiveDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      'audit-archive: batches could not be archived after every retry and wait in the dead-letter queue (redrive them)',
    );
    alarm(
      'AuditArchiveIteratorAge',
      this.functions['audit-archive'].function.metric('IteratorAge', {
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      'audit-archive: the oldest unarchived stream record is over an hour old (the stream keeps records 24 hours)',
      { threshold: Duration.hours(1).toMilliseconds(), comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD },
    );
    alarm(
      'AuditDigestNotRun',
      this.functions['audit-digest'].function.metricInvocations({ period: Duration.hours(1) }),
      'audit-digest: not invoked for two hours, so no digest is being written (check the schedule and the function)',
      {
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        // No datapoint means no invocation: the very thing this alarm is for.
        treatMissingData: TreatMissingData.BREACHING,
      },
    );
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

/** audit-archive: its event source mapping polls the stream and owns the failure path. */
function acknowledgeStreamInvocation(fn: GatehouseFunction): void {
  const reason =
    'Invoked only by its DynamoDB stream event source mapping, which is configured with an on-failure destination (the archiver\u2019s SQS dead-letter queue); a function dead-letter queue applies to asynchronous invocations, which this function never receives.';
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
