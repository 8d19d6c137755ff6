import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EksAccessEntries } from '#shared/adapters/aws/eks-access-entries.ts';
import { SfnLifecycleScheduler } from '#shared/adapters/aws/sfn-lifecycle-scheduler.ts';
import { StsTokenMinter } from '#shared/adapters/aws/sts-token-minter.ts';
import { loadConfigFile } from '#shared/adapters/fs/config-file.ts';
import { remoteKeyResolver } from '#shared/adapters/http/remote-jwks.ts';
import { systemClock } from '#shared/adapters/system.ts';
import { eksClusterLookup } from '#shared/config/clusters.ts';
import type { LifecycleScheduler } from '#shared/ports.ts';
import { tracer } from './observability.ts';
import { buildRuntime, type Runtime } from './runtime.ts';

/** Reads a required environment variable once at start; a missing one stops the function before it serves. */
function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Only create-access-request starts executions; other functions never reach this scheduler. */
const unscheduled: LifecycleScheduler = {
  schedule: () => Promise.reject(new Error('LIFECYCLE_STATE_MACHINE_ARN is not set for this function')),
};

export function buildAwsRuntime(): Runtime {
  const loaded = loadConfigFile(requiredEnv('GATEHOUSE_CONFIG'));
  const clusters = eksClusterLookup(loaded.config);
  const stateMachineArn = process.env.LIFECYCLE_STATE_MACHINE_ARN;
  return buildRuntime(loaded, {
    dynamodb: tracer.captureAWSv3Client(new DynamoDBClient({})),
    tables: {
      events: requiredEnv('EVENTS_TABLE'),
      state: requiredEnv('STATE_TABLE'),
      idempotency: process.env.IDEMPOTENCY_TABLE ?? 'unused',
    },
    slotRoles: JSON.parse(requiredEnv('SLOT_ROLE_ARNS')) as Record<string, string[]>,
    minter: new StsTokenMinter({ clusters, clock: systemClock }),
    entries: new EksAccessEntries({ clusters }),
    scheduler: stateMachineArn ? new SfnLifecycleScheduler(stateMachineArn) : unscheduled,
    keys: remoteKeyResolver(),
  });
}
