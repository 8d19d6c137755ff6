/** A real DynamoDB-compatible server for adapter tests: the local runtime's embedded dynalite, in memory, on a free port. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TableNames } from '../../shared/adapters/aws/tables.ts';
import { startEmbeddedDynamo } from '../../local/embedded-stores.ts';

export interface Dynalite {
  endpoint: string;
  client: DynamoDBClient;
  names: TableNames;
  /** Stops the server and destroys the client; safe to call twice. */
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const dynamo = await startEmbeddedDynamo();
  return { endpoint: dynamo.endpoint, client: dynamo.client, names: dynamo.tables, stop: dynamo.stop };
}
