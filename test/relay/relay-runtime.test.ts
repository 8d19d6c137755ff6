/**
 * The relay as ECS starts it (relay/runtime.ts, run by relay/main.ts), from its environment alone: the configuration
 * bundle, grants and audit chains in DynamoDB (dynalite), the relay credential key's public half from KMS and the
 * cluster's endpoint and CA from EKS (both on aws-sdk-client-mock: they need an account), and its own EKS token, which
 * the Kubernetes API test server checks as aws-iam-authenticator would (the project's verifier, with the secret key of
 * the credentials the relay signed with).
 */
import { generateKeyPairSync, sign as signBytes } from 'node:crypto';
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
import { selfSignedCertificate } from '../../relay/tls.ts';
import { DynamoDbAccessStore } from '../../shared/adapters/aws/dynamodb-access-store.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import { loadConfigFile } from '../../shared/adapters/fs/config-file.ts';
import { bundleConfig } from '../../shared/config/bundle.ts';
import type { RelayGrant } from '../../shared/model.ts';
import { derToJoseSignature } from '../../shared/tokens/ecdsa-signature.ts';
import { verifyEksToken } from '../../shared/tokens/eks-token-verifier.ts';
import { issueRelayCredential, relayKeyId } from '../../shared/tokens/relay-credential.ts';
import { startK8sApiServer, type K8sApiServer } from '../support/k8s-api-server.ts';
import { eventually } from '../support/local.ts';
import { AGENT } from '../support/relay.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/relay-credential';
const EKS_NAME = 'acme-staging';
const SECRET_ACCESS_KEY = 'relay-task-role-secret-access-key-for-tests';
const SSN = '123-45-6789';
const kms = mockClient(KMSClient);
const eks = mockClient(EKSClient);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicDer = publicKey.export({ type: 'spki', format: 'der' });

let work: string;
let dynamo: EmbeddedDynamo;
let api: K8sApiServer;
let running: RunningRelay;
const saved = { ...process.env };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gatehouse-relay-runtime-'));
  dynamo = await startEmbeddedDynamo();
  const upstreamCertificate = await selfSignedCertificate(['127.0.0.1']);
  api = await startK8sApiServer({
    tls: upstreamCertificate,
    namespaces: ['default', 'claims'],
    authenticateToken: (token) =>
      verifyEksToken(token, { clusterId: EKS_NAME, secretAccessKey: SECRET_ACCESS_KEY, now: new Date() }).ok
        ? { username: 'gatehouse-relay', groups: ['system:authenticated'] }
        : undefined,
  });
  api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'intake', namespace: 'claims', annotations: { note: `caller ssn ${SSN}` } },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });

  writeFileSync(
    join(work, 'gatehouse.config.yaml'),
    [
      'version: 1',
      'issuers: [{ name: github-actions, issuer: "https://token.actions.githubusercontent.com", audience: gatehouse }]',
      'clusters:',
      `  - { name: staging, eksClusterName: ${EKS_NAME}, region: us-east-1, account: "111122223333",`,
      '      accessLevels: { view: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy" } }',
      'policies: { files: [relay.cedar] }',
      'relay: { url: "https://relay.internal.example" }',
    ].join('\n'),
  );
  writeFileSync(join(work, 'relay.cedar'), '@id("none") forbid (principal, action, resource) when { false };\n');
  writeFileSync(join(work, 'bundle.json'), bundleConfig(loadConfigFile(join(work, 'gatehouse.config.yaml'))));

  kms.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({ KeyId: KEY_ARN, PublicKey: publicDer });
  eks.on(DescribeClusterCommand, { name: EKS_NAME }).resolves({
    cluster: {
      name: EKS_NAME,
      endpoint: api.url,
      certificateAuthority: { data: Buffer.from(upstreamCertificate.cert).toString('base64') },
    },
  });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIARELAYTASKROLE01',
    AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  running = await startRelayFromEnvironment({
    ...process.env,
    GATEHOUSE_CONFIG: join(work, 'bundle.json'),
    GATEHOUSE_RELAY_CLUSTER: 'staging',
    EVENTS_TABLE: dynamo.tables.events,
    STATE_TABLE: dynamo.tables.state,
    AUDIT_BUCKET: 'gatehouse-audit',
    RELAY_CREDENTIAL_KEY_ID: KEY_ARN,
    PORT: '0',
    RELAY_LISTEN_HOST: '127.0.0.1',
  });
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
    const now = Date.now();
    const grant: RelayGrant = {
      id: 'grt_runtime',
      requestId: 'req_runtime',
      via: 'relay',
      principal: AGENT,
      cluster: 'staging',
      namespaces: ['claims'],
      access: 'view',
      groups: ['gatehouse:view'],
      username: 'gatehouse:agent-runtime',
      sessionName: 'agent-runtime',
      status: 'active',
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3600_000).toISOString(),
    };
    await new DynamoDbAccessStore(dynamo.client, dynamo.tables.state).putGrant(grant);
    const signer = {
      keyId: async () => relayKeyId(publicDer),
      publicKeyPem: async () => publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      sign: async (input: Uint8Array) => derToJoseSignature(signBytes('sha256', input, privateKey)),
    };
    const { token } = await issueRelayCredential(
      signer,
      {
        id: 'rc_runtime',
        grantId: grant.id,
        principalId: AGENT.id,
        cluster: 'staging',
        namespaces: grant.namespaces,
        access: grant.access,
        groups: grant.groups,
        username: grant.username,
        grantExpiresAt: new Date(grant.expiresAt),
        ttlSeconds: 900,
      },
      { now: () => new Date() },
    );

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
