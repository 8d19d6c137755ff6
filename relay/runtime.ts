/**
 * The relay on ECS Fargate, built from its environment (issue 6): the AWS adapters, the Gatehouse configuration, the
 * upstream EKS endpoint and the relay server. relay/main.ts runs it as a process; tests start it against dynalite, the
 * Kubernetes API test server and mocked KMS and EKS.
 *
 * Environment: GATEHOUSE_CONFIG (the configuration bundle file, as the functions read it), GATEHOUSE_RELAY_CLUSTER
 * (the Gatehouse name of the cluster it fronts), EVENTS_TABLE and STATE_TABLE (audit events; grants), AUDIT_BUCKET
 * (recordings, under sessions/), RELAY_CREDENTIAL_KEY_ID (the KMS key whose public key verifies relay credentials),
 * optionally PORT (8443) and RELAY_HOSTNAME (the name in its own certificate).
 */
import { hostname } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDbAccessStore } from '#shared/adapters/aws/dynamodb-access-store.ts';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { KmsRelayCredentialSigner } from '#shared/adapters/aws/kms-relay-credential-signer.ts';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { loadBundledConfig } from '#shared/adapters/fs/bundled-config.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import { AuditLog } from '#shared/audit/audit-log.ts';
import { createTextScanner } from '#shared/masking/detectors.ts';
import { createMasker } from '#shared/masking/masker.ts';
import { loadPolicyEngine } from '#shared/policy/policy-engine.ts';
import { relayCredentialVerifier } from './credentials.ts';
import { eksTaskRoleAuth } from './eks-auth.ts';
import { RELAY_REMEMBERED_HEADS, RelayEventWriter } from './event-writer.ts';
import { GrantDirectory } from './grant-directory.ts';
import { RelayServer } from './server.ts';
import { SessionProxy } from './session-proxy.ts';
import { selfSignedCertificate, type RelayCertificate } from './tls.ts';
import { Upstream } from './upstream.ts';
import type { RelayWorkerContext } from './workers.ts';

export const logger = new Logger({ serviceName: 'gatehouse-relay' });
const metrics = new Metrics({ namespace: 'Gatehouse', serviceName: 'gatehouse-relay' });

export interface RunningRelay {
  relay: RelayServer;
  port: number;
  /** The relay's own certificate (behind the NLB, only the hop to the task uses it). */
  certificate: RelayCertificate;
  /** Drains streams, flushes events and stops publishing metrics. */
  stop(drainMs?: number): Promise<void>;
  /** The relay's own readiness (RelayServer#ready). */
  ready(): boolean;
}

/**
 * Starts the relay from `env` (process.env on ECS); throws when something it needs is missing or unreachable. As a
 * worker of a task with several (relay/workers.ts), `context` tells whether the others are ready.
 */
export async function startRelayFromEnvironment(
  env: NodeJS.ProcessEnv,
  context?: RelayWorkerContext,
): Promise<RunningRelay> {
  const requiredEnv = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`the relay needs the environment variable ${name}`);
    return value;
  };
  const loaded = loadBundledConfig(requiredEnv('GATEHOUSE_CONFIG'));
  const config = loaded.config;
  const clusterName = requiredEnv('GATEHOUSE_RELAY_CLUSTER');
  const cluster = config.clusters.find((candidate) => candidate.name === clusterName);
  if (!cluster) throw new Error(`cluster ${clusterName} is not in the configuration`);
  const eksClusterName = cluster.eksClusterName ?? cluster.name;

  const eks = new EKSClient({ region: cluster.region });
  const described = await eks.send(new DescribeClusterCommand({ name: eksClusterName }));
  const endpoint = described.cluster?.endpoint;
  const caData = described.cluster?.certificateAuthority?.data;
  if (!endpoint || !caData) throw new Error(`EKS cluster ${eksClusterName} has no endpoint or certificate authority`);

  const dynamodb = new DynamoDBClient({});
  const verifierKey = new KmsRelayCredentialSigner(new KMSClient({}), requiredEnv('RELAY_CREDENTIAL_KEY_ID'));
  const keys = new Map([[await verifierKey.keyId(), await verifierKey.publicKeyPem()]]);
  const hashKeyEnv = config.masking.hashKey && 'env' in config.masking.hashKey ? config.masking.hashKey.env : undefined;
  const masker = createMasker(config.masking, {
    scanner: createTextScanner(config.masking.detectors),
    hashKey: hashKeyEnv ? env[hashKeyEnv] : undefined,
  });
  const upstream = new Upstream({
    url: endpoint,
    ca: Buffer.from(caData, 'base64').toString('utf8'),
    auth: eksTaskRoleAuth({ region: cluster.region, eksClusterName }, systemClock),
  });
  const store = new DynamoDbAccessStore(dynamodb, requiredEnv('STATE_TABLE'));
  // The relay alone writes its streams (`relay/<grant>/<instance>/<shard>`): each append after the first is one put.
  const audit = new AuditLog(new DynamoDbChainStore(dynamodb, requiredEnv('EVENTS_TABLE')), systemClock, ulidIds, {
    rememberHeads: RELAY_REMEMBERED_HEADS,
  });
  const archive = new S3ArchiveStore(new S3Client({}), requiredEnv('AUDIT_BUCKET'));
  const instanceId = `${hostname()}-${process.pid}`;
  const certificate = await selfSignedCertificate([env.RELAY_HOSTNAME ?? 'gatehouse-relay']);

  const relay = new RelayServer({
    cluster,
    relay: config.relay,
    credentials: relayCredentialVerifier(keys, cluster.name, systemClock),
    grants: new GrantDirectory(store, systemClock, config.relay.revocationCheckSeconds * 1000),
    policy: loadPolicyEngine({ files: loaded.policyFiles }),
    upstream,
    masker,
    events: new RelayEventWriter(audit, {
      onWriteError: (error) =>
        logger.error('audit write failed; new requests are refused until it succeeds', { error: errorName(error) }),
    }),
    clock: systemClock,
    instanceId,
    tls: certificate,
    sessions: new SessionProxy({
      upstream,
      masker,
      clock: systemClock,
      ids: ulidIds,
      // The task role may only put under sessions/ (no HEAD): each session's key is new.
      recordings: { put: async (key, body, sha256) => void (await archive.putNew(key, body, sha256)) },
      log: (entry) => logger.info('session', entry),
    }),
    log: (entry) => logger.info(String(entry.message ?? 'relay'), entry),
    observe: (observation) => {
      metrics.addMetric(observation.outcome === 'forwarded' ? 'RelayRequests' : 'RelayDenials', MetricUnit.Count, 1);
      metrics.addMetric('RelayLatency', MetricUnit.Milliseconds, observation.latencyMs);
      if (observation.masked > 0) metrics.addMetric('RelayMaskedValues', MetricUnit.Count, observation.masked);
    },
    peersReady: context?.peersReady,
  });
  const port = await relay.listen(Number(env.PORT ?? 8443), env.RELAY_LISTEN_HOST ?? '0.0.0.0');
  const publish = setInterval(() => metrics.publishStoredMetrics(), 10_000);
  publish.unref();
  logger.info('relay listening', { port, cluster: cluster.name, instanceId });
  return {
    relay,
    port,
    certificate,
    async stop(drainMs) {
      clearInterval(publish);
      await relay.close(drainMs);
      metrics.publishStoredMetrics();
    },
    ready: () => relay.ready,
  };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}
