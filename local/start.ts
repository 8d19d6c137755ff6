/**
 * `gatehouse local`: the control plane on this machine with no AWS account — the same handlers behind a local API
 * server, the same ASL on aws-local-stepfunctions, dynalite and s3rver embedded with data under the data directory, a
 * development OIDC issuer, and a local signer in place of STS and EKS.
 */
import './polyfills.ts';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { PENDING_APPROVALS_INDEX, documentClient } from '#shared/adapters/aws/tables.ts';
import { loadConfigFile, type LoadedConfig } from '#shared/adapters/fs/config-file.ts';
import { remoteKeyResolver } from '#shared/adapters/http/remote-jwks.ts';
import { DevIssuer } from '#shared/adapters/local/dev-issuer.ts';
import { LocalAccessEntries } from '#shared/adapters/local/local-access-entries.ts';
import type { LocalRelayCredentialSigner } from '#shared/adapters/local/local-relay-credential-signer.ts';
import { LocalTokenMinter } from '#shared/adapters/local/local-token-minter.ts';
import { systemClock } from '#shared/adapters/system.ts';
import { eksClusterLookup } from '#shared/config/clusters.ts';
import { GatehouseConfigSchema } from '#shared/config/schema.ts';
import type { AccessRequest, Grant } from '#shared/model.ts';
import type { Mailer } from '#shared/approvals/approval-email.ts';
import { SlackNotifier } from '#shared/adapters/slack/slack-notifier.ts';
import { SesMailer } from '#shared/adapters/aws/ses-mailer.ts';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { buildRuntime, useRuntime, type ApprovalSecrets, type Runtime } from '../functions/lib/runtime.ts';
import { startApiServer, lambdaContext, serverUrl } from './api-server.ts';
import { inboxRoutes } from './approvals-inbox.ts';
import {
  LOCAL_AWS_CREDENTIALS,
  startEmbeddedDynamo,
  startEmbeddedS3,
  type EmbeddedDynamo,
  type EmbeddedS3,
} from './embedded-stores.ts';
import { LocalLifecycleScheduler, type LocalLifecycleOptions } from './lifecycle-runner.ts';
import { startLocalArchiving, type LocalArchiving } from './event-stream.ts';
import { startLocalDigesting, type LocalDigesting } from './local-digester.ts';
import { openLocalRelaySigner } from './local-relay-keys.ts';
import { startLocalRelay, type LocalRelay, type LocalRelayUpstream } from './relay.ts';

/** The issuer name, audience and cluster the local runtime adds for development. */
export const LOCAL_ISSUER_NAME = 'local';
export const LOCAL_AUDIENCE = 'gatehouse';
export const LOCAL_CLUSTER = 'local';
const STATE_FILE = 'local.json';
const SECRET_FILE = 'local-signing-secret';
const LINK_KEY_FILE = 'approval-link-key';
const SLACK_SIGNING_SECRET_FILE = 'slack-signing-secret';

export interface LocalOptions {
  dataDir: string;
  configFile: string;
  /** API port; the development issuer listens on the next one. 0 picks free ports (tests). */
  port: number;
  /** Keep data in memory only (tests and benchmarks). */
  inMemory?: boolean;
  /** Start the embedded S3 (the audit bucket) even with `inMemory`; its objects then go under `dataDir`. */
  withS3?: boolean;
  lifecycle?: Pick<
    LocalLifecycleOptions,
    'waitUntilExpiryMs' | 'retryIntervalMs' | 'approvalTimeoutSeconds' | 'approvalHeartbeatSeconds' | 'onSettled'
  >;
  /**
   * The approval-heartbeat schedule: every `intervalMs` (5 minutes, as in AWS); tests shorten it, or stop it to see
   * waiting approvals fail with States.HeartbeatTimeout.
   */
  heartbeat?: { intervalMs?: number; stopped?: boolean };
  /** The archiver's stream settings (batch size, retries, backoff, poll interval); tests shorten them. */
  archive?: Parameters<typeof startLocalArchiving>[0]['settings'];
  /** How often ended hours are digested (LOCAL_DIGEST_INTERVAL_MS); 0 digests only on `digests.digestNow()`. */
  digestIntervalMs?: number;
  /** Sends approval emails; tests pass SES on aws-sdk-client-mock. Without it, approvers use the local inbox or Slack. */
  mailer?: Mailer;
  /** Runs the relay in front of this upstream (issue 6): `gatehouse local` passes KUBECONFIG's cluster. */
  relay?: { upstream: LocalRelayUpstream; cluster?: string; port?: number };
}

