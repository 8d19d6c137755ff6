/** `gatehouse local` (npm start) and `gatehouse local dev-token`. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DevIssuer } from '#shared/adapters/local/dev-issuer.ts';
import type { LocalRelayUpstream } from '../../local/relay.ts';
import { UsageError } from '../errors.ts';

const DEFAULT_DATA_DIR = '.gatehouse';
const DEFAULT_CONFIG = process.env.GATEHOUSE_CONFIG ?? 'gatehouse.config.yaml';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_534) throw new InvalidArgumentError('not a TCP port');
  return parsed;
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 86_400) throw new InvalidArgumentError('1 to 86400 seconds');
  return parsed;
}

interface LocalCommandOptions {
  port: number;
  dataDir: string;
  config: string;
  relay: boolean;
  relayKubeconfig?: string;
  relayContext?: string;
  relayUpstream?: string;
  relayTokenFile?: string;
  relayCa?: string;
  relayCluster: string;
  relayPort: number;
}

/** Where the local relay's upstream is, or why there is none (a sentence for the start-up summary). */
function relayUpstream(options: LocalCommandOptions): LocalRelayUpstream | string {
  if (!options.relay) return 'turned off with --no-relay';
  if (options.relayUpstream) {
    if (!options.relayTokenFile) throw new UsageError('--relay-upstream needs --relay-token-file');
    return {
      url: options.relayUpstream,
      token: readFileSync(options.relayTokenFile, 'utf8').trim(),
      ...(options.relayCa ? { ca: readFileSync(options.relayCa, 'utf8') } : {}),
    };
  }
  const kubeconfig =
    options.relayKubeconfig ?? process.env.KUBECONFIG?.split(delimiter)[0] ?? join(homedir(), '.kube', 'config');
  if (!existsSync(kubeconfig)) return `no kubeconfig at ${kubeconfig}; pass --relay-kubeconfig or --relay-upstream`;
  return { kubeconfig, ...(options.relayContext ? { context: options.relayContext } : {}) };
}

