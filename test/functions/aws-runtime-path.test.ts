/**
 * The AWS adapters along the whole request path: the runtime built with buildRuntime from StsTokenMinter,
 * EksAccessEntries and SfnLifecycleScheduler (STS, EKS and Step Functions mocked with aws-sdk-client-mock), dynalite
 * for the tables, a real JWT from the development issuer, and the create and revoke handlers invoked with API Gateway
 * proxy events, as Lambda invokes them.
 */
import '../support/api.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  EKSClient,
} from '@aws-sdk/client-eks';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as createAccessRequest } from '../../functions/create-access-request.ts';
import { relayConfigured } from '../../functions/lib/aws-runtime.ts';
import { buildRuntime, useRuntime, type Runtime } from '../../functions/lib/runtime.ts';
import { handler as revokeGrant } from '../../functions/revoke-grant.ts';
import { lambdaContext } from '../../local/api-server.ts';
import { DynamoDbAccessStore } from '../../shared/adapters/aws/dynamodb-access-store.ts';
import { EksAccessEntries } from '../../shared/adapters/aws/eks-access-entries.ts';
import { SfnTaskCallbacks } from '../../shared/adapters/aws/sfn-task-callbacks.ts';
import { SfnLifecycleScheduler } from '../../shared/adapters/aws/sfn-lifecycle-scheduler.ts';
import { StsTokenMinter } from '../../shared/adapters/aws/sts-token-minter.ts';
import { loadConfigFile } from '../../shared/adapters/fs/config-file.ts';
import { remoteKeyResolver } from '../../shared/adapters/http/remote-jwks.ts';
import { DevIssuer } from '../../shared/adapters/local/dev-issuer.ts';
import { systemClock } from '../../shared/adapters/system.ts';
import { eksClusterLookup } from '../../shared/config/clusters.ts';
import type { DirectGrant, ExecCredential } from '../../shared/model.ts';
import { sessionIdentity } from '../../shared/tokens/session-name.ts';
import { startDynalite, type Dynalite } from '../support/dynalite.ts';
import { verifyAsIamAuthenticator } from '../support/iam-authenticator-verifier.ts';
import { VIEW_POLICY_ARN } from '../support/local.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:gatehouse-access-lifecycle';
const SLOT_ROLES = [
  'arn:aws:iam::111122223333:role/gatehouse/dev-slot-0',
  'arn:aws:iam::111122223333:role/gatehouse/dev-slot-1',
];
const SESSION = {
  AccessKeyId: 'ASIASLOTSESSION00001',
  SecretAccessKey: 'slot/session+secret',
  SessionToken: 'IQoJb3JpZ2luX2VjE/slot+token==',
};
const credentials = { accessKeyId: 'AKIDBASE', secretAccessKey: 'base' };

const sts = mockClient(STSClient);
const eks = mockClient(EKSClient);
const sfn = mockClient(SFNClient);

