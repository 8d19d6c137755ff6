import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { stringify } from 'yaml';
import { buildApp, PROJECT_ROOT } from '../../infra/app.ts';
import type { ControlPlaneStack } from '../../infra/control-plane-stack.ts';
import type { StatefulStack } from '../../infra/stateful-stack.ts';

const FIXTURES = resolve(PROJECT_ROOT, 'test/infra/fixtures');

/** A small valid configuration with two clusters (one with its own EKS name), written to a temporary directory. */
export const TEST_CONFIG = {
  version: 1,
  issuers: [{ name: 'github-actions', issuer: 'https://token.actions.githubusercontent.com', audience: 'gatehouse' }],
  clusters: [
    {
      name: 'staging',
      eksClusterName: 'acme-staging',
      region: 'us-east-1',
      account: '111122223333',
      slotPoolSize: 2,
      accessLevels: { view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy' },
    },
    {
      name: 'prod',
      region: 'eu-west-1',
      account: '444455556666',
      slotPoolSize: 3,
      accessLevels: {
        view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        edit: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
      },
    },
  ],
  policies: { files: ['policies/access.cedar'] },
  notifications: { email: { from: 'approvals@acme.example', configurationSet: 'gatehouse-approvals' } },
};

export function writeTestConfig(config: unknown = TEST_CONFIG): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-infra-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies/access.cedar'), 'permit (principal, action, resource);\n');
  const file = join(dir, 'gatehouse.config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

export interface TestApp {
  app: App;
  stateful: StatefulStack;
  controlPlane: ControlPlaneStack;
}

/** The Gatehouse app as `cdk synth` builds it, on the test config (or `config`), with fixture handlers and a fixture ASL. */
export function buildTestApp(config: unknown = TEST_CONFIG, context: Record<string, unknown> = {}): TestApp {
  const app = new App({ context: { 'gatehouse:config': writeTestConfig(config), ...context } });
  buildApp(app, {
    controlPlane: {
      functionsDir: join(FIXTURES, 'functions'),
      lifecycleDefinitionFile: join(FIXTURES, 'access-lifecycle.asl.json'),
    },
  });
  return {
    app,
    stateful: app.node.findChild('GatehouseStateful') as StatefulStack,
    controlPlane: app.node.findChild('GatehouseControlPlane') as ControlPlaneStack,
  };
}
