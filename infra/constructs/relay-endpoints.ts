import {
  GatewayVpcEndpoint,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  Port,
  SecurityGroup,
  type IConnectable,
  type ISubnet,
  type IVpc,
} from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/**
 * The AWS APIs the relay task and its Fargate agent call, as interface endpoints (gateway endpoints for DynamoDB and S3,
 * which are free and need only routes): KMS (public key, DynamoDB/S3 encryption goes through those services), STS, EKS
 * (DescribeCluster), CloudWatch Logs (the awslogs driver), ECR API and Docker registry (the image; its layers come from
 * S3).
 */
export const RELAY_INTERFACE_ENDPOINTS = {
  Kms: InterfaceVpcEndpointAwsService.KMS,
  Sts: InterfaceVpcEndpointAwsService.STS,
  Eks: InterfaceVpcEndpointAwsService.EKS,
  Logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  EcrApi: InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: InterfaceVpcEndpointAwsService.ECR_DOCKER,
} as const;

export interface RelayEndpointsProps {
  readonly vpc: IVpc;
  /** The relay's subnets: interface endpoints get one network interface in each of their AZs, gateway endpoints a route in each of their route tables. */
  readonly subnets: ISubnet[];
  /** Who may reach the interface endpoints on 443: the relay service. */
  readonly clients: IConnectable;
}

/**
 * VPC endpoints for subnets without a NAT gateway, so the relay reaches AWS APIs without the internet. The interface
 * endpoints share one security group that admits HTTPS from the relay service only (not the whole VPC CIDR, CDK's
 * default) and sends nothing.
 */
export class RelayEndpoints extends Construct {
  readonly securityGroup: SecurityGroup;
  readonly gateways: Record<'DynamoDb' | 'S3', GatewayVpcEndpoint>;
  readonly interfaces: Record<keyof typeof RELAY_INTERFACE_ENDPOINTS, InterfaceVpcEndpoint>;

  constructor(scope: Construct, id: string, props: RelayEndpointsProps) {
    super(scope, id);
    const subnets = [{ subnets: props.subnets }];
    this.gateways = {
      DynamoDb: new GatewayVpcEndpoint(this, 'DynamoDb', {
        vpc: props.vpc,
        service: GatewayVpcEndpointAwsService.DYNAMODB,
        subnets,
      }),
      S3: new GatewayVpcEndpoint(this, 'S3', { vpc: props.vpc, service: GatewayVpcEndpointAwsService.S3, subnets }),
    };

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Gatehouse relay VPC endpoints: HTTPS from the relay service only',
      allowAllOutbound: false,
    });
    this.securityGroup.connections.allowFrom(props.clients, Port.tcp(443), 'relay tasks to AWS APIs');
    this.interfaces = Object.fromEntries(
      Object.entries(RELAY_INTERFACE_ENDPOINTS).map(([name, service]) => [
        name,
        new InterfaceVpcEndpoint(this, name, {
          vpc: props.vpc,
          service,
          subnets: { subnets: props.subnets },
          securityGroups: [this.securityGroup],
          open: false,
          privateDnsEnabled: true,
        }),
      ]),
    ) as Record<keyof typeof RELAY_INTERFACE_ENDPOINTS, InterfaceVpcEndpoint>;
  }
}
