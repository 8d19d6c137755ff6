/**
 * The relay as its container image runs it: relay/Dockerfile's build stage replayed step by step (the files it copies,
 * its bundle script and RUN lines, the configuration bundle argument), then its runtime stage — the bundle alone in a
 * directory with no node_modules anywhere above it — started with the image's ENTRYPOINT as a process of its own.
 * No Docker engine runs here, so `npm ci --omit=dev` is the one step not replayed: instead every package the bundle
 * holds must be a production dependency (what that step installs). AWS is stood in for over HTTP through the SDK's
 * AWS_ENDPOINT_URL_* variables: dynalite for DynamoDB, and a small server answering EKS DescribeCluster and KMS
 * GetPublicKey (calls that need an account) with the exact requests asserted. The relay's own EKS token is checked by
 * the Kubernetes API test server as aws-iam-authenticator would. It runs two workers (RELAY_WORKERS), as a 2-vCPU task does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-stores.ts';
import { documentClient } from '../../shared/adapters/aws/tables.ts';
import type { K8sApiServer } from '../support/k8s-api-server.ts';
import { eventually } from '../support/local.ts';
import {
  activeRelayGrant,
  describedCluster,
  EKS_NAME,
  KEY_ARN,
  relayEnvironment,
  PUBLIC_KEY_DER,
  SSN,
  startRuntimeApiServer,
  writeRuntimeConfig,
} from '../support/relay-runtime.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** The Dockerfile's instructions, continuation lines joined and heredocs attached to their instruction. */
interface Instruction {
  keyword: string;
  args: string;
  heredoc?: string;
}

function readDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    let line = lines[index]!;
    if (line.trim() === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\')) line = `${line.slice(0, -1)} ${lines[(index += 1)]!.trim()}`;
    const [, keyword, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    const marker = /<<'(\w+)'/.exec(args!)?.[1];
    let heredoc: string | undefined;
    if (marker) {
      const end = lines.indexOf(marker, index + 1);
      heredoc = `${lines.slice(index + 1, end).join('\n')}\n`;
      index = end;
    }
    instructions.push({ keyword: keyword!.toUpperCase(), args: args!, ...(heredoc === undefined ? {} : { heredoc }) });
  }
  return instructions;
}

/** The lockfile's key of the package a bundled source file comes from (`node_modules/a/node_modules/@b/c`). */
function lockfileKeyOf(source: string): string | undefined {
  return /(?:^|\/)(node_modules\/(?:.*\/node_modules\/)?(?:@[^/]+\/)?[^/]+)\//.exec(source)?.[1];
}

/** Stands in for EKS DescribeCluster (REST JSON) and KMS GetPublicKey (JSON 1.1), recording what it was asked. */
async function startAwsStandIn(answers: {
  cluster: Record<string, unknown>;
  publicKey: Buffer;
}): Promise<{ server: Server; url: string; calls: Array<{ call: string; input: unknown }> }> {
  const calls: Array<{ call: string; input: unknown }> = [];
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const reply = (status: number, json: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type }).end(JSON.stringify(json));
      };
      const describe = /^\/clusters\/([^/?]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && describe) {
        calls.push({ call: 'eks:DescribeCluster', input: { name: decodeURIComponent(describe[1]!) } });
        return reply(200, { cluster: answers.cluster });
      }
      if (req.method === 'POST' && req.headers['x-amz-target'] === 'TrentService.GetPublicKey') {
        const input = JSON.parse(body) as { KeyId: string };
        calls.push({ call: 'kms:GetPublicKey', input });
        return reply(
          200,
          {
            KeyId: KEY_ARN,
            PublicKey: answers.publicKey.toString('base64'),
            KeySpec: 'ECC_NIST_P256',
            KeyUsage: 'SIGN_VERIFY',
            SigningAlgorithms: ['ECDSA_SHA_256'],
          },
          'application/x-amz-json-1.1',
        );
      }
      reply(400, { __type: 'UnknownOperationException', message: `${req.method} ${req.url}` });
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

