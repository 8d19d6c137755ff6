/**
 * The relay as ECS starts it (relay/runtime.ts, run by relay/main.ts), from its environment alone: the configuration
 * bundle, grants and audit chains in DynamoDB (dynalite), the relay credential key's public half from KMS and the
 * cluster's endpoint and CA from EKS (both on aws-sdk-client-mock: they need an account), and its own EKS token, which
 * the Kubernetes API test server checks as aws-iam-authenticator would (the project's verifier, with the secret key of
 * the credentials the relay signed with).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-stores.ts';
import { startRelayFromEnvironment, type RunningRelay } from '../../relay/runtime.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import type { K8sApiServer } from '../support/k8s-api-server.ts';
import { eventually } from '../support/local.ts';
import {
  activeRelayGrant,
  describedCluster,
  EKS_NAME,
  KEY_ARN,
  PUBLIC_KEY_DER,
  relayEnvironment,
  startRuntimeApiServer,
  writeRuntimeConfig,
} from '../support/relay-runtime.ts';

const kms = mockClient(KMSClient);
const eks = mockClient(EKSClient);

let work: string;
let dynamo: EmbeddedDynamo;
let api: K8sApiServer;
let running: RunningRelay;
const saved = { ...process.env };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gatehouse-relay-runtime-'));
  dynamo = await startEmbeddedDynamo();
  const upstream = await startRuntimeApiServer();
  api = upstream.api;
  writeFileSync(
    join(work, 'bundle.json'),
    writeRuntimeConfig(work, '@id("none") forbid (principal, action, resource) when { false };\n'),
  );

  kms.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({ KeyId: KEY_ARN, PublicKey: PUBLIC_KEY_DER });
  eks.on(DescribeClusterCommand, { name: EKS_NAME }).resolves({ cluster: describedCluster(api, upstream.ca) });
  // The SDK clients read their credentials and endpoints from this process's environment.
  Object.assign(process.env, relayEnvironment(dynamo, join(work, 'bundle.json')), { POWERTOOLS_LOG_LEVEL: 'SILENT' });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  running = await startRelayFromEnvironment(process.env);
}, 60_000);

afterAll(async () => {
  await running?.stop(500);
  await api?.close();
  await dynamo?.stop();
  process.env = saved;
  kms.restore();
  eks.restore();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the relay started from its ECS environment', () => {
  it('verifies a KMS-signed credential, impersonates with its own EKS token, masks, and records to DynamoDB', async () => {
    const { grant, token } = await activeRelayGrant(dynamo, 'runtime');

    const agent = new Agent({ connect: { ca: running.certificate.cert, servername: 'gatehouse-relay' } });
    const response = await request(`https://127.0.0.1:${running.port}/api/v1/namespaces/claims/pods/intake`, {
      headers: { authorization: `Bearer ${token}`, host: 'gatehouse-relay' },
      dispatcher: agent,
    });
    const body = (await response.body.json()) as { metadata: { annotations: Record<string, string> } };
    await agent.close();

    expect(response.statusCode).toBe(200);
    expect(body.metadata.annotations.note).toBe('caller ssn [MASKED:SSN]');
    const upstream = api.requests.filter((entry) => entry.path === '/api/v1/namespaces/claims/pods/intake').at(-1)!;
    expect(upstream.user).toMatchObject({ username: 'gatehouse:agent-runtime' });
    expect(upstream.headers.authorization).toMatch(/^Bearer k8s-aws-v1\./);
    expect(kms.commandCalls(GetPublicKeyCommand).map((call) => call.args[0].input)).toEqual([{ KeyId: KEY_ARN }]);
    expect(eks.commandCalls(DescribeClusterCommand).map((call) => call.args[0].input)).toEqual([{ name: EKS_NAME }]);
    const events = await eventually(async () => {
      const page = await documentClient(dynamo.client).send(new ScanCommand({ TableName: dynamo.tables.events }));
      const found = (page.Items ?? []).filter((item) => item.type === 'relay.request');
      return found.length > 0 ? found : undefined;
    });
    expect(events[0]).toMatchObject({ grantId: grant.id, details: { verb: 'get', name: 'intake', status: 200 } });
  });
});