type TaskHandler = (input: unknown, context: Context, options: { signal: AbortSignal }) => unknown;

export interface LocalRuntime {
  apiUrl: string;
  issuerUrl: string;
  dataDir: string;
  issuer: DevIssuer;
  runtime: Runtime;
  dynamo: EmbeddedDynamo;
  s3: EmbeddedS3 | undefined;
  /** The events table's stream into the audit bucket; undefined without the embedded S3. */
  archive: LocalArchiving | undefined;
  /** The hourly digester on a local key file; undefined without the embedded S3. */
  digests: LocalDigesting | undefined;
  scheduler: LocalLifecycleScheduler;
  entries: LocalAccessEntries;
  signingSecret: string;
  /** Signs relay credentials; a local relay verifies them with localRelayVerificationKeys(dataDir). */
  relaySigner: LocalRelayCredentialSigner;
  rescheduled: number;
  /** The local relay, when one was asked for. */
  relay: LocalRelay | undefined;
  /** Things the operator should know about this start (the CLI prints them). */
  notices: string[];
  stop(): Promise<void>;
}

/** How often the local runtime runs approval-heartbeat: the EventBridge rate in AWS. */
export const HEARTBEAT_INTERVAL_MS = 5 * 60_000;

/** What `gatehouse local dev-token` needs from a running (or last) local runtime. */
export interface LocalState {
  apiUrl: string;
  issuerUrl: string;
  audience: string;
  /** Where the running runtime's embedded stores listen, for CLI commands that work on its data (audit redrive). */
  stores?: { dynamodb: string; s3?: string };
}