let work: string;
let app: string;
let bundledPackages: string[];
let dynamo: EmbeddedDynamo;
let api: K8sApiServer;
let aws: Awaited<ReturnType<typeof startAwsStandIn>>;
let relay: ChildProcess;
let relayExit: Promise<number | null>;
let stdout = '';
/** The process's stderr: Node's own warnings (this machine's Node 20 draws the SDK's; the image runs 22). */
let stderr = '';
let port: number;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gatehouse-relay-image-'));
  const build = join(work, 'build');
  app = join(work, 'app');
  mkdirSync(build);

  // The configuration the image is built with (its GATEHOUSE_CONFIG_BUNDLE argument).
  const configDir = join(work, 'config');
  mkdirSync(configDir);
  const guardrails =
    '@id("no-secret-reads")\nforbid (principal, action == Gatehouse::Action::"KubernetesRequest", resource)\n' +
    'when { resource.resource == "secrets" };\n';
  const configBundle = Buffer.from(writeRuntimeConfig(configDir, guardrails)).toString('base64');

  // The build stage, as relay/Dockerfile writes it.
  const instructions = readDockerfile(readFileSync(join(ROOT, 'relay/Dockerfile'), 'utf8'));
  const runtimeStart = instructions.findIndex((step, index) => index > 0 && step.keyword === 'FROM');
  const buildEnv: Record<string, string> = { PATH: process.env.PATH!, HOME: work };
  for (const step of instructions.slice(1, runtimeStart)) {
    if (step.keyword === 'WORKDIR') continue;
    if (step.keyword === 'ARG') {
      buildEnv[step.args] = step.args === 'GATEHOUSE_CONFIG_BUNDLE' ? configBundle : '';
    } else if (step.keyword === 'COPY' && step.heredoc !== undefined) {
      writeFileSync(
        join(
          build,
          step.args
            .split(/\s+/)
            .at(-1)!
            .replace(/^\/build\//, ''),
        ),
        step.heredoc,
      );
    } else if (step.keyword === 'COPY') {
      const paths = step.args.split(/\s+/);
      for (const source of paths.slice(0, -1)) {
        // .dockerignore leaves tests out of the context.
        cpSync(join(ROOT, source), join(build, source), {
          recursive: true,
          filter: (from) => !from.endsWith('.test.ts'),
        });
      }
    } else if (step.keyword === 'RUN' && step.args.startsWith('npm ci')) {
      symlinkSync(join(ROOT, 'node_modules'), join(build, 'node_modules'), 'dir');
    } else if (step.keyword === 'RUN') {
      await run('bash', ['-euo', 'pipefail', '-c', step.args], { cwd: build, env: buildEnv });
    } else {
      throw new Error(`the image test does not know the build stage's ${step.keyword}`);
    }
  }
  const sourceMap = JSON.parse(readFileSync(join(build, 'dist/main.mjs.map'), 'utf8')) as { sources: string[] };
  bundledPackages = [...new Set(sourceMap.sources.map(lockfileKeyOf).filter((key) => key !== undefined))].sort();

  // The runtime stage: the build's dist/ as /app, and the ENTRYPOINT with /app/ pointing there.
  const runtime = instructions.slice(runtimeStart);
  const copied = runtime.find((step) => step.keyword === 'COPY' && step.args.includes('--from=build'))!;
  expect(copied.args).toMatch(/\/build\/dist\/ \/app\/$/);
  cpSync(join(build, 'dist'), app, { recursive: true });
  const entrypoint = (JSON.parse(runtime.find((step) => step.keyword === 'ENTRYPOINT')!.args) as string[]).map((part) =>
    part.replace(/^\/app\//, `${app}/`),
  );
  const imageEnv = Object.fromEntries(
    runtime.filter((step) => step.keyword === 'ENV').map((step) => step.args.split('=') as [string, string]),
  );

  // What the image talks to.
  dynamo = await startEmbeddedDynamo();
  const upstream = await startRuntimeApiServer();
  api = upstream.api;
  aws = await startAwsStandIn({ cluster: describedCluster(api, upstream.ca), publicKey: PUBLIC_KEY_DER });

  relay = spawn(process.execPath, entrypoint.slice(1), {
    cwd: app,
    env: {
      ...imageEnv,
      PATH: process.env.PATH,
      ...relayEnvironment(dynamo, join(app, 'gatehouse.config.json')),
      RELAY_DRAIN_MS: '2000',
      // Two relay processes behind one port, as a 2-vCPU task runs them (relay/workers.ts).
      RELAY_WORKERS: '2',
      AWS_ENDPOINT_URL_EKS: aws.url,
      AWS_ENDPOINT_URL_KMS: aws.url,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  relayExit = new Promise((resolveExit) => relay.once('exit', (code) => resolveExit(code)));
  relay.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`the relay image did not start:\n${stdout}${stderr}`)), 30_000);
    relay.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const listening = /"message":"relay listening".*?"port":(\d+)/.exec(stdout);
      if (listening) {
        clearTimeout(timer);
        resolvePort(Number(listening[1]));
      }
    });
    void relayExit.then((code) => reject(new Error(`the relay image exited with ${code}:\n${stdout}${stderr}`)));
  });
}, 180_000);

