/** dynalite and s3rver, embedded: the local runtime's DynamoDB and S3, on loopback, with data on disk when asked. */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables, type TableNames } from '#shared/adapters/aws/tables.ts';

const require = createRequire(import.meta.url);

// dynalite and s3rver are CommonJS without type declarations.
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
};

/** Credentials the embedded servers accept; they sign nothing real. */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export const LOCAL_TABLES: TableNames = {
  events: 'gatehouse-events',
  state: 'gatehouse-state',
  idempotency: 'gatehouse-idempotency',
};

export interface EmbeddedDynamo {
  endpoint: string;
  client: DynamoDBClient;
  tables: TableNames;
  stop(): Promise<void>;
}

/** Starts dynalite (in memory, or LevelDB under `directory`) and creates Gatehouse's tables if they are missing. */
export async function startEmbeddedDynamo(
  options: { directory?: string; port?: number } = {},
): Promise<EmbeddedDynamo> {
  if (options.directory) mkdirSync(options.directory, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.directory });
  await listen(server, options.port ?? 0);
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
    // A refused connection should fail fast, not after the SDK's retries.
    maxAttempts: 2,
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Node's close waits for keep-alive sockets; the SDK keeps them open.
      server.closeAllConnections();
    }).finally(() => client.destroy()));
  try {
    await createTables(client, LOCAL_TABLES);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, client, tables: LOCAL_TABLES, stop };
}

export interface EmbeddedS3 {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

export const LOCAL_AUDIT_BUCKET = 'gatehouse-audit';

/** Starts s3rver with the audit bucket, its objects under `directory`. */
export async function startEmbeddedS3(options: { directory: string; port?: number }): Promise<EmbeddedS3> {
  mkdirSync(options.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: LOCAL_AUDIT_BUCKET, configs: [] }],
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket: LOCAL_AUDIT_BUCKET,
    stop: () => server.close(),
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}
