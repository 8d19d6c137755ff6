import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, PROJECT_ROOT } from '../../infra/app.ts';
import { ESM_BANNER, GATEHOUSE_BUNDLING } from '../../infra/constructs/gatehouse-function.ts';
import { RELAY_INTERFACE_ENDPOINTS } from '../../infra/constructs/relay-endpoints.ts';
import { RELAY_CONFIG_PATH } from '../../infra/constructs/relay-service.ts';
import type { RelayStack } from '../../infra/relay-stack.ts';
import {
  RELAY_TEST_CONFIG,
  RELAY_TEST_DEPLOYMENT,
  RELAY_TEST_ENV,
  RELAY_TEST_SUBNETS,
  RELAY_TEST_VPC,
  relayLookupContext,
} from './fixtures/relay.ts';
import { buildTestApp, TEST_CONFIG, writeTestConfig, type TestApp } from './support.ts';

const FIXTURES = join(PROJECT_ROOT, 'test/infra/fixtures');
const NO_BUNDLING = ['aws:cdk:bundling-stacks', []] as const;

interface RelayTestApp extends TestApp {
  relay: RelayStack;
}

/**
 * The Gatehouse app as `cdk synth` builds it with a relay deployment, its VPC lookup answered from the context. The
 * functions are not bundled (`aws:cdk:bundling-stacks`): nothing here concerns their code, and each bundling of the
 * control plane costs seconds.
 */
function buildRelayApp(config: unknown = RELAY_TEST_CONFIG, context: Record<string, unknown> = {}): RelayTestApp {
  const built = buildTestApp(config, {
    [NO_BUNDLING[0]]: NO_BUNDLING[1],
    'gatehouse:account': RELAY_TEST_ENV.account,
    'gatehouse:region': RELAY_TEST_ENV.region,
    ...relayLookupContext(),
    ...context,
  });
  return { ...built, relay: built.app.node.findChild('GatehouseRelay') as RelayStack };
}

const packs = (): NagPack[] => [new HIPAASecurityChecks(), new AwsSolutionsChecks(), new ServerlessChecks()];

