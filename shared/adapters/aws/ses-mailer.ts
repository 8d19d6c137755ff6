/**
 * Mailer on Amazon SES (API v2): one SendEmail per message, simple content (subject, text and HTML bodies, UTF-8),
 * from the configured verified identity, optionally through a configuration set.
 */
import { SESv2Client, SESv2ServiceException, SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { MailerError } from '../../approvals/approval-email.ts';
import type { Mailer, OutgoingEmail } from '../../approvals/approval-email.ts';

export { MailerError };

export interface SesMailerProps {
  /** The sender: an address or domain identity verified in SES, e.g. `Gatehouse <approvals@example.com>`. */
  fromEmailAddress: string;
  /** An SES configuration set for event publishing and suppression. @default none */
  configurationSetName?: string;
  /** @default a `SESv2Client` for the function's region */
  client?: SESv2Client;
}

const CHARSET = 'UTF-8';

// One address per message: no list separators, spaces or control characters that could add recipients.
// eslint-disable-next-line no-control-regex
const ONE_ADDRESS = /^[^\s,;<>\u0000-\u001f\u007f]+@[^\s,;<>\u0000-\u001f\u007f]+$/;

export class SesMailer implements Mailer {
  private readonly client: SESv2Client;

  constructor(private readonly props: SesMailerProps) {
    if (props.fromEmailAddress.trim() === '')
      throw new MailerError('no sender address is configured', undefined, false);
    this.client = props.client ?? new SESv2Client({});
  }

  /** A mailer for `notifications.email` of the configuration. */
  static fromConfig(email: { from: string; configurationSet?: string | undefined }, client?: SESv2Client): SesMailer {
    return new SesMailer({
      fromEmailAddress: email.from,
      ...(email.configurationSet ? { configurationSetName: email.configurationSet } : {}),
      ...(client ? { client } : {}),
    });
  }

  async send(message: OutgoingEmail): Promise<{ messageId: string }> {
    if (!ONE_ADDRESS.test(message.to)) {
      throw new MailerError('the recipient is not one email address', undefined, false);
    }
    const input: SendEmailCommandInput = {
      FromEmailAddress: this.props.fromEmailAddress,
      Destination: { ToAddresses: [message.to] },
      Content: {
        Simple: {
          Subject: { Data: message.subject, Charset: CHARSET },
          Body: {
            Text: { Data: message.text, Charset: CHARSET },
            Html: { Data: message.html, Charset: CHARSET },
          },
        },
      },
      // Click tracking would rewrite the signed link through SES's tracking domain and publish it in click events;
      // open tracking adds a remote image. Neither belongs in a message that carries a credential.
      ConfigurationOverrides: { Tracking: { ClickTrackingEnabled: 'DISABLED', OpenTrackingEnabled: 'DISABLED' } },
      ...(this.props.configurationSetName ? { ConfigurationSetName: this.props.configurationSetName } : {}),
    };

    let messageId: string | undefined;
    try {
      ({ MessageId: messageId } = await this.client.send(new SendEmailCommand(input)));
    } catch (error) {
      throw mailerErrorFrom(error);
    }
    if (!messageId) throw new MailerError('SES SendEmail returned no message id', undefined, false);
    return { messageId };
  }
}

/**
 * The AWS error code and nothing else: SES messages can quote the recipient or sender address, and the message body
 * holds a signed link, so neither the SDK's message nor the error itself (as `cause`) is kept.
 */
function mailerErrorFrom(error: unknown): MailerError {
  if (error instanceof SESv2ServiceException || (error instanceof Error && '$metadata' in error)) {
    const exception = error as SESv2ServiceException;
    const code = exception.name;
    const retryable =
      exception.$retryable !== undefined ||
      exception.$fault === 'server' ||
      code === 'TooManyRequestsException' ||
      /Throttl/.test(code);
    return new MailerError(`SES SendEmail failed: ${code}`, code, retryable);
  }
  // Network and SDK client errors: keep only the class name.
  const kind = error instanceof Error ? error.name : 'unknown error';
  return new MailerError(`SES SendEmail failed: ${kind}`, undefined, true);
}
