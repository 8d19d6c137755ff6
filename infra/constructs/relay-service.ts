import { Duration, Names, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { CfnScalingPolicy, type ScalableTarget } from 'aws-cdk-lib/aws-applicationautoscaling';
import { Peer, Port, SecurityGroup, type ISubnet, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  AwsLogDriverMode,
  Capability,
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  LinuxParameters,
  LogDrivers,
  OperatingSystemFamily,
  type ContainerDefinition,
  Secret as EcsSecret,
  type ScalableTaskCount,
} from 'aws-cdk-lib/aws-ecs';
import { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import type { NetworkLoadBalancer, NetworkTargetGroup } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { RELAY_CONTAINER_PORT, RELAY_DRAIN_TIME, type RelayLoadBalancer } from './relay-load-balancer.ts';

/** Where the image holds the configuration bundle, and so the value of `GATEHOUSE_CONFIG` (as in the functions). */
export const RELAY_CONFIG_PATH = '/app/gatehouse.config.json';

/** The relay's container name in the task definition. */
export const RELAY_CONTAINER_NAME = 'relay';

/** The uid:gid of the `node` user of the official Node.js images: the relay never runs as root. */
export const RELAY_USER = '1000:1000';

/** Target tracking on the service's average CPU. */
export const RELAY_CPU_TARGET_PERCENT = 60;

export interface RelayServiceProps {
  readonly vpc: IVpc;
  /** Private subnets for the tasks (no public IP). */
  readonly subnets: ISubnet[];
  /** The build context of the image: the repository root (`.dockerignore` keeps only what the image needs). */
  readonly projectRoot: string;
  /** The configuration bundle (shared/config/bundle.ts), written into the image at RELAY_CONFIG_PATH. */
  readonly configBundle: string;
  /** Variables of the relay process besides `GATEHOUSE_CONFIG`. */
  readonly environment: Record<string, string>;
  /**
   * Variables ECS fills from these Secrets Manager secrets at start (the masking hash key): never in the task
   * definition. A secret must be encrypted with the aws/secretsmanager key, or its key policy must let the execution
   * role decrypt.
   */
  readonly secrets?: Record<string, ISecret>;
  /** The task role (RelayTaskRole). */
  readonly taskRole: IRole;
  /** Encrypts the log group. */
  readonly logKey: IKey;
  readonly loadBalancer: RelayLoadBalancer;
  readonly minTasks: number;
  readonly maxTasks: number;
  /**
   * vCPUs of a task, each with 2 GiB of memory; the relay runs one worker process per vCPU (RELAY_WORKERS).
   * @default 1
   */
  readonly vCpus?: 1 | 2 | 4 | 8;
  /** @default RetentionDays.ONE_YEAR, as the control plane's logs */
  readonly logRetention?: RetentionDays;
  /**
   * Target of concurrent TLS flows (kubectl connections, watches and exec sessions) per healthy task, tracked with the
   * service's tasks as capacity. @default 200 per vCPU
   */
  readonly flowsPerTaskTarget?: number;
}

/**
 * The relay on ECS Fargate: a cluster with Container Insights, an ARM64 task (1 vCPU / 2 GiB by default) whose one
 * container runs as a non-root user on a read-only root filesystem with every Linux capability dropped, logs to a
 * KMS-encrypted log group with retention, registers with the NLB's target group, and scales between the configured task
 * counts on CPU and on TLS flows per task. Deployments roll back on their own when new tasks do not become healthy.
 */
export class RelayService extends Construct {
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly service: FargateService;
  readonly logGroup: LogGroup;
  readonly securityGroup: SecurityGroup;
  readonly image: DockerImageAsset;
  readonly executionPolicy: ManagedPolicy;
  readonly scaling: ScalableTaskCount;

  constructor(scope: Construct, id: string, props: RelayServiceProps) {
    super(scope, id);
    this.cluster = new Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_YEAR,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Synthesis stages the build context only; the image is built and pushed by `cdk deploy` (cdk-assets).
    this.image = new DockerImageAsset(this, 'Image', {
      directory: props.projectRoot,
      file: 'relay/Dockerfile',
      platform: Platform.LINUX_ARM64,
      // Part of the asset hash: a configuration change builds a new image and rolls the service, as it redeploys the
      // functions. Base64, because a build argument is one line of text.
      buildArgs: { GATEHOUSE_CONFIG_BUNDLE: Buffer.from(props.configBundle).toString('base64') },
    });

    const executionRole = new Role(this, 'ExecutionRole', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'Gatehouse relay task execution: pull the relay image, write the relay logs',
    });
    this.executionPolicy = new ManagedPolicy(this, 'ExecutionPolicy', {
      roles: [executionRole],
      statements: [
        new PolicyStatement({
          sid: 'PullRelayImage',
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [this.image.repository.repositoryArn],
        }),
        // ECR authorization tokens are per registry, not per repository: the action has no resource type
        // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html).
        new PolicyStatement({ sid: 'GetRegistryToken', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
        new PolicyStatement({
          sid: 'WriteRelayLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
        }),
        // The role takes no automatic grants (withoutPolicyUpdates below): ECS reads the container's secrets with it.
        ...(props.secrets
          ? [
              new PolicyStatement({
                sid: 'ReadContainerSecrets',
                actions: ['secretsmanager:GetSecretValue'],
                resources: Object.values(props.secrets).map((secret) => secret.secretArn),
              }),
            ]
          : []),
      ],
    });
    Validations.of(this.executionPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only ecr:GetAuthorizationToken is on Resource "*": the Service Authorization Reference lists no resource type for it (a token is for the registry, not a repository). Pulling layers is limited to the CDK container-assets repository, and logs to the relay log group.',
    });

    const vCpus = props.vCpus ?? 1;
    this.taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: vCpus * 1024,
      memoryLimitMiB: vCpus * 2048,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
      taskRole: props.taskRole,
      executionRole: executionRole.withoutPolicyUpdates(),
    });
    // The task starts only when its execution role can pull the image and write logs.
    this.taskDefinition.node.addDependency(this.executionPolicy);

    const linuxParameters = new LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true });
    linuxParameters.dropCapabilities(Capability.ALL);
    this.container = this.taskDefinition.addContainer(RELAY_CONTAINER_NAME, {
      image: ContainerImage.fromDockerImageAsset(this.image),
      essential: true,
      user: RELAY_USER,
      readonlyRootFilesystem: true,
      linuxParameters,
      portMappings: [{ containerPort: RELAY_CONTAINER_PORT, name: 'https' }],
      environment: {
        GATEHOUSE_CONFIG: RELAY_CONFIG_PATH,
        NODE_OPTIONS: '--enable-source-maps',
        RELAY_WORKERS: String(vCpus),
        ...props.environment,
      },
      ...(props.secrets
        ? {
            secrets: Object.fromEntries(
              Object.entries(props.secrets).map(([variable, secret]) => [
                variable,
                EcsSecret.fromSecretsManager(secret),
              ]),
            ),
          }
        : {}),
      // Fargate's longest: the NLB drains the task's open streams for as long (RELAY_DRAIN_TIME).
      stopTimeout: RELAY_DRAIN_TIME,
      logging: LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'relay',
        // A slow CloudWatch Logs must not stall the proxy's streams: buffer in memory, drop if the buffer fills.
        mode: AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        "The plain variables are a file path in the image, a cluster name, and the names and ARNs of the tables, bucket and key the task role is scoped to: no secret. AWS credentials come from the task role and the TLS certificate is generated at start; the one secret the relay may need, the masking hash key, comes through the container's `secrets` from Secrets Manager (relay.deployment.hashKeySecretArn), never as a plain variable.",
    });
    // The root filesystem is read-only; /tmp is the task's ephemeral storage (the image's /tmp, mode 1777, is copied in).
    this.taskDefinition.addVolume({ name: 'tmp' });
    this.container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Gatehouse relay tasks: 8443 from the NLB only; HTTPS out only (EKS, AWS APIs)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      Peer.anyIpv4(),
      Port.tcp(443),
      'HTTPS to the EKS endpoint and AWS APIs (VPC endpoints, S3 and DynamoDB gateways)',
    );
    this.securityGroup.connections.allowFrom(
      props.loadBalancer.securityGroup,
      Port.tcp(RELAY_CONTAINER_PORT),
      'relay traffic and health checks from the NLB',
    );

    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.minTasks,
      platformVersion: FargatePlatformVersion.LATEST,
      vpcSubnets: { subnets: props.subnets },
      assignPublicIp: false,
      securityGroups: [this.securityGroup],
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      healthCheckGracePeriod: Duration.seconds(60),
      enableExecuteCommand: false,
    });
    props.loadBalancer.targetGroup.addTarget(
      this.service.loadBalancerTarget({ containerName: RELAY_CONTAINER_NAME, containerPort: RELAY_CONTAINER_PORT }),
    );

    this.scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks, maxCapacity: props.maxTasks });
    this.scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: RELAY_CPU_TARGET_PERCENT,
      scaleOutCooldown: Duration.seconds(60),
      // Scaling in drains a task for two minutes: do it slowly.
      scaleInCooldown: Duration.minutes(5),
    });
    this.scaleOnFlowsPerTask(
      props.loadBalancer.loadBalancer,
      props.loadBalancer.targetGroup,
      props.flowsPerTaskTarget ?? 200 * vCpus,
    );
  }

  /**
   * Target tracking on concurrent TLS flows per healthy task. NLBs have no per-target predefined metric (ALB's
   * ALBRequestCountPerTarget has no NLB counterpart) and `ActiveFlowCount_TLS` has only the LoadBalancer dimension, so the
   * policy tracks metric math: the load balancer's flows divided by the target group's `HealthyHostCount`
   * (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html). The NLB has
   * one target group, so its flows are the relay's. CDK's target tracking takes a single metric only, hence the L1.
   */
  private scaleOnFlowsPerTask(nlb: NetworkLoadBalancer, targets: NetworkTargetGroup, target: number): void {
    const scalableTarget = this.scaling.node.findChild('Target') as ScalableTarget;
    const stat = (id: string, metricName: string, dimensions: Record<string, string>, statistic: string) => ({
      id,
      returnData: false,
      metricStat: {
        metric: {
          namespace: 'AWS/NetworkELB',
          metricName,
          dimensions: Object.entries(dimensions).map(([name, value]) => ({ name, value })),
        },
        stat: statistic,
      },
    });
    new CfnScalingPolicy(this, 'FlowsPerTask', {
      policyName: `${Names.uniqueId(this)}FlowsPerTask`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: scalableTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: target,
        scaleOutCooldown: 60,
        scaleInCooldown: 300,
        customizedMetricSpecification: {
          metrics: [
            stat('flows', 'ActiveFlowCount_TLS', { LoadBalancer: nlb.loadBalancerFullName }, 'Average'),
            stat(
              'tasks',
              'HealthyHostCount',
              { LoadBalancer: nlb.loadBalancerFullName, TargetGroup: targets.targetGroupFullName },
              'Average',
            ),
            { id: 'flowsPerTask', expression: 'flows / tasks', label: 'TLS flows per healthy task', returnData: true },
          ],
        },
      },
    });
  }
}