export async function startLocal(options: LocalOptions): Promise<LocalRuntime> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const issuer = await DevIssuer.create({ keyDirectory: dataDir });
  const issuerUrl = await issuer.start({ port: options.port === 0 ? 0 : options.port + 1 });
  const stops: (() => Promise<unknown> | void)[] = [() => issuer.stop()];
  try {
    const dynamo = await startEmbeddedDynamo(options.inMemory ? {} : { directory: join(dataDir, 'dynamodb') });
    stops.unshift(() => dynamo.stop());
    const s3 =
      options.inMemory && !options.withS3 ? undefined : await startEmbeddedS3({ directory: join(dataDir, 's3') });
    if (s3) stops.unshift(() => s3.stop());
    const s3Client = s3 && localS3Client(s3);
    if (s3Client) stops.unshift(() => s3Client.destroy());

    const loaded = withLocalDevelopment(loadConfigFile(options.configFile), issuerUrl);
    const signingSecret = readOrCreateSecret(join(dataDir, SECRET_FILE));
    // The local runtime always offers `via: "relay"`: a local relay verifies with this key's public half.
    const relaySigner = openLocalRelaySigner(dataDir);
    const clusters = eksClusterLookup(loaded.config);
    const entries = new LocalAccessEntries(dynamo.client, dynamo.tables.state);
    const handlers = await import('./handlers.ts');
    const invoke = (handler: TaskHandler, name: string) => (input: unknown) =>
      handler(input, lambdaContext(name), { signal: new AbortController().signal });
    const notices: string[] = [];
    // dynalite cannot add an index to an existing table: a data directory from before the pendingApprovals index runs
    // without heartbeats (and without their enforcement) until its dynamodb directory is removed.
    const heartbeatIndex = await hasPendingApprovalsIndex(dynamo);
    if (!heartbeatIndex) {
      notices.push(
        `approval heartbeats are off: the state table in ${join(dataDir, 'dynamodb')} predates the ${PENDING_APPROVALS_INDEX.name} index (remove that directory to recreate it)`,
      );
    }
    const scheduler = new LocalLifecycleScheduler({
      tasks: {
        grant: invoke(handlers.lifecycleGrant, 'lifecycle-grant'),
        revoke: invoke(handlers.lifecycleRevoke, 'lifecycle-revoke'),
        notifyApprovers: invoke(handlers.approvalNotify, 'approval-notify'),
        closeApproval: invoke(handlers.approvalClose, 'approval-close'),
      },
      ...options.lifecycle,
      ...(heartbeatIndex ? {} : { approvalHeartbeatSeconds: 0 }),
    });
    stops.unshift(() => scheduler.stop());

    let installed!: () => void;
    const ready = new Promise<void>((resolve) => (installed = resolve));
    const routes = [...handlers.routes, ...inboxRoutes(dynamo.client, dynamo.tables.state)];
    const server: Server = await startApiServer(routes, { port: options.port, ready });
    stops.unshift(() => new Promise<void>((done) => server.close(() => done())));
    const apiUrl = serverUrl(server);
    const slackBotToken = process.env.GATEHOUSE_SLACK_BOT_TOKEN;
    // Email goes out through SES when the configuration names a sender and this machine has AWS credentials.
    const { email } = loaded.config.notifications;
    const mailer = options.mailer ?? (email && hasAwsCredentials() ? SesMailer.fromConfig(email) : undefined);
    const runtime = buildRuntime(loaded, {
      dynamodb: dynamo.client,
      tables: dynamo.tables,
      slotRoles: localSlotRoles(loaded),
      minter: new LocalTokenMinter({ secret: signingSecret, clusters, clock: systemClock }),
      relaySigner,
      entries,
      scheduler,
      keys: remoteKeyResolver(),
      callbacks: scheduler.tokens,
      secrets: localSecrets(dataDir),
      ...(slackBotToken
        ? { slack: new SlackNotifier({ token: slackBotToken, slackApiUrl: loaded.config.notifications.slack?.apiUrl }) }
        : {}),
      ...(mailer ? { mailer } : {}),
      ...(s3 && s3Client ? { archive: new S3ArchiveStore(s3Client, s3.bucket) } : {}),
      apiBaseUrl: loaded.config.notifications.publicApiUrl ?? apiUrl,
    });
    useRuntime(runtime);
    stops.push(() => useRuntime(undefined));
    installed();
    const archive =
      runtime.parts.archive &&
      (await startLocalArchiving({
        dynamo,
        archive: runtime.parts.archive,
        dataDir,
        persistent: !options.inMemory,
        settings: options.archive,
      }));
    // Before the stores stop: no batch may write to a closing s3rver.
    if (archive) stops.unshift(() => archive.stop());
    const digests =
      runtime.parts.archive &&
      startLocalDigesting({ archive: runtime.parts.archive, dataDir, intervalMs: options.digestIntervalMs });
    if (digests) stops.unshift(() => digests.stop());
    if (heartbeatIndex && !options.heartbeat?.stopped) {
      const beat = invoke(handlers.approvalHeartbeat, 'approval-heartbeat');
      let running: Promise<unknown> | undefined;
      const timer = setInterval(() => {
        // One run at a time; a failed run is the next run's to repair, as with the schedule in AWS.
        running ??= Promise.resolve(beat({ source: 'gatehouse.local', 'detail-type': 'Scheduled Event' }))
          .catch(() => undefined)
          .finally(() => (running = undefined));
      }, options.heartbeat?.intervalMs ?? HEARTBEAT_INTERVAL_MS);
      timer.unref();
      // Before the scheduler stops: no beat may touch a store that is closing.
      stops.unshift(async () => {
        clearInterval(timer);
        await running;
      });
    }
    const relay =
      options.relay &&
      (await startLocalRelay({
        loaded,
        dataDir,
        dynamodb: dynamo.client,
        tables: dynamo.tables,
        ...(runtime.parts.archive ? { archive: runtime.parts.archive } : {}),
        upstream: options.relay.upstream,
        cluster: options.relay.cluster ?? LOCAL_CLUSTER,
        port: options.relay.port ?? 0,
      }));
    // Before the stores stop: the relay flushes its events into them.
    if (relay) stops.unshift(() => relay.stop());
    const rescheduled = await resumeLifecycles(dynamo, scheduler, runtime);
    const state: LocalState = {
      apiUrl,
      issuerUrl,
      audience: LOCAL_AUDIENCE,
      stores: { dynamodb: dynamo.endpoint, ...(s3 ? { s3: s3.endpoint } : {}) },
    };
    writeFileSync(join(dataDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });

    return {
      apiUrl,
      issuerUrl,
      dataDir,
      issuer,
      runtime,
      dynamo,
      s3,
      archive,
      digests,
      scheduler,
      entries,
      signingSecret,
      relaySigner,
      relay: relay || undefined,
      rescheduled,
      notices,
      stop: async () => {
        for (const stop of stops) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops) await Promise.resolve(stop()).catch(() => undefined);
    throw error;
  }
}

