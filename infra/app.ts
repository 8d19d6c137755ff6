import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks } from 'cdk-nag';
import { loadInfraConfig } from './config.ts';
import { ControlPlaneStack, type ControlPlaneStackProps } from './control-plane-stack.ts';
import { RelayStack } from './relay-stack.ts';
import { StatefulStack } from './stateful-stack.ts';

/** The repository root: infra/ lives directly under it. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface GatehouseAppOptions {
  /** Overrides of the control-plane stack's props (tests point `functionsDir` and the ASL at fixtures). */
  readonly controlPlane?: Partial<Pick<ControlPlaneStackProps, 'functionsDir' | 'lifecycleDefinitionFile'>>;
}

/**
 * Builds the Gatehouse CDK app: the only reader of context. `gatehouse:config` names the configuration file (relative to
 * the repository root); `gatehouse:account` and `gatehouse:region` pin the deployment environment, else the stacks are
 * environment-agnostic. With `relay.deployment` in the configuration, the relay stack is added too; it looks its VPC up,
 * so it needs both, and `gatehouse:relayEndpoints` = `false` leaves out its VPC endpoints (a VPC that has them). The HIPAA Security, AWS Solutions and Serverless cdk-nag packs validate every synthesis.
 */
export function buildApp(app: App = new App(), options: GatehouseAppOptions = {}): App {
  const configPath = String(app.node.tryGetContext('gatehouse:config') ?? 'gatehouse.config.yaml');
  const config = loadInfraConfig(resolve(PROJECT_ROOT, configPath));
  const account = app.node.tryGetContext('gatehouse:account') as string | undefined;
  const region = app.node.tryGetContext('gatehouse:region') as string | undefined;
  const env: Environment | undefined = account || region ? { account, region } : undefined;

  const stateful = new StatefulStack(app, 'GatehouseStateful', {
    description:
      'Gatehouse: audit events, their object-locked archive, state and keys (retained, termination-protected)',
    ...(env ? { env } : {}),
    retention: config.config.retention,
  });
  // What the stateless stacks take from the stateful one and the configuration alike.
  const shared = {
    ...(env ? { env } : {}),
    config,
    projectRoot: PROJECT_ROOT,
    key: stateful.key,
    eventsTable: stateful.eventsTable,
    stateTable: stateful.stateTable,
    auditBucket: stateful.auditBucket,
    relayCredentialKey: stateful.relayCredentialKey,
  };
  new ControlPlaneStack(app, 'GatehouseControlPlane', {
    description: 'Gatehouse: API, handlers, approval lifecycle, slot roles and alarms',
    ...shared,
    idempotencyTable: stateful.idempotencyTable,
    digestSigningKey: stateful.digestSigningKey,
    ...options.controlPlane,
  });
  if (config.config.relay.deployment) {
    new RelayStack(app, 'GatehouseRelay', {
      description: 'Gatehouse: the in-VPC relay on ECS Fargate behind an internal TLS Network Load Balancer',
      ...shared,
      accessLogBucket: stateful.auditAccessLogBucket,
      createEndpoints: String(app.node.tryGetContext('gatehouse:relayEndpoints') ?? 'true') !== 'false',
    });
  }

  Validations.of(app).addPlugins(new HIPAASecurityChecks(app), new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return app;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildApp().synth();
}
