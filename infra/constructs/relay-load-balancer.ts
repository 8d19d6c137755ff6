import { Duration, Stack } from 'aws-cdk-lib';
import { Peer, Port, SecurityGroup, type ISubnet, type IVpc } from 'aws-cdk-lib/aws-ec2';
import {
  ListenerCertificate,
  NetworkLoadBalancer,
  NetworkTargetGroup,
  Protocol,
  SslPolicy,
  TargetType,
  type NetworkListener,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The port the relay container serves HTTPS on, with a certificate it generates at start. */
export const RELAY_CONTAINER_PORT = 8443;

/** The port clients reach the relay on: the NLB's TLS listener. */
export const RELAY_LISTENER_PORT = 443;

/** The readiness path the NLB checks (the relay answers 200 once its config, keys and upstream are ready). */
export const RELAY_READINESS_PATH = '/readyz';

/**
 * How long the NLB keeps sending a draining task's open flows before closing them: kubectl watch and exec streams are
 * long-lived, so they get the longest time ECS lets a Fargate container stop in (stopTimeout, at most 120 s).
 */
export const RELAY_DRAIN_TIME = Duration.seconds(120);

/** TLS 1.3 and 1.2 with forward-secret AEAD ciphers only (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html). */
export const RELAY_SSL_POLICY = SslPolicy.RECOMMENDED_TLS;

export interface RelayLoadBalancerProps {
  readonly vpc: IVpc;
  /** The private subnets the load balancer's nodes live in. */
  readonly subnets: ISubnet[];
  /** The ACM certificate the listener presents to clients. */
  readonly certificateArn: string;
  /** IPv4 CIDRs allowed to connect to the listener (the agents' subnets). */
  readonly clientCidrs: readonly string[];
  /**
   * Where the NLB writes its TLS access logs (under `relay-nlb/`); the bucket must use SSE-S3 or SSE-KMS. A statement
   * for CloudWatch Logs delivery (this account only) is added to its bucket policy.
   */
  readonly accessLogBucket: IBucket;
}

/** The key prefix of the NLB's access logs in the access-log bucket. */
export const RELAY_ACCESS_LOG_PREFIX = 'relay-nlb';

/**
 * The internal Network Load Balancer in front of the relay: a TLS listener on 443 with the configured ACM certificate and
 * a TLS 1.2+ policy, re-encrypting to a TLS target group on the tasks' port 8443 checked by HTTPS `/readyz`. Its security
 * group admits 443 from the client CIDRs only and sends only to the relay's port; the service's group is given to it.
 */
export class RelayLoadBalancer extends Construct {
  readonly loadBalancer: NetworkLoadBalancer;
  readonly listener: NetworkListener;
  readonly targetGroup: NetworkTargetGroup;
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: RelayLoadBalancerProps) {
    super(scope, id);
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Gatehouse relay NLB: TLS 443 from the client CIDRs only',
      allowAllOutbound: false,
    });
    for (const cidr of props.clientCidrs) {
      this.securityGroup.addIngressRule(Peer.ipv4(cidr), Port.tcp(RELAY_LISTENER_PORT), `relay clients ${cidr}`);
    }

    this.loadBalancer = new NetworkLoadBalancer(this, 'Nlb', {
      vpc: props.vpc,
      vpcSubnets: { subnets: props.subnets },
      internetFacing: false,
      securityGroups: [this.securityGroup],
      crossZoneEnabled: true,
      // Clients configure the relay by this load balancer's DNS name (relay.url): a deletion would change it.
      deletionProtection: true,
    });
    this.logAccess(props.accessLogBucket);

    this.targetGroup = new NetworkTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: RELAY_CONTAINER_PORT,
      protocol: Protocol.TLS,
      targetType: TargetType.IP,
      deregistrationDelay: RELAY_DRAIN_TIME,
      // At the end of the drain, close what is still open rather than leave clients on a stopping task.
      connectionTermination: true,
      healthCheck: {
        protocol: Protocol.HTTPS,
        path: RELAY_READINESS_PATH,
        port: String(RELAY_CONTAINER_PORT),
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });

    this.listener = this.loadBalancer.addListener('Tls', {
      port: RELAY_LISTENER_PORT,
      protocol: Protocol.TLS,
      certificates: [ListenerCertificate.fromArn(props.certificateArn)],
      sslPolicy: RELAY_SSL_POLICY,
      defaultTargetGroups: [this.targetGroup],
    });
  }

  /**
   * TLS access logs to the bucket under RELAY_ACCESS_LOG_PREFIX. NLB logs are delivered by CloudWatch Logs' delivery
   * service, which the bucket policy must admit for this account's log sources only
   * (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/enable-access-logs.html); CDK's logAccessLogs would
   * also admit the regional ELB account, which only Application and Classic Load Balancers use.
   */
  private logAccess(bucket: IBucket): void {
    const stack = Stack.of(this);
    const delivery = new ServicePrincipal('delivery.logs.amazonaws.com');
    const fromThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*` },
    };
    bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'RelayNlbAccessLogDelivery',
        principals: [delivery],
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${RELAY_ACCESS_LOG_PREFIX}/AWSLogs/${stack.account}/*`)],
        conditions: {
          ...fromThisAccount,
          StringEquals: { ...fromThisAccount.StringEquals, 's3:x-amz-acl': 'bucket-owner-full-control' },
        },
      }),
    );
    bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'RelayNlbAccessLogAclCheck',
        principals: [delivery],
        actions: ['s3:GetBucketAcl'],
        resources: [bucket.bucketArn],
        conditions: fromThisAccount,
      }),
    );
    this.loadBalancer.setAttribute('access_logs.s3.enabled', 'true');
    this.loadBalancer.setAttribute('access_logs.s3.bucket', bucket.bucketName);
    this.loadBalancer.setAttribute('access_logs.s3.prefix', RELAY_ACCESS_LOG_PREFIX);
    // The NLB checks that it may write to the bucket when logging is turned on: the policy must exist first.
    if (bucket.policy) this.loadBalancer.node.addDependency(bucket.policy);
  }
}
