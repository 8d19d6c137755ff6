/**
 * The composition root shared by every handler: builds the domain service and its adapters once per process.
 * Lambda builds the AWS runtime from environment variables on first use; the local runtime installs its own with
 * `useRuntime` before it serves a request, so both run the very same handlers.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { AccessService } from '#shared/access/access-service.ts';
import { DynamoDbApprovalStore } from '#shared/adapters/aws/dynamodb-approval-store.ts';
import type { Mailer } from '#shared/approvals/approval-email.ts';
import { ApprovalService } from '#shared/approvals/approval-service.ts';
import type { TaskCallbacks } from '#shared/approvals/ports.ts';
import type { SlackMessenger } from '#shared/slack/slack-messenger.ts';
import { DynamoDbAccessStore } from '#shared/adapters/aws/dynamodb-access-store.ts';
import { DynamoDbChainStore } from '#shared/adapters/aws/dynamodb-chain-store.ts';
import { DynamoDbSlotPool } from '#shared/adapters/aws/dynamodb-slot-pool.ts';
import type { TableNames } from '#shared/adapters/aws/tables.ts';
import type { LoadedConfig } from '#shared/config/bundle.ts';
import type { KeyResolver } from '#shared/adapters/http/remote-jwks.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import { AuditLog } from '#shared/audit/audit-log.ts';
import { OidcVerifier } from '#shared/identity/oidc-verifier.ts';
import { loadPolicyEngine, type PolicyEngine } from '#shared/policy/policy-engine.ts';
import type {
  AccessEntries,
  AuditSink,
  Clock,
  LifecycleScheduler,
  RelayCredentialSigner,
  TokenMinter,
} from '#shared/ports.ts';
import type { ArchiveStore } from '#shared/evidence/ports.ts';
import { AuditorService } from '#shared/evidence/auditor-service.ts';
import type { AwsAdapters } from './aws-runtime.ts';

/** Secrets the approval channels need; read on use, from Secrets Manager in AWS and the data directory locally. */
export interface ApprovalSecrets {
  /** Slack's signing secret; undefined when Slack is not set up. */
  slackSigningSecret(): Promise<string | undefined>;
  /** Approval link keys, newest first (the previous one still verifies links sent before a rotation). */
  linkKeys(): Promise<Uint8Array[]>;
}

export interface Runtime {
  loaded: LoadedConfig;
  service: AccessService;
  approvals: ApprovalService;
  /** Auditors' reads: event queries and evidence export. */
  auditors: AuditorService;
  secrets: ApprovalSecrets;
  /** What the approval channels (functions/lib/approval-channels.ts) are built from. */
  parts: RuntimeParts;
  clock: Clock;
  verifier: OidcVerifier;
  audit: AuditSink;
  policy: PolicyEngine;
  idempotency: DynamoDBPersistenceLayer;
}

/** What differs between AWS and the local runtime: where the tables are, and who mints tokens and edits EKS. */
export interface RuntimeParts {
  dynamodb: DynamoDBClient;
  tables: TableNames;
  slotRoles: Record<string, string[]>;
  minter: TokenMinter;
  /** Signs relay credentials; absent where no relay is configured or the function issues no tokens. */
  relaySigner?: RelayCredentialSigner;
  entries: AccessEntries;
  scheduler: LifecycleScheduler;
  keys: KeyResolver;
  /** Answers the lifecycle's waiting approval task. */
  callbacks: TaskCallbacks;
  secrets: ApprovalSecrets;
  /** Absent when Slack or email is not configured. */
  slack?: SlackMessenger;
  mailer?: Mailer;
  /** The audit bucket, for the functions that read digests (get-evidence); absent elsewhere. */
  archive?: ArchiveStore;
  /** Where approvers' phones reach the API, for email links. */
  apiBaseUrl: string;
  clock?: Clock;
}

export function buildRuntime(loaded: LoadedConfig, parts: RuntimeParts): Runtime {
  const clock = parts.clock ?? systemClock;
  const policy = loadPolicyEngine({ files: loaded.policyFiles });
  const chains = new DynamoDbChainStore(parts.dynamodb, parts.tables.events);
  const audit = new AuditLog(chains, clock, ulidIds);
  const store = new DynamoDbAccessStore(parts.dynamodb, parts.tables.state);
  const approvalStore = new DynamoDbApprovalStore(parts.dynamodb, parts.tables.state);
  const service = new AccessService({
    config: loaded.config,
    policy,
    audit,
    store,
    approvals: approvalStore,
    slots: new DynamoDbSlotPool(parts.dynamodb, parts.tables.state, parts.slotRoles, clock),
    entries: parts.entries,
    minter: parts.minter,
    ...(parts.relaySigner ? { relaySigner: parts.relaySigner } : {}),
    scheduler: parts.scheduler,
    clock,
    ids: ulidIds,
  });
  const verifier = new OidcVerifier({
    issuers: loaded.config.issuers,
    keys: parts.keys,
    clock,
    maxJwtBytes: loaded.config.api.maxJwtBytes,
  });
  const config = () => loaded.config;
  const approvals = new ApprovalService({
    config,
    store: approvalStore,
    callbacks: parts.callbacks,
    audit,
    access: store,
    clock,
  });
  const auditors = new AuditorService({
    config: loaded.config,
    timeline: chains,
    ...(parts.archive ? { archive: parts.archive } : {}),
    audit,
    clock,
  });
  const idempotency = new DynamoDBPersistenceLayer({
    tableName: parts.tables.idempotency,
    awsSdkV3Client: parts.dynamodb,
  });
  return {
    loaded,
    service,
    approvals,
    auditors,
    secrets: parts.secrets,
    parts,
    clock,
    verifier,
    audit,
    policy,
    idempotency,
  };
}

let current: Promise<Runtime> | undefined;

/** Installs a runtime (the local runtime and tests do); handlers then use it instead of building the AWS one. */
export function useRuntime(runtime: Runtime | undefined): void {
  current = runtime ? Promise.resolve(runtime) : undefined;
}

/**
 * The installed runtime, or else the AWS one, built once per process with the adapters the calling handler names
 * (the first call's adapters win: one Lambda function serves one handler).
 */
export function getRuntime(adapters: AwsAdapters = {}): Promise<Runtime> {
  current ??= import('./aws-runtime.ts').then(({ buildAwsRuntime }) => buildAwsRuntime(adapters));
  return current;
}