function findings(scope: App | Stack): string[] {
  return packs().flatMap((pack) =>
    pack
      .validateScope(scope)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) at ${r.constructPath}`),
      ),
  );
}

/** A cross-stack reference to an attribute of the stateful stack, as the relay stack's template imports it. */
const imported = (exportSuffix: RegExp) => ({ 'Fn::ImportValue': Match.stringLikeRegexp(exportSuffix.source) });

let built: RelayTestApp;
let template: Template;
let reportFile: string;

beforeAll(() => {
  built = buildRelayApp();
  template = Template.fromStack(built.relay);
  reportFile = join(built.app.synth().directory, 'validation-report.json');
});

describe('RelayStack wiring', () => {
  it('is created only when the configuration has relay.deployment', () => {
    const { app } = buildTestApp(TEST_CONFIG, { [NO_BUNDLING[0]]: NO_BUNDLING[1] });
    expect(app.node.tryFindChild('GatehouseRelay')).toBeUndefined();
    expect(built.relay.stackName).toBe('GatehouseRelay');
  });

  it('refuses to synthesize without a concrete account and region (the VPC is looked up)', () => {
    expect(() =>
      buildRelayApp(RELAY_TEST_CONFIG, { 'gatehouse:account': undefined, 'gatehouse:region': undefined }),
    ).toThrow(/gatehouse:account and gatehouse:region/);
  });

  it('refuses a cluster that is not configured, and subnets that are public or not in the VPC, naming each', () => {
    const unknownCluster = {
      ...RELAY_TEST_CONFIG,
      relay: { deployment: { ...RELAY_TEST_DEPLOYMENT, cluster: 'nope' } },
    };
    expect(() => buildRelayApp(unknownCluster)).toThrow(/relay.deployment.cluster "nope" is not a configured cluster/);
    const badSubnets = {
      ...RELAY_TEST_CONFIG,
      relay: {
        deployment: {
          ...RELAY_TEST_DEPLOYMENT,
          privateSubnetIds: [RELAY_TEST_SUBNETS.publicA.subnetId, 'subnet-0dddddddddddddddd'],
        },
      },
    };
    expect(() => buildRelayApp(badSubnets)).toThrow(
      new RegExp(
        `${RELAY_TEST_SUBNETS.publicA.subnetId} is a public subnet of ${RELAY_TEST_DEPLOYMENT.vpcId}\\n.*subnet-0dddddddddddddddd is not a subnet`,
      ),
    );
  });

  it('synthesizes with CDK placeholders while the VPC lookup is pending, reporting the lookup as missing context', () => {
    const app = new App({
      context: {
        [NO_BUNDLING[0]]: NO_BUNDLING[1],
        'gatehouse:config': writeTestConfig(RELAY_TEST_CONFIG),
        'gatehouse:account': RELAY_TEST_ENV.account,
        'gatehouse:region': RELAY_TEST_ENV.region,
      },
    });
    buildApp(app, {
      controlPlane: {
        functionsDir: join(FIXTURES, 'functions'),
        lifecycleDefinitionFile: join(FIXTURES, 'access-lifecycle.asl.json'),
      },
    });
    const missing = app.synth().manifest.missing ?? [];
    expect(missing.map((m) => m.provider)).toEqual(['vpc-provider']);
    expect(Object.keys(relayLookupContext())).toEqual([missing[0]!.key]);
  });

  it('leaves the VPC endpoints out when gatehouse:relayEndpoints is false', () => {
    const without = Template.fromStack(buildRelayApp(RELAY_TEST_CONFIG, { 'gatehouse:relayEndpoints': 'false' }).relay);
    without.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});

describe('RelayStack network', () => {
  it('runs the NLB and the tasks in the configured private subnets only, with no public IP', () => {
    const subnets = RELAY_TEST_DEPLOYMENT.privateSubnetIds;
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internal',
      Subnets: subnets,
    });
    template.hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED', Subnets: subnets } },
    });
  });

  it('admits 443 to the NLB from the client CIDRs only, and lets the NLB send only to the tasks on 8443', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('relay NLB'),
      SecurityGroupIngress: RELAY_TEST_DEPLOYMENT.clientCidrs.map((cidr) => ({
        CidrIp: cidr,
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        Description: `relay clients ${cidr}`,
      })),
    });
    const nlbGroup = groupId('relay NLB');
    const taskGroup = groupId('relay tasks');
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: nlbGroup,
      DestinationSecurityGroupId: taskGroup,
      IpProtocol: 'tcp',
      FromPort: 8443,
      ToPort: 8443,
    });
    // The NLB's group sends nothing else (CDK's "disallow all" placeholder rule, no 0.0.0.0/0).
    expect(JSON.stringify(securityGroup('relay NLB').SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
  });

  it('admits 8443 to the tasks from the NLB only, and lets the tasks out on 443 only', () => {
    const rules = template.findResources('AWS::EC2::SecurityGroupIngress', {
      Properties: { GroupId: groupId('relay tasks') },
    });
    expect(Object.values(rules).map((rule) => rule.Properties)).toEqual([
      {
        GroupId: groupId('relay tasks'),
        SourceSecurityGroupId: groupId('relay NLB'),
        IpProtocol: 'tcp',
        FromPort: 8443,
        ToPort: 8443,
        Description: 'relay traffic and health checks from the NLB',
      },
    ]);
    const tasks = securityGroup('relay tasks');
    expect(tasks.SecurityGroupIngress).toBeUndefined();
    expect(tasks.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    const egress = template.findResources('AWS::EC2::SecurityGroupEgress', {
      Properties: { GroupId: groupId('relay tasks') },
    });
    for (const rule of Object.values(egress)) expect(rule.Properties).toMatchObject({ FromPort: 443, ToPort: 443 });
  });

  it('creates DynamoDB and S3 gateway endpoints on the subnets’ route tables', () => {
    const routeTableIds = [RELAY_TEST_SUBNETS.privateA.routeTableId, RELAY_TEST_SUBNETS.isolatedB.routeTableId];
    for (const service of ['dynamodb', 's3']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        VpcId: RELAY_TEST_VPC.vpcId,
        RouteTableIds: routeTableIds,
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
  });

  it('creates KMS, STS, EKS, Logs, ECR API and ECR Docker interface endpoints, reachable on 443 from the tasks only', () => {
    expect(Object.keys(RELAY_INTERFACE_ENDPOINTS)).toEqual(['Kms', 'Sts', 'Eks', 'Logs', 'EcrApi', 'EcrDocker']);
    for (const service of ['kms', 'sts', 'eks', 'logs', 'ecr.api', 'ecr.dkr']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        ServiceName: `com.amazonaws.${RELAY_TEST_ENV.region}.${service}`,
        PrivateDnsEnabled: true,
        SubnetIds: RELAY_TEST_DEPLOYMENT.privateSubnetIds,
        SecurityGroupIds: [groupId('relay VPC endpoints')],
      });
    }
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 8);
    const endpoints = securityGroup('relay VPC endpoints');
    expect(endpoints.SecurityGroupIngress).toBeUndefined();
    expect(JSON.stringify(endpoints.SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
    const ingress = template.findResources('AWS::EC2::SecurityGroupIngress', {
      Properties: { GroupId: groupId('relay VPC endpoints') },
    });
    expect(Object.values(ingress).map((rule) => rule.Properties)).toEqual([
      expect.objectContaining({ SourceSecurityGroupId: groupId('relay tasks'), FromPort: 443, ToPort: 443 }),
    ]);
  });
});

describe('RelayStack load balancer', () => {
  it('listens with TLS on 443 with the configured ACM certificate and ELBSecurityPolicy-TLS13-1-2-2021-06', () => {
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'TLS',
      Certificates: [{ CertificateArn: RELAY_TEST_DEPLOYMENT.certificateArn }],
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      DefaultActions: [{ Type: 'forward', TargetGroupArn: Match.anyValue() }],
    });
  });

  it('re-encrypts to a TLS target group on 8443 (IP targets), checked by HTTPS /readyz, draining 120 s', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Protocol: 'TLS',
      Port: 8443,
      TargetType: 'ip',
      HealthCheckProtocol: 'HTTPS',
      HealthCheckPath: '/readyz',
      HealthCheckPort: '8443',
      Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: '120' },
        { Key: 'deregistration_delay.connection_termination.enabled', Value: 'true' },
      ]),
    });
  });

  it('protects the NLB from deletion, balances across zones, and writes access logs to the access-log bucket', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'deletion_protection.enabled', Value: 'true' },
        { Key: 'load_balancing.cross_zone.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: imported(/AuditAccessLogBucket/) },
        { Key: 'access_logs.s3.prefix', Value: 'relay-nlb' },
      ]),
      SecurityGroups: [groupId('relay NLB')],
    });
  });

  it('lets log delivery write the NLB logs into the access-log bucket for this account only', () => {
    const stateful = Template.fromStack(built.stateful);
    const condition = {
      StringEquals: { 'aws:SourceAccount': RELAY_TEST_ENV.account },
      ArnLike: { 'aws:SourceArn': Match.anyValue() },
    };
    stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: 'AuditAccessLogBucket' },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'RelayNlbAccessLogDelivery',
            Principal: { Service: 'delivery.logs.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: {
              ...condition,
              StringEquals: { ...condition.StringEquals, 's3:x-amz-acl': 'bucket-owner-full-control' },
            },
          }),
          Match.objectLike({
            Sid: 'RelayNlbAccessLogAclCheck',
            Principal: { Service: 'delivery.logs.amazonaws.com' },
            Action: 's3:GetBucketAcl',
            Condition: condition,
          }),
        ]),
      },
    });
  });
});

describe('RelayStack service', () => {
  it('enables Container Insights on the cluster', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('runs an ARM64 Fargate task, 1 vCPU / 2 GiB, non-root on a read-only root filesystem, capabilities dropped', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'relay',
          User: '1000:1000',
          ReadonlyRootFilesystem: true,
          Privileged: Match.absent(),
          LinuxParameters: { Capabilities: { Drop: ['ALL'] }, InitProcessEnabled: true },
          PortMappings: [{ ContainerPort: 8443, Name: 'https', Protocol: 'tcp' }],
          StopTimeout: 120,
          MountPoints: [{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }],
        }),
      ],
    });
  });

  it('gives the relay its environment: the config bundle path, the fronted cluster, tables, bucket and key', () => {
    const task = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!;
    const environment = Object.fromEntries(
      (task.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).map((variable) => [
        variable.Name,
        variable.Value,
      ]),
    );
    expect(environment).toEqual({
      GATEHOUSE_CONFIG: RELAY_CONFIG_PATH,
      NODE_OPTIONS: '--enable-source-maps',
      RELAY_WORKERS: '1',
      GATEHOUSE_RELAY_CLUSTER: 'staging',
      EVENTS_TABLE: { 'Fn::ImportValue': expect.stringMatching(/RefEventsTable/) },
      STATE_TABLE: { 'Fn::ImportValue': expect.stringMatching(/RefStateTable/) },
      AUDIT_BUCKET: { 'Fn::ImportValue': expect.stringMatching(/RefAuditBucket/) },
      RELAY_CREDENTIAL_KEY_ID: { 'Fn::ImportValue': expect.stringMatching(/RelayCredentialKeyArn/) },
    });
  });

  it('logs to a log group encrypted with the data key, kept one year, through a non-blocking awslogs driver', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 365,
      KmsKeyId: imported(/GatehouseDataKeyArn/),
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          LogConfiguration: {
            LogDriver: 'awslogs',
            Options: Match.objectLike({ 'awslogs-stream-prefix': 'relay', mode: 'non-blocking' }),
          },
        }),
      ],
    });
  });

  it('builds the image from relay/Dockerfile for ARM64 with the configuration bundle as a build argument', () => {
    const manifest = JSON.parse(
      readFileSync(join(built.app.synth().directory, 'GatehouseRelay.assets.json'), 'utf8'),
    ) as { dockerImages: Record<string, { source: Record<string, unknown> }> };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    const source = images[0]!.source;
    expect(source).toMatchObject({ dockerFile: 'relay/Dockerfile', platform: 'linux/arm64' });
    const bundle = Buffer.from(
      (source.dockerBuildArgs as Record<string, string>).GATEHOUSE_CONFIG_BUNDLE!,
      'base64',
    ).toString('utf8');
    expect(JSON.parse(bundle)).toMatchObject({
      format: 'gatehouse.config-bundle/v1',
      config: { relay: { deployment: { cluster: 'staging' } } },
    });
    // Staged, not built: the context holds what the Dockerfile copies and no more (.dockerignore).
    const staged = join(built.app.synth().directory, source.directory as string);
    for (const path of ['relay/Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'shared']) {
      expect(existsSync(join(staged, path)), path).toBe(true);
    }
    for (const path of ['node_modules', 'infra', 'test', 'cdk.out', '.git']) {
      expect(existsSync(join(staged, path)), path).toBe(false);
    }
  });

  it('bundles the relay in the image with the Lambda bundles’ esbuild options (target, format, banner)', () => {
    const dockerfile = readFileSync(join(PROJECT_ROOT, 'relay/Dockerfile'), 'utf8');
    expect(dockerfile).toContain(JSON.stringify(ESM_BANNER));
    expect(dockerfile).toContain(`target: '${GATEHOUSE_BUNDLING.target}'`);
    expect(dockerfile).toContain(`format: '${GATEHOUSE_BUNDLING.format}'`);
    expect(dockerfile).toMatch(/^FROM node:22\.\d+\.\d+-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain(`> dist/gatehouse.config.json`);
    expect(RELAY_CONFIG_PATH).toBe('/app/gatehouse.config.json');
  });

  it('runs minTasks, rolls failed deployments back, and registers the relay container with the target group', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: RELAY_TEST_DEPLOYMENT.minTasks,
      EnableExecuteCommand: false,
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
      }),
      LoadBalancers: [{ ContainerName: 'relay', ContainerPort: 8443, TargetGroupArn: Match.anyValue() }],
    });
  });

  it('scales between minTasks and maxTasks on CPU (60 %) and on TLS flows per healthy task', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: RELAY_TEST_DEPLOYMENT.minTasks,
      MaxCapacity: RELAY_TEST_DEPLOYMENT.maxTasks,
      ScalableDimension: 'ecs:service:DesiredCount',
      ServiceNamespace: 'ecs',
    });
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 2);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 60,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
      },
    });
    const nlb = { 'Fn::GetAtt': [Match.stringLikeRegexp('^LoadBalancerNlb'), 'LoadBalancerFullName'] };
    const targetGroup = { 'Fn::GetAtt': [Match.stringLikeRegexp('^LoadBalancerTargets'), 'TargetGroupFullName'] };
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 200,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
        CustomizedMetricSpecification: {
          Metrics: [
            {
              Id: 'flows',
              ReturnData: false,
              MetricStat: {
                Metric: {
                  Namespace: 'AWS/NetworkELB',
                  MetricName: 'ActiveFlowCount_TLS',
                  Dimensions: [{ Name: 'LoadBalancer', Value: nlb }],
                },
                Stat: 'Average',
              },
            },
            {
              Id: 'tasks',
              ReturnData: false,
              MetricStat: {
                Metric: {
                  Namespace: 'AWS/NetworkELB',
                  MetricName: 'HealthyHostCount',
                  Dimensions: [
                    { Name: 'LoadBalancer', Value: nlb },
                    { Name: 'TargetGroup', Value: targetGroup },
                  ],
                },
                Stat: 'Average',
              },
            },
            { Id: 'flowsPerTask', Expression: 'flows / tasks', Label: Match.anyValue(), ReturnData: true },
          ],
        },
      },
    });
  });
});

describe('RelayStack task size', () => {
  it('sizes a task by relay.deployment.vCpus, 2 GiB a vCPU, with one relay worker and 200 TLS flows per vCPU', () => {
    const config = { ...RELAY_TEST_CONFIG, relay: { deployment: { ...RELAY_TEST_DEPLOYMENT, vCpus: 4 } } };
    const app = buildRelayApp(config);
    const relay = Template.fromStack(app.relay);

    relay.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '4096',
      Memory: '8192',
      ContainerDefinitions: [
        Match.objectLike({ Environment: Match.arrayWith([{ Name: 'RELAY_WORKERS', Value: '4' }]) }),
      ],
    });
    // Four workers serve four times the flows before another task is added.
    relay.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 800 }),
    });
    expect(findings(app.relay)).toEqual([]);
  });

  it('refuses a vCPU count Fargate does not offer', () => {
    const config = { ...RELAY_TEST_CONFIG, relay: { deployment: { ...RELAY_TEST_DEPLOYMENT, vCpus: 3 } } };
    expect(() => buildRelayApp(config)).toThrow(/vCpus/);
  });
});

describe('RelayStack masking hash key', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:gatehouse/masking-hash-key-AbCdEf';
  const withHashKey = (hashKey: unknown, deployment: Record<string, unknown> = {}) => ({
    ...RELAY_TEST_CONFIG,
    masking: { hashKey },
    relay: { deployment: { ...RELAY_TEST_DEPLOYMENT, ...deployment } },
  });

  it('gives the container the key from Secrets Manager in the variable masking.hashKey names, never as plain text', () => {
    const app = buildRelayApp(withHashKey({ env: 'MASKING_HASH_KEY' }, { hashKeySecretArn: SECRET_ARN }));
    const relay = Template.fromStack(app.relay);
    relay.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Secrets: [{ Name: 'MASKING_HASH_KEY', ValueFrom: SECRET_ARN }],
          Environment: Match.not(Match.arrayWith([Match.objectLike({ Name: 'MASKING_HASH_KEY' })])),
        }),
      ],
    });
    relay.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'ReadContainerSecrets',
            Effect: 'Allow',
            Action: 'secretsmanager:GetSecretValue',
            Resource: SECRET_ARN,
          },
        ]),
      },
    });
    expect(findings(app.relay)).toEqual([]);
  });

  it('stops synth when the key has no secret to come from, or is a file a task cannot be given', () => {
    expect(() => buildRelayApp(withHashKey({ env: 'MASKING_HASH_KEY' }))).toThrow(
      /masking.hashKey is the variable MASKING_HASH_KEY: relay.deployment.hashKeySecretArn must name the secret/,
    );
    expect(() => buildRelayApp(withHashKey({ file: 'hash.key' }, { hashKeySecretArn: SECRET_ARN }))).toThrow(
      /use \{ env: NAME \} with relay.deployment.hashKeySecretArn/,
    );
  });
});

describe('RelayStack permissions', () => {
  it('lets only ECS tasks of this account assume the task role', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^Gatehouse relay task:'),
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'ecs-tasks.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': RELAY_TEST_ENV.account },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            },
          },
        ],
      },
    });
  });

  it('grants the task role exactly: append events, GetItem grants, the data key via DynamoDB and S3, sessions/ puts, GetPublicKey, DescribeCluster', () => {
    const policy = managedPolicyOf(/^Gatehouse relay task:/);
    const viaService = (service: string) => ({
      StringEquals: { 'kms:ViaService': `${service}.${RELAY_TEST_ENV.region}.amazonaws.com` },
    });
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        Sid: 'AppendAuditEvents',
        Effect: 'Allow',
        Action: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DescribeTable',
          'dynamodb:PutItem',
        ],
        Resource: { 'Fn::ImportValue': expect.stringMatching(/EventsTableArn/) },
      },
      {
        Sid: 'ReadGrants',
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: { 'Fn::ImportValue': expect.stringMatching(/StateTableArn/) },
      },
      {
        Sid: 'UseDataKeyThroughDynamoDb',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::ImportValue': expect.stringMatching(/GatehouseDataKeyArn/) },
        Condition: viaService('dynamodb'),
      },
      {
        Sid: 'WriteSessionRecordings',
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: {
          'Fn::Join': ['', [{ 'Fn::ImportValue': expect.stringMatching(/AuditBucketArn/) }, '/sessions/*']],
        },
      },
      {
        Sid: 'EncryptSessionRecordings',
        Effect: 'Allow',
        Action: 'kms:GenerateDataKey',
        Resource: { 'Fn::ImportValue': expect.stringMatching(/GatehouseDataKeyArn/) },
        Condition: viaService('s3'),
      },
      {
        Sid: 'ReadRelayCredentialPublicKey',
        Effect: 'Allow',
        Action: 'kms:GetPublicKey',
        Resource: { 'Fn::ImportValue': expect.stringMatching(/RelayCredentialKeyArn/) },
      },
      {
        Sid: 'DescribeCluster',
        Effect: 'Allow',
        Action: 'eks:DescribeCluster',
        Resource: 'arn:aws:eks:us-east-1:111122223333:cluster/acme-staging',
      },
    ]);
  });

  it('grants the execution role only the image pull, the registry token and the relay log group', () => {
    const policy = managedPolicyOf(/^Gatehouse relay task execution:/);
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        Sid: 'PullRelayImage',
        Effect: 'Allow',
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ecr:us-east-1:111122223333:repository/cdk-hnb659fds-container-assets-111122223333-us-east-1',
            ],
          ],
        },
      },
      { Sid: 'GetRegistryToken', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Sid: 'WriteRelayLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^RelayLogs/), 'Arn'] },
      },
    ]);
  });

  it('has no inline policies anywhere in the stack', () => {
    template.resourceCountIs('AWS::IAM::Policy', 0);
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.Policies).toBeUndefined();
    }
  });

  it('outputs the task role ARN (for the cluster’s access entry) and the NLB DNS name', () => {
    template.hasOutput('RelayTaskRoleArn', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TaskRole'), 'Arn'] } });
    template.hasOutput('RelayLoadBalancerDnsName', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LoadBalancerNlb'), 'DNSName'] },
    });
  });
});

describe('RelayStack cdk-nag: HIPAA Security, AWS Solutions, Serverless', () => {
  it('reports no unacknowledged finding, error or warning, in the relay stack or the app around it', () => {
    expect(findings(built.relay)).toEqual([]);
    expect(findings(built.app)).toEqual([]);
  });

  it('leaves an empty validation report in the cloud assembly', () => {
    expect(JSON.parse(readFileSync(reportFile, 'utf8')).pluginReports).toEqual([]);
  });
});

/** The template's security group with this text in its description. */
function securityGroup(description: string): Record<string, unknown> & {
  SecurityGroupIngress?: unknown[];
  SecurityGroupEgress?: unknown[];
} {
  const groups = Object.values(
    template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp(description) },
    }),
  );
  expect(groups).toHaveLength(1);
  return groups[0]!.Properties;
}

/** `{ "Fn::GetAtt": [<logical id>, "GroupId"] }` of the security group with this text in its description. */
function groupId(description: string): { 'Fn::GetAtt': [string, 'GroupId'] } {
  const ids = Object.keys(
    template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp(description) },
    }),
  );
  expect(ids).toHaveLength(1);
  return { 'Fn::GetAtt': [ids[0]!, 'GroupId'] };
}

/** The properties of the managed policy attached to the role whose description matches. */
function managedPolicyOf(roleDescription: RegExp): { PolicyDocument: { Statement: unknown[] } } {
  const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(([, role]) =>
    roleDescription.test(String(role.Properties.Description)),
  );
  expect(roles).toHaveLength(1);
  const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((policy) =>
    JSON.stringify(policy.Properties.Roles).includes(`"${roles[0]![0]}"`),
  );
  expect(policies).toHaveLength(1);
  return policies[0]!.Properties;
}