/** True when the state table has the pendingApprovals index (a data directory made before it has not). */
async function hasPendingApprovalsIndex(dynamo: EmbeddedDynamo): Promise<boolean> {
  const { Table } = await dynamo.client.send(new DescribeTableCommand({ TableName: dynamo.tables.state }));
  return (Table?.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === PENDING_APPROVALS_INDEX.name);
}

/** Reads what the last `gatehouse local` wrote, for `dev-token` and the CLI's default API URL. */
export function readLocalState(dataDir: string): LocalState | undefined {
  const file = join(resolve(dataDir), STATE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LocalState) : undefined;
}

/**
 * The configured issuers and clusters, plus the development issuer and a `local` cluster served by the local signer,
 * unless the configuration already defines them.
 */
function withLocalDevelopment(loaded: LoadedConfig, issuerUrl: string): LoadedConfig {
  const { config } = loaded;
  const issuers = config.issuers.some((issuer) => issuer.name === LOCAL_ISSUER_NAME)
    ? config.issuers
    : [...config.issuers, { name: LOCAL_ISSUER_NAME, issuer: issuerUrl, audience: LOCAL_AUDIENCE, kind: 'generic' }];
  const clusters = config.clusters.some((cluster) => cluster.name === LOCAL_CLUSTER)
    ? config.clusters
    : [
        ...config.clusters,
        {
          name: LOCAL_CLUSTER,
          region: 'us-east-1',
          account: '000000000000',
          slotPoolSize: 4,
          maxDurationSeconds: 3600,
          accessLevels: {
            view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
            edit: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
          },
        },
      ];
  return { ...loaded, config: GatehouseConfigSchema.parse({ ...config, issuers, clusters }) };
}

/** Slot roles named as the CDK app would name them; the local signer only needs them to be distinct ARNs. */
function localSlotRoles(loaded: LoadedConfig): Record<string, string[]> {
  return Object.fromEntries(
    loaded.config.clusters.map((cluster) => [
      cluster.name,
      Array.from(
        { length: cluster.slotPoolSize },
        (_, index) => `arn:aws:iam::${cluster.account}:role/gatehouse-local-${cluster.name}-slot-${index}`,
      ),
    ]),
  );
}

/**
 * Executions live in this process. At start, every active grant gets its lifecycle back (and expires on time); a request
 * that was waiting for approvers lost its waiting execution, so it is closed as expired (the requester asks again).
 */
async function resumeLifecycles(
  dynamo: EmbeddedDynamo,
  scheduler: LocalLifecycleScheduler,
  runtime: Runtime,
): Promise<number> {
  const doc = documentClient(dynamo.client);
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: dynamo.tables.state,
        FilterExpression:
          '(begins_with(pk, :grant) AND #status = :active) OR (begins_with(pk, :request) AND #status = :pending)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':grant': 'GRANT#',
          ':active': 'active',
          ':request': 'REQUEST#',
          ':pending': 'pending',
        },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      if (String(item.pk).startsWith('GRANT#')) {
        await scheduler.schedule({ requestId: (item as Grant).requestId, needsApproval: false });
        count += 1;
      } else {
        const requestId = (item as AccessRequest).id;
        await runtime.approvals.expire(requestId).catch(() => undefined);
        await runtime.service.closeRequest(requestId, 'expired');
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

/** The approval link key and Slack signing secret, kept in the data directory (or the signing secret from the env). */
function localSecrets(dataDir: string): ApprovalSecrets {
  const linkKey = Buffer.from(readOrCreateSecret(join(dataDir, LINK_KEY_FILE)), 'utf8');
  const slackSigningSecret =
    process.env.GATEHOUSE_SLACK_SIGNING_SECRET ?? readOrCreateSecret(join(dataDir, SLACK_SIGNING_SECRET_FILE));
  return { slackSigningSecret: async () => slackSigningSecret, linkKeys: async () => [linkKey] };
}

/** An S3 client for the embedded s3rver: path-style addressing, as s3rver serves buckets on one host. */
function localS3Client(s3: EmbeddedS3): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
    forcePathStyle: true,
  });
}

function hasAwsCredentials(): boolean {
  const { AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_FULL_URI } =
    process.env;
  return Boolean(AWS_ACCESS_KEY_ID || AWS_PROFILE || AWS_WEB_IDENTITY_TOKEN_FILE || AWS_CONTAINER_CREDENTIALS_FULL_URI);
}

function readOrCreateSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
