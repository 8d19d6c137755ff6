/**
 * POST /v1/access-requests on the auto-grant path: end to end against the local runtime (HTTP API server, handlers,
 * dynalite, local signer, all on loopback in this process), then the same handler in-process, first over dynalite and
 * then over in-memory fakes, and its parts alone (JWT verification, the Cedar decision, the use case, one audit append).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { Agent, request } from 'undici';
import { AccessService } from '#shared/access/access-service.ts';
import { LocalTokenMinter } from '#shared/adapters/local/local-token-minter.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import { AuditLog } from '#shared/audit/audit-log.ts';
import { eksClusterLookup } from '#shared/config/clusters.ts';
import type { AccessRequestInput } from '#shared/model.ts';
import { handler as createAccessRequest } from '../functions/create-access-request.ts';
import { useRuntime, type Runtime } from '../functions/lib/runtime.ts';
import { lambdaContext } from '../local/api-server.ts';
import { LOCAL_AUDIENCE, LOCAL_CLUSTER, startLocal } from '../local/start.ts';
import {
  MemoryAccessEntries,
  MemoryAccessStore,
  MemoryChainStore,
  MemoryScheduler,
  MemorySlotPool,
  RoundTrips,
} from './fakes.ts';
import { percentile, timeLoop } from './stats.ts';

/** Clusters the bench spreads its clients over, each with the schema's largest pool, so no request waits for a slot. */
const BENCH_CLUSTERS = [LOCAL_CLUSTER, 'bench-2', 'bench-3', 'bench-4'];
const SLOT_POOL_SIZE = 50;

export interface LevelResult {
  clients: number;
  created: number;
  p50: number;
  p99: number;
  requestsPerSecond: number;
  /** Status codes other than 201, with counts. */
  others: Record<string, number>;
  seconds: number;
}

export interface Timing {
  name: string;
  what: string;
  count: number;
  p50: number;
  p99: number;
}

export interface LatencyReport {
  levels: LevelResult[];
  timings: Timing[];
  roundTripsPerRequest: number;
  dynaliteCallsPerRequest: number;
  revokeFailures: number;
}

export interface LatencyOptions {
  /** [clients, max requests, max seconds] per level. */
  levels: [number, number, number][];
  /** Iterations and time budget (ms) of each in-process timing. */
  iterations: number;
  budgetMs: number;
}

function writeBenchConfig(dir: string, projectRoot: string): string {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  copyFileSync(join(projectRoot, 'policies/access.cedar'), join(dir, 'policies/access.cedar'));
  // The bench clusters other than `local` get the local-demo policy of policies/access.cedar, verbatim but for the name.
  const extra = BENCH_CLUSTERS.filter((name) => name !== LOCAL_CLUSTER).map(
    (name) => `@id("bench-demo-${name}")
permit (principal, action == Gatehouse::Action::"RequestAccess", resource in Gatehouse::Cluster::"${name}")
when {
  principal.issuerName == "local" &&
  (principal.subject == "ci:demo" || principal in Gatehouse::Group::"ci") &&
  ["default", "demo"].contains(resource.name) &&
  ["view", "edit"].contains(context.access)
};
`,
  );
  writeFileSync(join(dir, 'policies/bench.cedar'), extra.join('\n'));
  const clusters = BENCH_CLUSTERS.map(
    (name) => `  - name: ${name}
    region: us-east-1
    account: '000000000000'
    slotPoolSize: ${SLOT_POOL_SIZE}
    maxDurationSeconds: 3600
    accessLevels:
      view: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
      edit: arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy`,
  );
  const file = join(dir, 'gatehouse.bench.yaml');
  writeFileSync(
    file,
    `version: 1
# The local runtime adds its development issuer; the schema wants at least one configured issuer.
issuers:
  - name: placeholder
    issuer: https://issuer.invalid
    audience: gatehouse
clusters:
${clusters.join('\n')}
policies:
  files:
    - policies/access.cedar
    - policies/bench.cedar
`,
  );
  return file;
}

