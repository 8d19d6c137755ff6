import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, type DynamoEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat, type BundlingOptions, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
// cdk-nag names an IAM5 finding by the resource flattened with this function; acknowledgements must repeat that name.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';

/** The Powertools service name of every function: the `service` dimension of its custom metrics. */
export const SERVICE_NAME = 'gatehouse';

/** The CloudWatch namespace of the functions' custom metrics (Powertools Metrics). */
export const METRICS_NAMESPACE = 'Gatehouse';

/** Where the configuration file lands inside every bundle, and so the value of `GATEHOUSE_CONFIG`. */
export const BUNDLED_CONFIG_PATH = '/var/task/gatehouse.config.json';

/**
 * ESM output still meets CommonJS dependencies (cedar-wasm's node build, parts of the SDK): give them `require`,
 * `__filename` and `__dirname`, which ESM lacks. One line, because esbuild prepends it verbatim.
 */
export const ESM_BANNER =
  "import { createRequire as __gatehouseCreateRequire } from 'module'; import { fileURLToPath as __gatehouseFileURLToPath } from 'url'; const require = __gatehouseCreateRequire(import.meta.url); const __filename = __gatehouseFileURLToPath(import.meta.url); const __dirname = __gatehouseFileURLToPath(new URL('.', import.meta.url));";

/**
 * The esbuild options of every Gatehouse bundle. `npm run bench` builds with these very options, so the sizes and
 * cold-import times it reports are those of what CDK deploys.
 */
export const GATEHOUSE_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  banner: ESM_BANNER,
  mainFields: ['module', 'main'],
  // Bundle everything, the AWS SDK included, so the versions in package-lock.json are the versions that run.
  externalModules: [] as string[],
} satisfies BundlingOptions;

/** How a function may use a table. `append` is read plus `PutItem` only: audit events are never updated or deleted. */
export type TableAccess = 'read' | 'append' | 'readWrite';

/** The actions of each access, on the table (and, where asked, its indexes). The relay's task role appends as `append`. */
export const TABLE_ACTIONS: Readonly<Record<TableAccess, readonly string[]>> = {
  read: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DescribeTable',
  ],
  append: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DescribeTable',
    'dynamodb:PutItem',
  ],
  readWrite: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DescribeTable',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ],
};

/** How a function may use the audit bucket: key prefixes (`events/`, …) it may read objects under, and write under. */
export interface AuditBucketAccess {
  readonly read?: readonly string[];
  readonly write?: readonly string[];
}

/** The validated configuration with its Cedar policies, as one JSON document (shared/config/bundle.ts). */
export interface BundledConfig {
  /** The bundle's text, written into every function as `gatehouse.config.json`. */
  readonly bundle: string;
}

export interface GatehouseFunctionProps {
  /** Absolute path of the handler file (`functions/<verb-noun>.ts`). */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** The repository root: where `package-lock.json` and `tsconfig.json` are. */
  readonly projectRoot: string;
  readonly config: BundledConfig;
  /** Key encrypting the function's log group. */
  readonly logKey: IKey;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** Caps the blast radius of a flood and keeps the other functions' capacity. @default 10 */
  readonly reservedConcurrentExecutions?: number;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  readonly environment?: Record<string, string>;
}

/**
 * A Gatehouse Lambda function: Node.js 22 on arm64, X-Ray active, ESM bundle with the SDK bundled (pinned versions),
 * the configuration and policies copied in, a KMS-encrypted log group with retention, and its own role whose permissions
 * live in one customer-managed policy, added only through the `bind*` methods (each adds the variable and the grant).
 */
