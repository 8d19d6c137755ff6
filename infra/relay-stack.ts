import { CfnOutput, Stack, Token, type StackProps } from 'aws-cdk-lib';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Vpc, type ISubnet, type IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { ClusterConfig, GatehouseConfig, RelayConfig } from '../shared/config/schema.ts';
import type { InfraConfig } from './config.ts';
import { clusterArns } from './control-plane-stack.ts';
import { RelayEndpoints } from './constructs/relay-endpoints.ts';
import { RelayLoadBalancer } from './constructs/relay-load-balancer.ts';
import { RelayService } from './constructs/relay-service.ts';
import { RelayTaskRole } from './constructs/relay-task-role.ts';

export type RelayDeployment = NonNullable<RelayConfig['deployment']>;

export interface RelayStackProps extends StackProps {
  /** The configuration: `relay.deployment` says where the relay runs; the bundle goes into the image. */
  readonly config: InfraConfig;
  /** The repository root: the image's build context. */
  readonly projectRoot: string;
  /** The stateful stack's data key: the tables', the audit bucket's, and the relay log group's. */
  readonly key: IKey;
  readonly eventsTable: ITable;
  readonly stateTable: ITable;
  /** The object-locked audit archive: session recordings go under `sessions/`. */
  readonly auditBucket: IBucket;
  /** Where the NLB's access logs go (the stateful stack's access-log bucket: SSE-S3, retained as long as the archive). */
  readonly accessLogBucket: IBucket;
  /** The asymmetric key relay credentials are signed with; the relay reads its public key. */
  readonly relayCredentialKey: IKey;
  /**
   * Create the VPC endpoints the relay needs when its subnets have no NAT (DynamoDB and S3 gateways; KMS, STS, EKS,
   * CloudWatch Logs, ECR API and Docker interfaces). Turn off in a VPC that already has them: a second interface endpoint
   * with private DNS for the same service fails to create. @default true
   */
  readonly createEndpoints?: boolean;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
}

/**
 * The relay for agents that may see PHI (DESIGN.md section 2.4): ECS Fargate tasks in the configured private subnets
 * behind an internal NLB with TLS, with VPC endpoints for subnets without NAT.
 *
 * The VPC is found with `Vpc.fromLookup` (by `relay.deployment.vpcId`), not `Vpc.fromVpcAttributes`: the configuration
 * names subnets only, while interface endpoints need each subnet's availability zone and gateway endpoints its route
 * table, which only the lookup provides. So the stack needs a concrete account and region (`gatehouse:account`,
 * `gatehouse:region`), and `cdk synth` records the lookup in `cdk.context.json` (commit it: later syntheses then read it
 * and need no AWS credentials; tests put the lookup's answer in the context). Every configured subnet must be a private
 * or isolated subnet of that VPC.
 */
export class RelayStack extends Stack {
  readonly vpc: IVpc;
  /** The configured subnets, as found in the VPC. */
  readonly subnets: ISubnet[];
  readonly taskRole: RelayTaskRole;
  readonly loadBalancer: RelayLoadBalancer;
  readonly service: RelayService;
  /** Absent when `createEndpoints` is false. */
  readonly endpoints?: RelayEndpoints;