export function localCommand(): Command {
  const local = new Command('local')
    .description('run the control plane on this machine: local API, embedded stores, dev OIDC issuer, local signer')
    .option('-p, --port <port>', 'API port; the development issuer uses the next one', port, 8787)
    .option('-d, --data-dir <dir>', 'where data persists between runs', DEFAULT_DATA_DIR)
    .option('-c, --config <file>', 'Gatehouse configuration file', DEFAULT_CONFIG)
    .option(
      '--relay-kubeconfig <file>',
      'the relay fronts this kubeconfig’s cluster (default: KUBECONFIG, ~/.kube/config)',
    )
    .option('--relay-context <name>', 'the kubeconfig context (default: its current context)')
    .option('--relay-upstream <url>', 'the relay fronts this API server instead (with --relay-token-file)')
    .option('--relay-token-file <file>', 'bearer token for --relay-upstream')
    .option('--relay-ca <file>', 'PEM certificate authority of --relay-upstream')
    .option('--relay-cluster <name>', 'the Gatehouse cluster the relay stands for', 'local')
    .option('--relay-port <port>', 'relay port', port, 8443)
    .option('--no-relay', 'do not start the relay')
    .enablePositionalOptions()
    .exitOverride()
    .action(async (options: LocalCommandOptions) => {
      // Quiet Powertools before the handlers load: metrics have no CloudWatch here, traces no X-Ray.
      process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
      process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
      process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
      const { startLocal } = await import('../../local/start.ts');
      const started = Date.now();
      const relay = relayUpstream(options);
      const local = await startLocal({
        dataDir: options.dataDir,
        configFile: options.config,
        port: options.port,
        ...(typeof relay === 'object'
          ? { relay: { upstream: relay, cluster: options.relayCluster, port: options.relayPort } }
          : {}),
      });
      const { config, versions } = local.runtime.loaded;
      const out = (line = '') => process.stdout.write(`${line}\n`);
      out(`Gatehouse local control plane is ready in ${Date.now() - started} ms`);
      out();
      out(`  API              ${local.apiUrl}   (GET /healthz, POST /v1/access-requests, ...)`);
      out(`  OIDC dev issuer  ${local.issuerUrl}   (audience "gatehouse")`);
      out(`  Approvals inbox  ${local.apiUrl}/local/approvals   (approve or deny as a configured approver)`);
      out(`  DynamoDB         ${local.dynamo.endpoint}   (dynalite, data in ${local.dataDir}/dynamodb)`);
      if (local.s3)
        out(
          `  S3               ${local.s3.endpoint}   (s3rver, bucket ${local.s3.bucket}, data in ${local.dataDir}/s3)`,
        );
      if (local.s3)
        out(
          `  Audit archive    every event to s3://${local.s3.bucket}/events/, signed hourly digests (key in ${local.dataDir}); check: npx gatehouse audit verify --local`,
        );
      out(`  Step Functions   state-machines/access-lifecycle.asl.json on aws-local-stepfunctions`);
      out(`  Token signer     local (tokens only a Gatehouse local relay accepts)`);
      out(
        `  Config           ${options.config} (version ${versions.config}), policies ${local.runtime.policy.version}`,
      );
      out(`  Clusters         ${config.clusters.map((cluster) => cluster.name).join(', ')}`);
      if (local.rescheduled > 0)
        out(`  Resumed          ${local.rescheduled} active grant lifecycle(s) from the last run`);
      if (local.relay) {
        out(
          `  Relay            ${local.relay.url}   (cluster ${local.relay.cluster} → ${local.relay.upstreamUrl}, certificate ${local.relay.caFile})`,
        );
      } else {
        out(`  Relay            off (${typeof relay === 'string' ? relay : 'no upstream'})`);
      }
      for (const notice of local.notices) out(`  Note             ${notice}`);
      out();
      out('Try it:');
      out(`  TOKEN=$(npx gatehouse local dev-token --sub ci:demo --groups ci)`);
      out(`  curl -s -X POST ${local.apiUrl}/v1/access-requests -H "Authorization: Bearer $TOKEN" \\`);
      out(`    -H 'Content-Type: application/json' \\`);
      out(
        `    -d '{"cluster":"local","namespaces":["demo"],"access":"view","durationSeconds":900,"purpose":"try gatehouse"}'`,
      );
      if (local.relay) {
        out();
        out('Through the relay (kubectl sees masked responses; every request is recorded):');
        out(
          `  GATEHOUSE_OIDC_TOKEN=$(npx gatehouse local dev-token --sub ci:agent --groups ci) npx gatehouse kubeconfig --via relay \\`,
        );
        out(`    --api ${local.apiUrl} --server ${local.relay.url} --certificate-authority ${local.relay.caFile} \\`);
        out(
          `    --cluster ${local.relay.cluster} --namespace demo --access view --duration 900 --purpose "agent run" --kubeconfig relay.kubeconfig`,
        );
        out('  KUBECONFIG=relay.kubeconfig kubectl get pods');
      }
      out();
      out('Press Ctrl-C to stop.');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stdout.write('\nStopping...\n');
      await local.stop();
      process.stdout.write('Stopped. Data kept in ' + local.dataDir + '\n');
    });

  local
    .command('dev-token')
    .description('print a JWT signed by the local development issuer (start `gatehouse local` first)')
    .requiredOption('--sub <subject>', 'the token subject, e.g. ci:demo')
    .option('--groups <groups>', 'comma-separated groups', '')
    .option('--email <email>', 'email claim')
    .option('--expires-in <seconds>', 'lifetime in seconds', seconds, 3600)
    .option('-d, --data-dir <dir>', 'the local runtime data directory', DEFAULT_DATA_DIR)
    .exitOverride()
    .action(async (options: { sub: string; groups: string; email?: string; expiresIn: number; dataDir: string }) => {
      const { readLocalState } = await import('../../local/start.ts');
      const state = readLocalState(options.dataDir);
      if (!state) throw new UsageError(`no local runtime found in ${options.dataDir}: run \`npm start\` first`);
      const issuer = await DevIssuer.create({ keyDirectory: options.dataDir });
      const groups = options.groups
        .split(',')
        .map((group) => group.trim())
        .filter(Boolean);
      const token = await issuer.sign(
        { sub: options.sub, groups, ...(options.email ? { email: options.email } : {}) },
        { audience: state.audience, issuer: state.issuerUrl, expiresInSeconds: options.expiresIn },
      );
      process.stdout.write(`${token}\n`);
    });
  return local;
}