export class GatehouseFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: IRole;
  readonly logGroup: LogGroup;
  /** The one policy holding every permission of this function (no inline policies: HIPAA IAMNoInlinePolicy). */
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: GatehouseFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_YEAR,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Gatehouse ${id}`,
    });
    this.policy = new ManagedPolicy(this, 'Policy', { roles: [role] });
    this.policy.addStatements(
      new PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
      // X-Ray has no resource-level permissions (https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html).
      new PolicyStatement({
        sid: 'WriteTraces',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      }),
    );
    Validations.of(this.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'xray:PutTraceSegments and xray:PutTelemetryRecords use Resource "*": X-Ray defines no resource types, so they cannot be scoped. Any other statement on "*" is acknowledged beside it with its own reason (addToPolicyOnAnyResource); the rest name their resources.',
    });
    // Grants that CDK constructs would add on their own go nowhere: every permission is written into `policy` here.
    this.role = role.withoutPolicyUpdates();

    // Content-addressed, so every function of one synthesis copies the same file and asset hashes follow the content.
    const bundleFile = join(
      tmpdir(),
      `gatehouse-config-${createHash('sha256').update(props.config.bundle).digest('hex')}.json`,
    );
    writeFileSync(bundleFile, props.config.bundle);
    const copies = [`cp ${quote(bundleFile)} ${quote('{out}/gatehouse.config.json')}`];
    const cedarWasm = join(props.projectRoot, 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm');
    const commandHooks: ICommandHooks = {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) => [
        ...copies.map((command) => command.split('{out}').join(outputDir)),
        // cedar-wasm's node build reads its .wasm beside the module (`${__dirname}/cedar_wasm_bg.wasm`); only bundles
        // that include it get the 4 MB file.
        `if grep -q cedar_wasm_bg.wasm ${quote(`${outputDir}/index.mjs`)}; then cp ${quote(cedarWasm)} ${quote(outputDir)}; fi`,
      ],
    };

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 512,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions ?? 10,
      role: this.role,
      logGroup: this.logGroup,
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      environment: {
        GATEHOUSE_CONFIG: BUNDLED_CONFIG_PATH,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        ...GATEHOUSE_BUNDLING,
        tsconfig: join(props.projectRoot, 'tsconfig.json'),
        commandHooks,
      },
    });
    // Lambda needs the role's permissions (logs) in place before it can start: wait for the managed policy.
    this.function.node.addDependency(this.policy);
  }

  /**
   * Sets `variable` to the table's name and grants `access` to the table, the named indexes (never `index/*`) and the
   * table's key.
   */
  bindTable(variable: string, table: ITable, access: TableAccess, indexes: readonly string[] = []): this {
    this.function.addEnvironment(variable, table.tableName);
    const resources = [table.tableArn, ...indexes.map((index) => `${table.tableArn}/index/${index}`)];
    this.policy.addStatements(new PolicyStatement({ actions: [...TABLE_ACTIONS[access]], resources }));
    if (table.encryptionKey) {
      const actions =
        access === 'read'
          ? ['kms:Decrypt', 'kms:DescribeKey']
          : ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];
      this.policy.addStatements(new PolicyStatement({ actions, resources: [table.encryptionKey.keyArn] }));
    }
    return this;
  }

  /** Sets `variable` to the state machine's ARN and allows starting (and describing) its executions. */
  bindStateMachineStart(variable: string, stateMachineArn: string): this {
    this.function.addEnvironment(variable, stateMachineArn);
    this.policy.addStatements(
      new PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }),
    );
    return this;
  }

  /**
   * Sets `variable` to `{ "<cluster>": ["<role arn>", …] }`; with `assume`, also allows assuming exactly those roles with
   * session tags and a source identity (the token-minting functions only).
   */
  bindSlotRoles(variable: string, slotRoleArns: Record<string, string[]>, options: { assume: boolean }): this {
    this.function.addEnvironment(variable, Stack.of(this).toJsonString(slotRoleArns));
    const resources = Object.values(slotRoleArns).flat();
    if (options.assume && resources.length > 0) {
      this.policy.addStatements(
        new PolicyStatement({
          sid: 'AssumeSlotRoles',
          actions: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
          resources,
        }),
      );
    }
    return this;
  }

  /**
   * Sets `variable` to the secret's ARN and allows reading its value (every version stage: a verifier may read AWSCURRENT
   * and AWSPREVIOUS) and decrypting it with its key, only through Secrets Manager.
   */
  bindSecret(variable: string, secret: ISecret): this {
    this.function.addEnvironment(variable, secret.secretArn);
    this.policy.addStatements(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
    );
    if (secret.encryptionKey) {
      this.policy.addStatements(
        new PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [secret.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
    return this;
  }

  /**
   * Sets `variable` to the state machine's ARN (for logs and for telling its task tokens apart) and allows answering its
   * callback tasks. `states:SendTaskSuccess` and `states:SendTaskFailure` define no resource types in the Service
   * Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html),
   * so the statement is on Resource "*" and acknowledged here with that reason.
   */
  bindTaskCallbacks(variable: string, stateMachineArn: string): this {
    this.function.addEnvironment(variable, stateMachineArn);
    return this.addToPolicyOnAnyResource(
      new PolicyStatement({
        sid: 'AnswerTaskTokens',
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: ['*'],
      }),
      'states:SendTaskSuccess and states:SendTaskFailure use Resource "*": the Service Authorization Reference lists no resource type for them (a task token, not an ARN, names the task), so they cannot be scoped to the lifecycle state machine. A token is an unguessable value the backend keeps in DynamoDB and never returns to a client; without one, these actions do nothing.',
    );
  }

  /**
   * Sets `variable` to the state machine's ARN and allows heartbeats for its callback tasks. `states:SendTaskHeartbeat`,
   * like SendTaskSuccess, defines no resource type in the Service Authorization Reference, so the statement is on
   * Resource "*" and acknowledged here with that reason.
   */
  bindTaskHeartbeats(variable: string, stateMachineArn: string): this {
    this.function.addEnvironment(variable, stateMachineArn);
    return this.addToPolicyOnAnyResource(
      new PolicyStatement({ sid: 'BeatTaskTokens', actions: ['states:SendTaskHeartbeat'], resources: ['*'] }),
      'states:SendTaskHeartbeat uses Resource "*": the Service Authorization Reference lists no resource type for it (a task token, not an ARN, names the task), so it cannot be scoped to the lifecycle state machine. It only keeps a waiting task alive; it cannot answer or end one.',
    );
  }

  /**
   * Sets `variable` to the bucket's name and allows `s3:GetObject` and `s3:PutObject` only under the given prefixes, with
   * the bucket's key through S3 only. Nothing else: no delete, no retention or legal hold, no version reads; new objects
   * take the bucket's default Object Lock retention without any permission.
   */
  bindAuditBucket(variable: string, bucket: IBucket, access: AuditBucketAccess): this {
    this.function.addEnvironment(variable, bucket.bucketName);
    const bucketArn = importedArnOf(this, bucket, bucket.bucketArn);
    const under = (prefix: string) => `${bucketArn}/${prefix}*`;
    const read = (access.read ?? []).map(under);
    const write = (access.write ?? []).map(under);
    // ListBucket on the bucket itself: S3 answers a HEAD or GET of a missing key with 404 only to a caller that may list
    // the bucket, and 403 otherwise (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html); write-once
    // puts and missing-digest checks depend on that 404. It lists key names, never contents.
    this.policy.addStatements(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucketArn] }));
    if (read.length > 0) this.policy.addStatements(new PolicyStatement({ actions: ['s3:GetObject'], resources: read }));
    if (write.length > 0)
      this.policy.addStatements(new PolicyStatement({ actions: ['s3:PutObject'], resources: write }));
    if (bucket.encryptionKey) {
      const actions = [
        ...(read.length > 0 ? ['kms:Decrypt'] : []),
        ...(write.length > 0 ? ['kms:GenerateDataKey'] : []),
      ];
      this.policy.addStatements(
        new PolicyStatement({
          actions,
          resources: [bucket.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
    for (const prefix of new Set([...(access.read ?? []), ...(access.write ?? [])])) {
      Validations.of(this.policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(this).resolve(under(prefix)))}]`,
        reason: `Audit bucket keys under ${prefix} are named by hour, stream and sequence or batch (shared/evidence/archive-layout.ts), so access is granted by prefix, never to the whole bucket; the bucket policy denies deletes and retention changes to everyone.`,
      });
    }
    return this;
  }

  /** Sets `variable` to the key's ARN and allows signing with it and reading its public key, nothing else. */
  bindSigningKey(variable: string, key: IKey): this {
    this.function.addEnvironment(variable, key.keyArn);
    this.policy.addStatements(
      new PolicyStatement({ actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [key.keyArn] }),
    );
    return this;
  }

  /**
   * Invokes the function from the table's stream with `options`, failed batches' metadata going to `deadLetterQueue`,
   * and allows what the event source mapping does with this role (CDK's own grants go nowhere, see `role`): read the
   * stream, decrypt it with the table's key, and send to the queue, encrypting with its key through SQS.
   */
  bindTableStream(table: ITable, deadLetterQueue: IQueue, options: Omit<DynamoEventSourceProps, 'onFailure'>): this {
    if (!table.tableStreamArn) throw new Error(`table ${table.node.path} has no stream`);
    this.function.addEventSource(new DynamoEventSource(table, { ...options, onFailure: new SqsDlq(deadLetterQueue) }));
    this.policy.addStatements(
      new PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [table.tableStreamArn],
      }),
      new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [deadLetterQueue.queueArn] }),
    );
    if (table.encryptionKey) {
      this.policy.addStatements(
        new PolicyStatement({ actions: ['kms:Decrypt', 'kms:DescribeKey'], resources: [table.encryptionKey.keyArn] }),
      );
    }
    if (deadLetterQueue.encryptionMasterKey) {
      this.policy.addStatements(
        new PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [deadLetterQueue.encryptionMasterKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
    return this.addToPolicyOnAnyResource(
      new PolicyStatement({ sid: 'ListTableStreams', actions: ['dynamodb:ListStreams'], resources: ['*'] }),
      'dynamodb:ListStreams uses Resource "*": the Service Authorization Reference lists no resource type for it, and Lambda\u2019s DynamoDB event source needs it (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html). It returns stream ARNs only; reading records is limited to the events table\u2019s stream.',
    );
  }

  /** Adds a statement on Resource "*" with the reason it cannot be scoped, acknowledged beside the policy. */
  addToPolicyOnAnyResource(statement: PolicyStatement, reason: string): this {
    this.policy.addStatements(statement);
    Validations.of(this.policy).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
    return this;
  }

  /** Adds a statement to the function's policy (for permissions without an environment variable). */
  addToPolicy(statement: PolicyStatement): this {
    this.policy.addStatements(statement);
    return this;
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

function quote(value: string): string {
  return `'${value.split("'").join(`'\\''`)}'`;
}
