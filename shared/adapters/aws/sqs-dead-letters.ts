import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetters } from '../../evidence/ports.ts';
import { StoreError } from './tables.ts';

/** Long enough for one message's window to be repaired before SQS hands the message out again. */
export const REDRIVE_VISIBILITY_TIMEOUT_SECONDS = 300;

/** The archiver's dead-letter queue in SQS: the stream event source mapping's on-failure destination. */
export class SqsDeadLetters implements DeadLetters {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async receive(): Promise<DeadLetter[]> {
    let result;
    try {
      result = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: 10,
          // Long polling asks every SQS server; a short poll samples some and may answer empty while messages wait.
          WaitTimeSeconds: 2,
          VisibilityTimeout: REDRIVE_VISIBILITY_TIMEOUT_SECONDS,
        }),
      );
    } catch (error) {
      throw new StoreError('the dead-letter queue could not be read', { cause: error });
    }
    return (result.Messages ?? []).flatMap((message) =>
      message.MessageId && message.ReceiptHandle
        ? [{ id: message.MessageId, receipt: message.ReceiptHandle, body: message.Body ?? '' }]
        : [],
    );
  }

  async delete(letter: DeadLetter): Promise<void> {
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: letter.receipt }));
    } catch (error) {
      throw new StoreError(`dead letter ${letter.id} could not be deleted`, { cause: error });
    }
  }
}