  constructor(scope: Construct, id: string, props: RelayStackProps) {
    super(scope, id, props);
    const { config } = props.config;
    const deployment = config.relay.deployment;
    if (!deployment) throw new Error('RelayStack: the configuration has no relay.deployment');
    const cluster = frontedCluster(config.clusters, deployment);
    if (Token.isUnresolved(this.account) || Token.isUnresolved(this.region)) {
      throw new Error(
        'relay.deployment needs a concrete account and region to look its VPC up: set the gatehouse:account and gatehouse:region context',
      );
    }

    this.vpc = Vpc.fromLookup(this, 'Vpc', { vpcId: deployment.vpcId });
    this.subnets = relaySubnets(this.vpc, deployment);

    this.taskRole = new RelayTaskRole(this, 'TaskRole', {
      eventsTable: props.eventsTable,
      stateTable: props.stateTable,
      auditBucket: props.auditBucket,
      dataKey: props.key,
      relayCredentialKey: props.relayCredentialKey,
      clusterArn: clusterArns(cluster).cluster,
    });
    this.loadBalancer = new RelayLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      subnets: this.subnets,
      certificateArn: deployment.certificateArn,
      clientCidrs: deployment.clientCidrs,
      accessLogBucket: props.accessLogBucket,
    });
    this.service = new RelayService(this, 'Relay', {
      ...(config.masking.hashKey ? { secrets: hashKeySecrets(this, config.masking.hashKey, deployment) } : {}),
      vpc: this.vpc,
      subnets: this.subnets,
      projectRoot: props.projectRoot,
      configBundle: props.config.bundle,
      environment: {
        GATEHOUSE_RELAY_CLUSTER: cluster.name,
        EVENTS_TABLE: props.eventsTable.tableName,
        STATE_TABLE: props.stateTable.tableName,
        AUDIT_BUCKET: props.auditBucket.bucketName,
        RELAY_CREDENTIAL_KEY_ID: props.relayCredentialKey.keyArn,
      },
      vCpus: deployment.vCpus,
      taskRole: this.taskRole.role,
      logKey: props.key,
      loadBalancer: this.loadBalancer,
      minTasks: deployment.minTasks,
      maxTasks: deployment.maxTasks,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    if (props.createEndpoints ?? true) {
      this.endpoints = new RelayEndpoints(this, 'Endpoints', {
        vpc: this.vpc,
        subnets: this.subnets,
        clients: this.service.securityGroup,
      });
    }

    new CfnOutput(this, 'RelayTaskRoleArn', {
      description: `Give this role an EKS access entry on cluster ${cluster.eksClusterName ?? cluster.name} (operator guide, "Relay")`,
      value: this.taskRole.roleArn,
    });
    new CfnOutput(this, 'RelayLoadBalancerDnsName', {
      description: 'The internal NLB: point relay.url (or a private DNS record matching the certificate) at it',
      value: this.loadBalancer.loadBalancer.loadBalancerDnsName,
    });
  }
}

/** The configured cluster the relay fronts; an unknown name stops synthesis. */
function frontedCluster(clusters: readonly ClusterConfig[], deployment: RelayDeployment): ClusterConfig {
  const cluster = clusters.find((candidate) => candidate.name === deployment.cluster);
  if (!cluster) {
    throw new Error(
      `relay.deployment.cluster "${deployment.cluster}" is not a configured cluster (${clusters.map((c) => c.name).join(', ')})`,
    );
  }
  return cluster;
}

/**
 * The configured subnets as the VPC lookup describes them (with their AZ and route table). While the lookup is pending
 * (the first pass of `cdk synth`, before the CLI has asked EC2), the VPC is CDK's placeholder and its private subnets
 * stand in; the CLI then synthesizes again with the answer. Every configured id must be a private or isolated subnet.
 */
function relaySubnets(vpc: IVpc, deployment: RelayDeployment): ISubnet[] {
  if (vpc.selectSubnets().isPendingLookup) return vpc.privateSubnets;
  const candidates = [...vpc.privateSubnets, ...vpc.isolatedSubnets];
  const errors: string[] = [];
  const subnets = deployment.privateSubnetIds.flatMap((id) => {
    const subnet = candidates.find((candidate) => candidate.subnetId === id);
    if (subnet) return [subnet];
    const isPublic = vpc.publicSubnets.some((candidate) => candidate.subnetId === id);
    errors.push(
      isPublic
        ? `relay.deployment.privateSubnetIds: ${id} is a public subnet of ${deployment.vpcId}`
        : `relay.deployment.privateSubnetIds: ${id} is not a subnet of ${deployment.vpcId}`,
    );
    return [];
  });
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return subnets;
}

/**
 * The masking hash key for the relay's container: ECS reads it from Secrets Manager into the variable `masking.hashKey`
 * names, so it is never in the task definition. A key file cannot be given to a task, and a task without its key would
 * stop at start (hash rules need it): both are synth errors.
 */
function hashKeySecrets(
  scope: Construct,
  hashKey: NonNullable<GatehouseConfig['masking']['hashKey']>,
  deployment: NonNullable<GatehouseConfig['relay']['deployment']>,
): Record<string, ISecret> {
  if (!('env' in hashKey)) {
    throw new Error(
      'the relay on ECS reads masking.hashKey from a variable: use { env: NAME } with relay.deployment.hashKeySecretArn',
    );
  }
  if (!deployment.hashKeySecretArn) {
    throw new Error(
      `masking.hashKey is the variable ${hashKey.env}: relay.deployment.hashKeySecretArn must name the secret that holds it`,
    );
  }
  return { [hashKey.env]: Secret.fromSecretCompleteArn(scope, 'MaskingHashKey', deployment.hashKeySecretArn) };
}
