/** A real DynamoDB-compatible server for adapter tests: dynalite, in memory, on a free port, with Gatehouse's tables. */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../shared/adapters/aws/tables.ts';
import type { TableNames } from '../../shared/adapters/aws/tables.ts';

interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}

// dynalite is CommonJS without type declarations.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

export interface Dynalite {
  endpoint: string;
  client: DynamoDBClient;
  names: TableNames;
  /** Stops the server and destroys the client; safe to call twice. */
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' },
    // A refused connection should fail a test fast, not after the SDK's retries.
    maxAttempts: 2,
  });
  const names: TableNames = {
    events: 'gatehouse-events',
    state: 'gatehouse-state',
    idempotency: 'gatehouse-idempotency',
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Node's close waits for keep-alive sockets; the SDK keeps them open.
      server.closeAllConnections();
    }).finally(() => client.destroy()));
  try {
    await createTables(client, names);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, client, names, stop };
}