function requestBody(cluster: string): AccessRequestInput {
  return {
    cluster,
    namespaces: ['demo'],
    access: 'view',
    durationSeconds: 900,
    purpose: 'npm run bench',
    via: 'direct',
  };
}

export async function runLatency(
  projectRoot: string,
  dataDir: string,
  options: LatencyOptions,
): Promise<LatencyReport> {
  const configFile = writeBenchConfig(join(dataDir, 'config'), projectRoot);
  const local = await startLocal({ port: 0, inMemory: true, dataDir: join(dataDir, 'local'), configFile });
  const dispatcher = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
  try {
    const token = await local.issuer.sign(
      { sub: 'ci:demo', groups: ['ci'] },
      { audience: LOCAL_AUDIENCE, expiresInSeconds: 3600 },
    );
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let revokeFailures = 0;

    /** One POST, then (untimed) the revoke that gives its slot back. */
    const post = async (cluster: string): Promise<{ status: number; ms: number }> => {
      const start = performance.now();
      const response = await request(`${local.apiUrl}/v1/access-requests`, {
        method: 'POST',
        headers,
        body: JSON.stringify(requestBody(cluster)),
        dispatcher,
      });
      const body = (await response.body.json()) as { grantId?: string };
      const ms = performance.now() - start;
      if (response.statusCode === 201 && body.grantId) {
        const revoke = await request(`${local.apiUrl}/v1/grants/${body.grantId}/revoke`, {
          method: 'POST',
          headers: { authorization: headers.authorization },
          dispatcher,
        });
        await revoke.body.dump();
        if (revoke.statusCode !== 200) revokeFailures += 1;
      }
      return { status: response.statusCode, ms };
    };

    // Warm up: JWKS fetch, Cedar, the SDK's first connections, V8's JIT.
    for (let i = 0; i < 30; i += 1) await post(BENCH_CLUSTERS[i % BENCH_CLUSTERS.length]!);

    const levels: LevelResult[] = [];
    for (const [clients, maxRequests, maxSeconds] of options.levels) {
      const latencies: number[] = [];
      const others: Record<string, number> = {};
      let sent = 0;
      const start = performance.now();
      const deadline = start + maxSeconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async (_, client) => {
          const cluster = BENCH_CLUSTERS[client % BENCH_CLUSTERS.length]!;
          while (sent < maxRequests && performance.now() < deadline) {
            sent += 1;
            const { status, ms } = await post(cluster);
            if (status === 201) latencies.push(ms);
            else others[status] = (others[status] ?? 0) + 1;
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      levels.push({
        clients,
        created: latencies.length,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        requestsPerSecond: latencies.length / seconds,
        others,
        seconds,
      });
    }

    // The same handler in-process: the API Gateway event as the local API server builds it, no HTTP.
    const event = (cluster: string): APIGatewayProxyEvent =>
      ({
        resource: '/v1/access-requests',
        path: '/v1/access-requests',
        httpMethod: 'POST',
        headers: { ...headers },
        multiValueHeaders: {},
        queryStringParameters: null,
        multiValueQueryStringParameters: null,
        pathParameters: null,
        stageVariables: null,
        body: JSON.stringify(requestBody(cluster)),
        isBase64Encoded: false,
        requestContext: { identity: { sourceIp: '127.0.0.1' } },
      }) as unknown as APIGatewayProxyEvent;
    let failures = 0;
    const invoke = async () => {
      const result = (await createAccessRequest(
        event(LOCAL_CLUSTER),
        lambdaContext('create-access-request'),
      )) as APIGatewayProxyResult;
      if (result.statusCode !== 201) failures += 1;
      return result;
    };
    const timings: Timing[] = [];
    const time = async (name: string, what: string, fn: () => Promise<unknown>, count = options.iterations) => {
      for (let i = 0; i < 20; i += 1) await fn();
      const samples = await timeLoop(fn, count, options.budgetMs);
      timings.push({ name, what, count: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99) });
    };

    // Over dynalite, as the local API server runs it minus HTTP. Each grant is revoked after its timing (untimed), so
    // the pool stays as free as in the levels above; only the invocation's own DynamoDB calls are counted.
    let dynaliteCalls = 0;
    let counting = false;
    local.dynamo.client.middlewareStack.add(
      (next) => async (args) => {
        if (counting) dynaliteCalls += 1;
        return next(args);
      },
      { step: 'initialize', name: 'benchCallCounter' },
    );
    // The lifecycles the end-to-end levels started would keep running in the background.
    local.scheduler.stop();
    const { principal: caller } = await local.runtime.verifier.verify(token);
    const samples: number[] = [];
    const dynaliteDeadline = performance.now() + options.budgetMs;
    for (let i = 0; i < Math.min(300, options.iterations) && performance.now() < dynaliteDeadline; i += 1) {
      counting = true;
      const start = performance.now();
      const result = await invoke();
      samples.push(performance.now() - start);
      counting = false;
      const { grantId } = JSON.parse(result.body) as { grantId: string };
      await local.runtime.service.revokeGrant(caller, grantId);
    }
    const dynaliteCallsPerRequest = dynaliteCalls / Math.max(1, samples.length);
    timings.push({
      name: 'handler + dynalite',
      what: 'create-access-request handler in-process over dynalite and the local signer (no HTTP)',
      count: samples.length,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
    });
    await time('dynalite round trip', 'one GetItem on the state table through the SDK client', () =>
      local.dynamo.client.send(
        new GetItemCommand({ TableName: local.dynamo.tables.state, Key: { pk: { S: 'BENCH' }, sk: { S: 'BENCH' } } }),
      ),
    );

    // Over in-memory fakes: the handler's own work.
    const trips = new RoundTrips();
    const { loaded, policy, verifier } = local.runtime;
    const audit = new AuditLog(new MemoryChainStore(trips), systemClock, ulidIds);
    const service = new AccessService({
      config: loaded.config,
      policy,
      audit,
      store: new MemoryAccessStore(trips),
      slots: new MemorySlotPool(trips),
      entries: new MemoryAccessEntries(trips),
      minter: new LocalTokenMinter({
        secret: local.signingSecret,
        clusters: eksClusterLookup(loaded.config),
        clock: systemClock,
      }),
      scheduler: new MemoryScheduler(trips),
      clock: systemClock,
      ids: ulidIds,
    });
    const fake: Runtime = { ...local.runtime, service, audit };
    useRuntime(fake);
    const tripsBefore = trips.count;
    await time(
      'handler, no I/O',
      'create-access-request handler in-process over in-memory fakes: middy, Powertools, JWT, zod, Cedar, audit hashing, token',
      invoke,
    );
    const handlerCount = timings.at(-1)!.count + 20;
    const roundTripsPerRequest = (trips.count - tripsBefore) / handlerCount;

    const { principal } = await verifier.verify(token);
    const input = requestBody(LOCAL_CLUSTER);
    await time(
      'use case, no I/O',
      'AccessService.requestAccess + issueToken over the fakes (no middy, no JWT)',
      async () => {
        const granted = await service.requestAccess(principal, input);
        await service.issueToken(principal, granted.requestId);
      },
    );
    await time('JWT verification', 'OidcVerifier.verify (ES256, JWKS cached)', () => verifier.verify(token));
    await time('Cedar decision', 'PolicyEngine.decideAccess, one namespace', async () =>
      policy.decideAccess(principal, input),
    );
    await time('audit append, no I/O', 'AuditLog.append of one event (canonical JSON + SHA-256 chain)', () =>
      audit.append({
        type: 'access.requested',
        stream: `bench/${ulidIds.next()}`,
        actor: { id: principal.id },
        details: { purpose: 'bench' },
      }),
    );
    if (failures > 0) throw new Error(`${failures} in-process invocations did not answer 201`);
    return { levels, timings, roundTripsPerRequest, dynaliteCallsPerRequest, revokeFailures };
  } finally {
    await dispatcher.close();
    await local.stop();
  }
}