afterAll(async () => {
  if (relay?.exitCode === null) relay.kill('SIGKILL');
  await api?.close();
  await dynamo?.stop();
  await new Promise((resolveClose) => (aws ? aws.server.close(resolveClose) : resolveClose(undefined)));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the relay image (relay/Dockerfile)', () => {
  it('bundles production packages only: `npm ci --omit=dev` installs everything the bundle holds', () => {
    const lockfile = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };

    expect(bundledPackages).toContain('node_modules/@cedar-policy/cedar-wasm');
    expect(bundledPackages.filter((key) => !lockfile.packages[key] || lockfile.packages[key].dev)).toEqual([]);
  });

  it('starts two workers from its bundle and cedar-wasm beside it, each asking EKS and KMS exactly what it needs', async () => {
    const listening = () => [...stdout.matchAll(/"message":"relay listening"/g)].length;
    await eventually(async () => (listening() === 2 ? true : undefined), 30_000);

    expect(readFileSync(join(app, 'cedar_wasm_bg.wasm')).subarray(0, 4)).toEqual(Buffer.from('\0asm'));
    const asked = [
      { call: 'eks:DescribeCluster', input: { name: EKS_NAME } },
      { call: 'kms:GetPublicKey', input: { KeyId: KEY_ARN } },
    ];
    expect(aws.calls).toHaveLength(4);
    expect(aws.calls.filter((call) => call.call === 'eks:DescribeCluster')).toEqual([asked[0], asked[0]]);
    expect(aws.calls.filter((call) => call.call === 'kms:GetPublicKey')).toEqual([asked[1], asked[1]]);
  });

  it('serves a masked answer to a KMS-signed credential, records it, and on SIGTERM drains and exits 0', async () => {
    const { grant, token } = await activeRelayGrant(dynamo, 'image');
    // The image makes its own certificate: the test trusts what it presents, as the NLB's TLS target group does.
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    const get = (path: string) =>
      request(`https://127.0.0.1:${port}${path}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        dispatcher: agent,
      });

    const pod = await get('/api/v1/namespaces/claims/pods/intake');
    const podBody = (await pod.body.json()) as { metadata: { annotations: Record<string, string> } };
    const secret = await get('/api/v1/namespaces/claims/secrets/db');
    const secretBody = (await secret.body.json()) as { reason: string; message: string };
    await agent.close();

    expect(pod.statusCode).toBe(200);
    expect(podBody.metadata.annotations.note).toBe('caller ssn [MASKED:SSN]');
    expect(secret.statusCode).toBe(403);
    expect(secretBody.message).toMatch(/no-secret-reads/);

    relay.kill('SIGTERM');
    expect(await relayExit).toBe(0);
    const events = (
      await documentClient(dynamo.client).send(new ScanCommand({ TableName: dynamo.tables.events }))
    ).Items!.filter((item) => item.grantId === grant.id);
    expect(events.map((event) => event.type).sort()).toEqual(['relay.denied', 'relay.request']);
    // The process's logs are JSON lines holding neither the credential nor the value it masked.
    const lines = stdout.trim().split('\n');
    expect(lines.filter((line) => !line.startsWith('{'))).toEqual([]);
    for (const output of [stdout, stderr]) {
      expect(output).not.toContain(token.split('.')[2]!);
      expect(output).not.toContain(SSN);
    }
  });
});
