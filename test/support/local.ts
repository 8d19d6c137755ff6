/**
 * The whole control plane in this process for end-to-end API tests: `startLocal` with a test configuration and Cedar
 * policy written to a temporary directory, embedded dynalite in memory, the real handlers behind the local API server,
 * the real ASL on aws-local-stepfunctions, and the development issuer for real JWTs. One per test file: startLocal
 * installs the process-wide runtime.
 */
import './api.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAccessStore } from '../../shared/adapters/aws/dynamodb-access-store.ts';
import { DynamoDbChainStore } from '../../shared/adapters/aws/dynamodb-chain-store.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import type { LocalAccessEntry } from '../../shared/adapters/local/local-access-entries.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import type { AccessRequest, DirectGrant, Grant } from '../../shared/model.ts';
import { LOCAL_AUDIENCE, startLocal, type LocalOptions, type LocalRuntime } from '../../local/start.ts';
import { EDIT_POLICY_ARN, GITHUB_ACTIONS_ISSUER, VIEW_POLICY_ARN } from './config-parts.ts';
import { call, type ApiResponse, type CallOptions } from './api.ts';

export { EDIT_POLICY_ARN, VIEW_POLICY_ARN };
export const ADMIN_GROUP = 'platform-admins';

/**
 * Two clusters: `dev` (40 slots, at most 30 minutes) and `tight` (2 slots) for races. One configured issuer besides
 * the development issuer startLocal adds, so a token of any other issuer is unknown.
 */
export function testConfig(): Record<string, unknown> {
  const accessLevels = { view: VIEW_POLICY_ARN, edit: EDIT_POLICY_ARN };
  return {
    version: 1,
    issuers: [GITHUB_ACTIONS_ISSUER],
    clusters: [
      {
        name: 'dev',
        eksClusterName: 'acme-dev',
        region: 'eu-west-1',
        account: '111122223333',
        slotPoolSize: 40,
        maxDurationSeconds: 1800,
        accessLevels,
      },
      {
        name: 'tight',
        eksClusterName: 'acme-tight',
        region: 'eu-west-1',
        account: '111122223333',
        slotPoolSize: 2,
        maxDurationSeconds: 1800,
        accessLevels,
      },
    ],
    policies: { files: ['access.cedar'] },
    admins: { principals: [], groups: [ADMIN_GROUP] },
  };
}

/**
 * Members of group `ci` of the development issuer may view or edit `app` and `app-jobs` on `dev` and `tight`;
 * `dev/sensitive` needs `sre-approvers`; kube-system is forbidden to everyone.
 */
export const TEST_POLICY = `
@id("dev-ci")
permit (
  principal,
  action == Gatehouse::Action::"RequestAccess",
  resource
)
when {
  principal.issuerName == "local" &&
  principal in Gatehouse::Group::"ci" &&
  ["dev", "tight"].contains(resource.cluster) &&
  ["app", "app-jobs", "kube-system"].contains(resource.name) &&
  ["view", "edit"].contains(context.access)
};

@id("dev-sensitive-approval")
@approval("sre-approvers")
permit (
  principal,
  action == Gatehouse::Action::"RequestAccess",
  resource == Gatehouse::Namespace::"dev/sensitive"
)
when { principal.issuerName == "local" && principal in Gatehouse::Group::"ci" && context.access == "view" };

@id("no-kube-system")
forbid (
  principal,
  action == Gatehouse::Action::"RequestAccess",
  resource
)
when { resource.name == "kube-system" };
`;

export interface TestLocalOptions {
  /** Edits the configuration before it is written. */
  config?: (config: Record<string, unknown>) => Record<string, unknown>;
  policy?: string;
  lifecycle?: LocalOptions['lifecycle'];
}

export interface TestLocal {
  local: LocalRuntime;
  apiUrl: string;
  chain: DynamoDbChainStore;
  store: DynamoDbAccessStore;
  /** A JWT of the development issuer for `sub`, in group `ci` unless `groups` says otherwise. */
  token(sub: string, groups?: string[]): Promise<string>;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** Every event of one stream, in seq order. */
  events(stream: string): Promise<AuditEvent[]>;
  /** Every event of today (UTC) from the byTime index. */
  eventsToday(): Promise<AuditEvent[]>;
  /** The local access entry of a slot role, or undefined. */
  entry(cluster: string, roleArn: string): Promise<LocalAccessEntry | undefined>;
  /** Every local access entry of a cluster. */
  entries(cluster: string): Promise<LocalAccessEntry[]>;
  /** The slot lease items of a cluster (leased slots only). */
  leases(cluster: string): Promise<{ index: number; grantId: string }[]>;
  grant(id: string): Promise<Grant | undefined>;
  /** A direct grant (with its slot), or undefined; a relay grant throws. */
  directGrant(id: string): Promise<DirectGrant | undefined>;
  request(id: string): Promise<AccessRequest | undefined>;
  stop(): Promise<void>;
}

export const DEFAULT_BODY = {
  cluster: 'dev',
  namespaces: ['app'],
  access: 'view',
  durationSeconds: 600,
  purpose: 'deploy patient-portal 1.4.2',
};

export async function startTestLocal(options: TestLocalOptions = {}): Promise<TestLocal> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const configFile = join(dir, 'gatehouse.config.yaml');
  const config = (options.config ?? ((c) => c))(testConfig());
  // JSON is YAML: the loader reads it as it reads any gatehouse.config.yaml.
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'access.cedar'), options.policy ?? TEST_POLICY);
  const local = await startLocal({
    port: 0,
    inMemory: true,
    dataDir: join(dir, 'data'),
    configFile,
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
  });
  const { client, tables } = local.dynamo;
  const doc = documentClient(client);
  const chain = new DynamoDbChainStore(client, tables.events);
  const store = new DynamoDbAccessStore(client, tables.state);

  const scan = async (prefix: string): Promise<Record<string, unknown>[]> => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({
          TableName: tables.state,
          FilterExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };

  return {
    local,
    apiUrl: local.apiUrl,
    chain,
    store,
    token: (sub, groups = ['ci']) => local.issuer.sign({ sub, groups }, { audience: LOCAL_AUDIENCE }),
    call: (method, path, callOptions) => call(local.apiUrl, method, path, callOptions),
    events: (stream) => chain.queryEvents(stream),
    eventsToday: () => chain.queryDay(new Date().toISOString().slice(0, 10)),
    entry: (cluster, roleArn) => local.entries.get(cluster, roleArn),
    entries: async (cluster) =>
      (await scan(`ENTRY#${cluster}`)).map(({ pk: _pk, sk: _sk, ...entry }) => entry as unknown as LocalAccessEntry),
    leases: async (cluster) =>
      (await scan(`SLOT#${cluster}`)).map((item) => ({ index: item.index as number, grantId: item.grantId as string })),
    grant: (id) => store.getGrant(id),
    directGrant: async (id) => {
      const grant = await store.getGrant(id);
      if (grant && grant.via !== 'direct') throw new Error(`grant ${id} is a ${grant.via} grant, not a direct one`);
      return grant;
    },
    request: (id) => store.getRequest(id),
    stop: async () => {
      await local.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
