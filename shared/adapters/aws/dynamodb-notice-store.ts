import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NoticeStore, SlackPost } from '../../approvals/approval-notifier.ts';
import { documentClient, StoreError } from './tables.ts';

/** The Slack messages of an approval, beside it in the state table (`pk=APPROVAL#<id>`, `sk=SLACK`). */
export class DynamoDbNoticeStore implements NoticeStore {
  private readonly doc;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async addSlackPosts(requestId: string, posts: SlackPost[]): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `APPROVAL#${requestId}`, sk: 'SLACK' },
          UpdateExpression: 'SET posts = list_append(if_not_exists(posts, :empty), :posts)',
          ExpressionAttributeValues: { ':empty': [], ':posts': posts },
        }),
      );
    } catch {
      throw new StoreError('the Slack messages of an approval could not be recorded');
    }
  }

  async slackPosts(requestId: string): Promise<SlackPost[]> {
    try {
      const result = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { pk: `APPROVAL#${requestId}`, sk: 'SLACK' } }),
      );
      return (result.Item?.posts as SlackPost[] | undefined) ?? [];
    } catch {
      throw new StoreError('the Slack messages of an approval could not be read');
    }
  }
}
