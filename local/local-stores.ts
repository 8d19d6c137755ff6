/**
 * The local runtime's stores, for CLI commands that work on its data (`audit redrive --local`): those of the running
 * `gatehouse local` when its state file names them and they answer, or else dynalite and s3rver started here on the
 * data directory (dynalite's files are locked while the runtime runs, so both cannot open them).
 */
import { join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import {
  LOCAL_AUDIT_BUCKET,
  LOCAL_AWS_CREDENTIALS,
  LOCAL_TABLES,
  startEmbeddedDynamo,
  startEmbeddedS3,
} from './embedded-stores.ts';
import { readLocalState } from './start.ts';

export interface LocalStores {
  dynamodb: DynamoDBClient;
  eventsTable: string;
  s3: S3Client;
  bucket: string;
  /** Where they came from: the running runtime, or started for this command. */
  source: 'running' | 'started';
  close(): Promise<void>;
}

export async function openLocalStores(dataDir: string): Promise<LocalStores> {
  const directory = resolve(dataDir);
  const running = readLocalState(directory)?.stores;
  if (running?.s3) {
    const dynamodb = localDynamoClient(running.dynamodb);
    if (await answers(dynamodb)) {
      const s3 = localS3Client(running.s3);
      return {
        dynamodb,
        eventsTable: LOCAL_TABLES.events,
        s3,
        bucket: LOCAL_AUDIT_BUCKET,
        source: 'running',
        close: async () => {
          dynamodb.destroy();
          s3.destroy();
        },
      };
    }
    dynamodb.destroy();
  }
  const dynamo = await startEmbeddedDynamo({ directory: join(directory, 'dynamodb') });
  try {
    const embeddedS3 = await startEmbeddedS3({ directory: join(directory, 's3') });
    const s3 = localS3Client(embeddedS3.endpoint);
    return {
      dynamodb: dynamo.client,
      eventsTable: dynamo.tables.events,
      s3,
      bucket: embeddedS3.bucket,
      source: 'started',
      close: async () => {
        s3.destroy();
        await embeddedS3.stop();
        await dynamo.stop();
      },
    };
  } catch (error) {
    await dynamo.stop();
    throw error;
  }
}

function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS, maxAttempts: 1 });
}

function localS3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS, forcePathStyle: true });
}

/** True when a DynamoDB endpoint answers within a second (a state file outlives its runtime). */
async function answers(client: DynamoDBClient): Promise<boolean> {
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}