let dir: string;
let dynalite: Dynalite;
let issuer: DevIssuer;
let runtime: Runtime;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-aws-path-'));
  dynalite = await startDynalite();
  issuer = await DevIssuer.create();
  const issuerUrl = await issuer.start();
  const configFile = join(dir, 'gatehouse.config.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      version: 1,
      issuers: [{ name: 'ci', issuer: issuerUrl, audience: 'gatehouse', kind: 'generic' }],
      clusters: [
        {
          name: 'dev',
          eksClusterName: 'acme-dev',
          region: 'eu-west-1',
          account: '111122223333',
          slotPoolSize: 2,
          maxDurationSeconds: 1800,
          accessLevels: { view: VIEW_POLICY_ARN },
        },
      ],
      policies: { files: ['access.cedar'] },
    }),
  );
  writeFileSync(
    join(dir, 'access.cedar'),
    `@id("ci-dev")
permit (principal, action == Gatehouse::Action::"RequestAccess", resource in Gatehouse::Cluster::"dev")
when { principal.issuerName == "ci" && ["app", "app-jobs"].contains(resource.name) && context.access == "view" };`,
  );
  const loaded = loadConfigFile(configFile);
  const clusters = eksClusterLookup(loaded.config);
  runtime = buildRuntime(loaded, {
    dynamodb: dynalite.client,
    tables: dynalite.names,
    slotRoles: { dev: SLOT_ROLES },
    minter: new StsTokenMinter({
      clusters,
      clock: systemClock,
      stsClientFor: (region) => new STSClient({ region, credentials }),
    }),
    entries: new EksAccessEntries({ clusters, eksClientFor: (region) => new EKSClient({ region, credentials }) }),
    scheduler: new SfnLifecycleScheduler(STATE_MACHINE_ARN, new SFNClient({ region: 'eu-west-1', credentials })),
    keys: remoteKeyResolver(),
    callbacks: new SfnTaskCallbacks(new SFNClient({ region: 'eu-west-1', credentials })),
    secrets: {
      slackSigningSecret: async () => undefined,
      linkKeys: async () => [Buffer.alloc(32, 7)],
    },
    apiBaseUrl: 'https://gatehouse.example.org',
  });
  useRuntime(runtime);
  sts.on(AssumeRoleCommand).resolves({ Credentials: { ...SESSION, Expiration: new Date(Date.now() + 900_000) } });
  eks.on(CreateAccessEntryCommand).resolves({});
  eks.on(AssociateAccessPolicyCommand).resolves({});
  eks.on(DeleteAccessEntryCommand).resolves({});
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE_ARN}:x`, startDate: new Date() });
});

afterAll(async () => {
  useRuntime(undefined);
  sts.restore();
  eks.restore();
  sfn.restore();
  await issuer?.stop();
  await dynalite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function proxyEvent(method: string, path: string, jwt: string, body?: unknown, id?: string): APIGatewayProxyEvent {
  return {
    resource: id ? path.replace(id, '{id}') : path,
    path,
    httpMethod: method,
    headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: id ? { id } : null,
    stageVariables: null,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      identity: { sourceIp: '203.0.113.7' },
    } as APIGatewayProxyEvent['requestContext'],
  };
}

async function invoke(
  handler: typeof createAccessRequest,
  event: APIGatewayProxyEvent,
): Promise<APIGatewayProxyResult> {
  const result = await handler(event, lambdaContext(event.resource), { signal: new AbortController().signal });
  if (!result) throw new Error('the handler returned no response');
  return result;
}

describe('create and revoke on the AWS adapters', () => {
  it('assumes a slot role, creates and scopes the access entry, starts the lifecycle, and revokes by deleting the entry', async () => {
    const jwt = await issuer.sign({ sub: 'deploy-bot', groups: ['ci'] }, { audience: 'gatehouse' });
    const body = {
      cluster: 'dev',
      namespaces: ['app', 'app-jobs'],
      access: 'view',
      durationSeconds: 900,
      purpose: 'rollout',
    };

    const result = await invoke(createAccessRequest, proxyEvent('POST', '/v1/access-requests', jwt, body));

    expect(result.statusCode, result.body).toBe(201);
    const created = JSON.parse(result.body) as { id: string; grantId: string; credential: ExecCredential };
    const grant = (await new DynamoDbAccessStore(dynalite.client, dynalite.names.state).getGrant(
      created.grantId,
    )) as DirectGrant;
    expect(SLOT_ROLES).toContain(grant.slot.roleArn);
    const principal = {
      id: 'ci:deploy-bot',
      issuer: issuer.issuer,
      issuerName: 'ci',
      subject: 'deploy-bot',
      groups: ['ci'],
    };
    const { roleSessionName, sourceIdentity } = sessionIdentity(principal, created.grantId);

    const assumed = sts.commandCalls(AssumeRoleCommand);
    expect(assumed).toHaveLength(1);
    expect(assumed[0]?.args[0].input).toEqual({
      RoleArn: grant.slot.roleArn,
      RoleSessionName: roleSessionName,
      SourceIdentity: sourceIdentity,
      Tags: [
        { Key: 'gatehouse:grant-id', Value: created.grantId },
        { Key: 'gatehouse:cluster', Value: 'dev' },
        { Key: 'gatehouse:subject', Value: 'ci:deploy-bot' },
      ],
      DurationSeconds: 900,
    });
    expect(roleSessionName).toMatch(/^ci-deploy-bot-/);
    expect(grant.sessionName).toBe(roleSessionName);

    const createdEntries = eks.commandCalls(CreateAccessEntryCommand);
    expect(createdEntries).toHaveLength(1);
    expect(createdEntries[0]?.args[0].input).toEqual({
      clusterName: 'acme-dev',
      principalArn: grant.slot.roleArn,
      username: `gatehouse:${roleSessionName}`,
      type: 'STANDARD',
      tags: { 'gatehouse:grant-id': created.grantId },
    });
    const associated = eks.commandCalls(AssociateAccessPolicyCommand);
    expect(associated).toHaveLength(1);
    expect(associated[0]?.args[0].input).toEqual({
      clusterName: 'acme-dev',
      principalArn: grant.slot.roleArn,
      policyArn: VIEW_POLICY_ARN,
      accessScope: { type: 'namespace', namespaces: ['app', 'app-jobs'] },
    });
    const started = sfn.commandCalls(StartExecutionCommand);
    expect(started).toHaveLength(1);
    expect(started[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
      name: created.id,
      input: JSON.stringify({ requestId: created.id, needsApproval: false }),
    });

    const check = verifyAsIamAuthenticator(created.credential.status.token, {
      clusterId: 'acme-dev',
      secretAccessKey: SESSION.SecretAccessKey,
      accessKeyId: SESSION.AccessKeyId,
      region: 'eu-west-1',
      now: new Date(),
    });
    expect(check, JSON.stringify(check)).toMatchObject({ ok: true, claims: { hasSessionToken: true } });

    // Before the grant, a left-over entry of the slot is deleted; revocation deletes the grant's own.
    const deletesBefore = eks.commandCalls(DeleteAccessEntryCommand).length;
    const revoked = await invoke(
      revokeGrant,
      proxyEvent('POST', `/v1/grants/${created.grantId}/revoke`, jwt, undefined, created.grantId),
    );

    expect(revoked.statusCode, revoked.body).toBe(200);
    const deletes = eks.commandCalls(DeleteAccessEntryCommand);
    expect(deletes).toHaveLength(deletesBefore + 1);
    expect(deletes.at(-1)?.args[0].input).toEqual({ clusterName: 'acme-dev', principalArn: grant.slot.roleArn });
  });

  it('answers 501 for via relay when the configuration names no relay, and grants nothing', async () => {
    const jwt = await issuer.sign({ sub: 'relay-bot', groups: ['ci'] }, { audience: 'gatehouse' });
    const calls = () => [sts, eks, sfn].map((mock) => mock.calls().length);
    const before = calls();

    const result = await invoke(
      createAccessRequest,
      proxyEvent('POST', '/v1/access-requests', jwt, {
        cluster: 'dev',
        namespaces: ['app'],
        access: 'view',
        durationSeconds: 900,
        purpose: 'agent',
        via: 'relay',
      }),
    );

    expect(result.statusCode, result.body).toBe(501);
    expect(JSON.parse(result.body)).toMatchObject({ detail: expect.stringMatching(/no relay is configured/) });
    expect(calls()).toEqual(before);
  });
});

describe('relayConfigured', () => {
  it('offers via relay only where the configuration names the relay URL or deploys the relay', () => {
    const config = runtime.loaded.config;
    expect(relayConfigured(config)).toBe(false);
    expect(relayConfigured({ ...config, relay: { ...config.relay, url: 'https://relay.internal.example' } })).toBe(
      true,
    );
    const deployment = {
      cluster: 'dev',
      vpcId: 'vpc-0abc1234',
      privateSubnetIds: ['subnet-0abc1234', 'subnet-0def5678'],
      certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000',
      clientCidrs: ['10.0.0.0/16'],
      minTasks: 2,
      maxTasks: 6,
      vCpus: 1 as const,
    };
    expect(relayConfigured({ ...config, relay: { ...config.relay, deployment } })).toBe(true);
  });
});
