/**
 * The relay in the local runtime (issue 6, point 7): `npm start` runs it in front of the cluster named by `KUBECONFIG`
 * (or a given URL and token), with the same server, gate and maskers as on ECS, the local stores (dynalite for grants
 * and audit chains, s3rver for recordings) and the local relay credential key. Its TLS certificate is self-signed,
 * made at start, and written to `<dataDir>/relay-ca.pem` for the kubeconfig that verifies it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbAccessStore } from '#shared/adapters/aws/dynamodb-access-store.ts';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import type { LoadedConfig } from '#shared/adapters/fs/config-file.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import { AuditLog } from '#shared/audit/audit-log.ts';
import type { ArchiveStore } from '#shared/evidence/ports.ts';
import { createTextScanner } from '#shared/masking/detectors.ts';
import { createMasker } from '#shared/masking/masker.ts';
import { loadPolicyEngine } from '#shared/policy/policy-engine.ts';
import { relayCredentialVerifier } from '../relay/credentials.ts';
import { RELAY_REMEMBERED_HEADS, RelayEventWriter } from '../relay/event-writer.ts';
import { GrantDirectory } from '../relay/grant-directory.ts';
import { upstreamFromKubeconfig } from '../relay/kubeconfig-upstream.ts';
import { RelayServer } from '../relay/server.ts';
import { SessionProxy } from '../relay/session-proxy.ts';
import { selfSignedCertificate } from '../relay/tls.ts';
import { staticBearer, Upstream, type UpstreamOptions } from '../relay/upstream.ts';
import { localRelayVerificationKeys } from './local-relay-keys.ts';

/** Where the local relay's upstream is: a kubeconfig's context, or a URL with a token (and its CA). */
export type LocalRelayUpstream = { kubeconfig: string; context?: string } | { url: string; token: string; ca?: string };

export interface LocalRelayOptions {
  loaded: LoadedConfig;
  dataDir: string;
  dynamodb: DynamoDBClient;
  tables: { events: string; state: string };
  /** The s3rver audit bucket, for recordings; without it, sessions are refused. */
  archive?: ArchiveStore;
  upstream: LocalRelayUpstream;
  /** The Gatehouse cluster the relay fronts. @default the first configured cluster */
  cluster?: string;
  port?: number;
  log?: (entry: Record<string, unknown>) => void;
}

export interface LocalRelay {
  url: string;
  cluster: string;
  /** The PEM file of the relay's certificate, for `gatehouse kubeconfig --via relay --certificate-authority`. */
  caFile: string;
  upstreamUrl: string;
  stop(): Promise<void>;
}

export async function startLocalRelay(options: LocalRelayOptions): Promise<LocalRelay> {
  const config = options.loaded.config;
  const cluster = options.cluster
    ? config.clusters.find((candidate) => candidate.name === options.cluster)
    : config.clusters[0];
  if (!cluster) throw new Error(`cluster ${options.cluster} is not in the configuration`);
  const upstreamOptions: UpstreamOptions =
    'kubeconfig' in options.upstream
      ? upstreamFromKubeconfig(options.upstream.kubeconfig, options.upstream.context)
      : {
          url: options.upstream.url,
          auth: staticBearer(options.upstream.token),
          ...(options.upstream.ca ? { ca: options.upstream.ca } : {}),
        };
  const upstream = new Upstream(upstreamOptions);
  const masker = createMasker(config.masking, {
    scanner: createTextScanner(config.masking.detectors),
    hashKey:
      config.masking.hashKey && 'env' in config.masking.hashKey ? process.env[config.masking.hashKey.env] : undefined,
  });
  const keys = await localRelayVerificationKeys(options.dataDir);
  const certificate = await selfSignedCertificate(['127.0.0.1', 'localhost']);
  const caFile = join(options.dataDir, 'relay-ca.pem');
  writeFileSync(caFile, certificate.cert, { mode: 0o644 });
  const archive = options.archive;
  const relay = new RelayServer({
    cluster,
    relay: config.relay,
    credentials: relayCredentialVerifier(keys.keys, cluster.name, systemClock),
    grants: new GrantDirectory(
      new DynamoDbAccessStore(options.dynamodb, options.tables.state),
      systemClock,
      config.relay.revocationCheckSeconds * 1000,
    ),
    policy: loadPolicyEngine({ files: options.loaded.policyFiles }),
    upstream,
    masker,
    events: new RelayEventWriter(
      new AuditLog(new DynamoDbChainStore(options.dynamodb, options.tables.events), systemClock, ulidIds, {
        rememberHeads: RELAY_REMEMBERED_HEADS,
      }),
    ),
    clock: systemClock,
    instanceId: 'local',
    tls: certificate,
    ...(archive
      ? {
          sessions: new SessionProxy({
            upstream,
            masker,
            clock: systemClock,
            ids: ulidIds,
            recordings: { put: async (key, body, sha256) => void (await archive.putIfAbsent(key, body, sha256)) },
          }),
        }
      : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const port = await relay.listen(options.port ?? 0, '127.0.0.1');
  return {
    url: `https://127.0.0.1:${port}`,
    cluster: cluster.name,
    caFile,
    upstreamUrl: upstream.origin.toString(),
    stop: () => relay.close(2000),
  };
}
