import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadBundledConfig } from '#shared/adapters/fs/bundled-config.ts';
import { remoteKeyResolver } from '#shared/adapters/http/remote-jwks.ts';
import { eksClusterLookup } from '#shared/config/clusters.ts';
import type { Mailer } from '#shared/approvals/approval-email.ts';
import type { TaskCallbacks } from '#shared/approvals/ports.ts';
import type { GatehouseConfig } from '#shared/config/schema.ts';
import type { ArchiveStore } from '#shared/evidence/ports.ts';
import type { AccessEntries, LifecycleScheduler, RelayCredentialSigner, TokenMinter } from '#shared/ports.ts';
import type { SlackMessenger } from '#shared/slack/slack-messenger.ts';
import type { EksClusterLookup } from '#shared/tokens/eks-token.ts';
import { tracer } from './observability.ts';
import { buildRuntime, type ApprovalSecrets, type Runtime } from './runtime.ts';

/**
 * The AWS adapters a function uses besides DynamoDB, named by its handler (factories in `aws-adapters.ts`). A port a
 * function does not name gets a stand-in that refuses every call, so its bundle carries no SDK client it never calls.
 */
export interface AwsAdapters {
  minter?: (clusters: EksClusterLookup) => TokenMinter;
  /** Signs relay credentials with the KMS key in RELAY_CREDENTIAL_KEY_ARN; used only when a relay is configured. */
  relaySigner?: (keyArn: string) => RelayCredentialSigner;
  entries?: (clusters: EksClusterLookup) => AccessEntries;
  scheduler?: (stateMachineArn: string) => LifecycleScheduler;
  callbacks?: () => TaskCallbacks;
  secrets?: () => ApprovalSecrets;
  slack?: (secrets: ApprovalSecrets, config: GatehouseConfig) => SlackMessenger;
  mailer?: (config: GatehouseConfig) => Mailer | undefined;
  archive?: () => ArchiveStore;
}

/** Reads a required environment variable once at start; a missing one stops the function before it serves. */
function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** The environment variable naming the relay credential key (infra/control-plane-stack.ts sets it on token issuers). */
export const RELAY_CREDENTIAL_KEY_VARIABLE = 'RELAY_CREDENTIAL_KEY_ARN';

/**
 * Whether this deployment offers `via: "relay"`: when the configuration says where the relay is (`relay.url`) or
 * deploys it (`relay.deployment`). Without either, relay requests are refused as unavailable, never granted for a relay
 * that does not exist.
 */
export function relayConfigured(config: GatehouseConfig): boolean {
  return config.relay.url !== undefined || config.relay.deployment !== undefined;
}

/** Only create-access-request starts executions; other functions never reach this scheduler. */
const unscheduled: LifecycleScheduler = {
  schedule: () => Promise.reject(new Error('LIFECYCLE_STATE_MACHINE_ARN is not set for this function')),
};

const noMinter: TokenMinter = {
  mint: () => Promise.reject(new Error('this function does not mint tokens (no minter in its handler)')),
};

const noEntries: AccessEntries = {
  create: () => Promise.reject(new Error('this function does not change access entries (no entries in its handler)')),
  associatePolicy: () =>
    Promise.reject(new Error('this function does not change access entries (no entries in its handler)')),
  delete: () => Promise.reject(new Error('this function does not change access entries (no entries in its handler)')),
};

const noCallbacks: TaskCallbacks = {
  succeed: () =>
    Promise.reject(new Error('this function does not answer approval tasks (no callbacks in its handler)')),
  fail: () => Promise.reject(new Error('this function does not answer approval tasks (no callbacks in its handler)')),
  heartbeat: () =>
    Promise.reject(new Error('this function does not answer approval tasks (no callbacks in its handler)')),
};

const noSecrets: ApprovalSecrets = {
  slackSigningSecret: () => Promise.reject(new Error('this function reads no secrets (no secrets in its handler)')),
  linkKeys: () => Promise.reject(new Error('this function reads no secrets (no secrets in its handler)')),
};

export function buildAwsRuntime(adapters: AwsAdapters = {}): Runtime {
  const loaded = loadBundledConfig(requiredEnv('GATEHOUSE_CONFIG'));
  const clusters = eksClusterLookup(loaded.config);
  const stateMachineArn = process.env.LIFECYCLE_STATE_MACHINE_ARN;
  const secrets = adapters.secrets?.() ?? noSecrets;
  const mailer = adapters.mailer?.(loaded.config);
  const relaySigner =
    adapters.relaySigner && relayConfigured(loaded.config)
      ? adapters.relaySigner(requiredEnv(RELAY_CREDENTIAL_KEY_VARIABLE))
      : undefined;
  return buildRuntime(loaded, {
    dynamodb: tracer.captureAWSv3Client(new DynamoDBClient({})),
    tables: {
      events: requiredEnv('EVENTS_TABLE'),
      state: requiredEnv('STATE_TABLE'),
      idempotency: process.env.IDEMPOTENCY_TABLE ?? 'unused',
    },
    slotRoles: JSON.parse(requiredEnv('SLOT_ROLE_ARNS')) as Record<string, string[]>,
    minter: adapters.minter?.(clusters) ?? noMinter,
    ...(relaySigner ? { relaySigner } : {}),
    entries: adapters.entries?.(clusters) ?? noEntries,
    scheduler: stateMachineArn && adapters.scheduler ? adapters.scheduler(stateMachineArn) : unscheduled,
    keys: remoteKeyResolver(),
    callbacks: adapters.callbacks?.() ?? noCallbacks,
    secrets,
    ...(adapters.slack ? { slack: adapters.slack(secrets, loaded.config) } : {}),
    ...(mailer ? { mailer } : {}),
    ...(adapters.archive ? { archive: adapters.archive() } : {}),
    apiBaseUrl: process.env.API_BASE_URL ?? 'https://gatehouse.invalid',
  });
}
