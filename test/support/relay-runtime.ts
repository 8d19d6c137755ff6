/**
 * What the tests of the relay as ECS starts it share (test/relay/relay-runtime.test.ts in this process, and
 * relay-image.test.ts from its container bundle): the cluster `staging` (EKS name acme-staging), a Kubernetes API test
 * server that checks the relay's own EKS token as aws-iam-authenticator would, a pod whose annotation holds an SSN, the
 * configuration bundle, the relay credential key (its public half as KMS answers it) and an active relay grant in the
 * state table with a credential for it.
 */
import { generateKeyPairSync, sign as signBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmbeddedDynamo } from '../../local/embedded-stores.ts';
import { selfSignedCertificate } from '../../relay/tls.ts';
import { DynamoDbAccessStore } from '../../shared/adapters/aws/dynamodb-access-store.ts';
import { loadConfigFile } from '../../shared/adapters/fs/config-file.ts';
import { bundleConfig } from '../../shared/config/bundle.ts';
import type { RelayGrant } from '../../shared/model.ts';
import { derToJoseSignature } from '../../shared/tokens/ecdsa-signature.ts';
import { verifyEksToken } from '../../shared/tokens/eks-token-verifier.ts';
import { issueRelayCredential, relayKeyId } from '../../shared/tokens/relay-credential.ts';
import { startK8sApiServer, type K8sApiServer } from './k8s-api-server.ts';
import { AGENT } from './relay.ts';

export const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/relay-credential';
export const EKS_NAME = 'acme-staging';
export const SSN = '123-45-6789';
/** The relay task role's secret key: the API test server checks the relay's EKS token with it. */
export const SECRET_ACCESS_KEY = 'relay-task-role-secret-access-key-for-tests';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
/** The relay credential key's public half, as KMS GetPublicKey answers it (SPKI DER). */
export const PUBLIC_KEY_DER = publicKey.export({ type: 'spki', format: 'der' });

/** The API server of cluster `staging`, its CA, and pod claims/intake with `caller ssn <SSN>` in an annotation. */
export async function startRuntimeApiServer(): Promise<{ api: K8sApiServer; ca: string }> {
  const certificate = await selfSignedCertificate(['127.0.0.1']);
  const api = await startK8sApiServer({
    tls: certificate,
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
  return { api, ca: certificate.cert };
}

/** EKS DescribeCluster's answer for `staging`, pointing at `api`. */
export function describedCluster(api: K8sApiServer, ca: string) {
  return { name: EKS_NAME, endpoint: api.url, certificateAuthority: { data: Buffer.from(ca).toString('base64') } };
}

/** Writes gatehouse.config.yaml and `guardrails` as relay.cedar into `dir`; returns the configuration bundle. */
export function writeRuntimeConfig(dir: string, guardrails: string): string {
  writeFileSync(
    join(dir, 'gatehouse.config.yaml'),
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
  writeFileSync(join(dir, 'relay.cedar'), guardrails);
  return bundleConfig(loadConfigFile(join(dir, 'gatehouse.config.yaml')));
}

/** Puts an active view grant on namespace claims into the state table; returns it with a credential for it. */
export async function activeRelayGrant(
  dynamo: EmbeddedDynamo,
  id: string,
): Promise<{ grant: RelayGrant; token: string }> {
  const now = Date.now();
  const grant: RelayGrant = {
    id: `grt_${id}`,
    requestId: `req_${id}`,
    via: 'relay',
    principal: AGENT,
    cluster: 'staging',
    namespaces: ['claims'],
    access: 'view',
    groups: ['gatehouse:view'],
    username: `gatehouse:agent-${id}`,
    sessionName: `agent-${id}`,
    status: 'active',
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3600_000).toISOString(),
  };
  await new DynamoDbAccessStore(dynamo.client, dynamo.tables.state).putGrant(grant);
  const signer = {
    keyId: async () => relayKeyId(PUBLIC_KEY_DER),
    publicKeyPem: async () => publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: async (input: Uint8Array) => derToJoseSignature(signBytes('sha256', input, privateKey)),
  };
  const { token } = await issueRelayCredential(
    signer,
    {
      id: `rc_${id}`,
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
  return { grant, token };
}

/**
 * The relay's environment as the task definition gives it (relay-stack.ts), with AWS credentials of its task role and
 * DynamoDB at `dynamo`; it listens on a free port of 127.0.0.1.
 */
export function relayEnvironment(dynamo: EmbeddedDynamo, configBundleFile: string): Record<string, string> {
  return {
    GATEHOUSE_CONFIG: configBundleFile,
    GATEHOUSE_RELAY_CLUSTER: 'staging',
    EVENTS_TABLE: dynamo.tables.events,
    STATE_TABLE: dynamo.tables.state,
    AUDIT_BUCKET: 'gatehouse-audit',
    RELAY_CREDENTIAL_KEY_ID: KEY_ARN,
    PORT: '0',
    RELAY_LISTEN_HOST: '127.0.0.1',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIARELAYTASKROLE01',
    AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}
