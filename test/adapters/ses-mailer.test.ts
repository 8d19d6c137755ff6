import { MessageRejected, SESv2Client, SendEmailCommand, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MailerError, SesMailer } from '../../shared/adapters/aws/ses-mailer.ts';
import { approvalEmail } from '../../shared/approvals/approval-email.ts';
import { createApprovalLink, parseApprovalLinkUrl, verifyApprovalLink } from '../../shared/approvals/email-link.ts';
import type { AccessRequest } from '../../shared/model.ts';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const EXPIRES_AT = new Date('2025-03-01T13:00:00.000Z');
const NEW_KEY = Buffer.alloc(32, 0xa1);
const OLD_KEY = Buffer.alloc(32, 0xb2);
const LINK_ID = 'apl_01JN8ZQ6T5X7C2M4R9B0D3F6H8';
const alice = { id: 'alice', name: 'Alice Example', email: 'alice@example.com' };

const request: AccessRequest = {
  id: 'req_01JN8ZQ0000000000000000000',
  principal: {
    id: 'github:repo:acme/api:ref:refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
    issuerName: 'github',
    subject: 'repo:acme/api:ref:refs/heads/main',
    groups: ['ci'],
    ci: { provider: 'github-actions', repository: 'acme/api', ref: 'refs/heads/main', actor: 'octocat' },
  },
  cluster: 'prod',
  namespaces: ['payments'],
  access: 'edit',
  durationSeconds: 900,
  purpose: 'Roll back the payments deploy',
  via: 'direct',
  status: 'pending',
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
};

const ses = mockClient(SESv2Client);
afterEach(() => ses.reset());

function mailer(configurationSetName?: string): SesMailer {
  return new SesMailer({
    fromEmailAddress: 'Gatehouse <approvals@example.com>',
    ...(configurationSetName ? { configurationSetName } : {}),
    client: new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } }),
  });
}

function aliceMessage() {
  const link = createApprovalLink({
    key: NEW_KEY,
    baseUrl: 'https://gatehouse.example.com',
    linkId: LINK_ID,
    requestId: request.id,
    approverId: alice.id,
    expiresAt: EXPIRES_AT,
  });
  return { link, email: approvalEmail({ request, approver: alice, url: link.url, expiresAt: EXPIRES_AT }) };
}

function sentInput(index = 0) {
  const call = ses.commandCalls(SendEmailCommand)[index];
  if (!call) throw new Error(`no SendEmail call ${index}`);
  return call.args[0].input;
}

describe('SesMailer', () => {
  it('sends one SendEmail: sender, configuration set, one recipient, UTF-8 subject, text and HTML, no tracking', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: '0100018e-msg' });
    const { email } = aliceMessage();

    const result = await mailer('gatehouse-approvals').send({ to: alice.email, ...email });

    expect(result).toEqual({ messageId: '0100018e-msg' });
    expect(ses.commandCalls(SendEmailCommand)).toHaveLength(1);
    expect(sentInput()).toEqual({
      FromEmailAddress: 'Gatehouse <approvals@example.com>',
      ConfigurationSetName: 'gatehouse-approvals',
      Destination: { ToAddresses: ['alice@example.com'] },
      Content: {
        Simple: {
          Subject: { Data: '[Gatehouse] Approve edit access to prod for octocat (acme/api)?', Charset: 'UTF-8' },
          Body: {
            Text: { Data: email.text, Charset: 'UTF-8' },
            Html: { Data: email.html, Charset: 'UTF-8' },
          },
        },
      },
      ConfigurationOverrides: { Tracking: { ClickTrackingEnabled: 'DISABLED', OpenTrackingEnabled: 'DISABLED' } },
    });
  });

  it('leaves ConfigurationSetName out when none is configured', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
    const { email } = aliceMessage();

    await mailer().send({ to: alice.email, ...email });

    expect(sentInput()).not.toHaveProperty('ConfigurationSetName');
    expect(sentInput().FromEmailAddress).toBe('Gatehouse <approvals@example.com>');
  });

  it('sends a link that parses and verifies for its approver and request, from both the text and the HTML body', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-2' });
    const { email, link } = aliceMessage();

    await mailer().send({ to: alice.email, ...email });

    const body = sentInput().Content!.Simple!.Body!;
    const fromText = body.Text!.Data!.match(/^https:\/\/\S+$/m)?.[0];
    const fromHtml = body.Html!.Data!.match(/<a href="([^"]+)"/)?.[1]?.replace(/&amp;/g, '&');
    expect(fromText).toBe(link.url);
    expect(fromHtml).toBe(link.url);

    for (const url of [fromText!, fromHtml!]) {
      const parsed = parseApprovalLinkUrl(url);
      expect(parsed).toEqual({ linkId: LINK_ID, token: link.token });
      const stored = { requestId: request.id, approverId: 'alice' };
      // The handler holds the newest and the previous key during a rotation.
      expect(
        verifyApprovalLink({
          key: [NEW_KEY, OLD_KEY],
          linkId: parsed!.linkId,
          token: parsed!.token,
          link: stored,
          now: NOW,
        }),
      ).toEqual({ ok: true, expiresAt: EXPIRES_AT, keyIndex: 0 });
      // Bound to alice: the same link presented as bob's decides nothing.
      expect(
        verifyApprovalLink({
          key: [NEW_KEY],
          linkId: parsed!.linkId,
          token: parsed!.token,
          link: { ...stored, approverId: 'bob' },
          now: NOW,
        }),
      ).toEqual({ ok: false, reason: 'tampered' });
    }
  });

  it('turns an SES rejection into MailerError with the AWS error code only', async () => {
    ses.on(SendEmailCommand).rejects(
      new MessageRejected({
        message: 'Email address is not verified. The following identities failed the check: alice@example.com',
        $metadata: { httpStatusCode: 400, requestId: 'req-1' },
      }),
    );
    const { email, link } = aliceMessage();

    const error = await mailer()
      .send({ to: alice.email, ...email })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(MailerError);
    expect(error).toMatchObject({
      name: 'MailerError',
      message: 'SES SendEmail failed: MessageRejected',
      code: 'MessageRejected',
      retryable: false,
    });
    expect((error as Error).cause).toBeUndefined();
    const everything = JSON.stringify(error) + String((error as Error).stack);
    expect(everything).not.toContain('alice@example.com');
    expect(everything).not.toContain(link.token);
  });

  it('marks throttling retryable', async () => {
    ses
      .on(SendEmailCommand)
      .rejects(new TooManyRequestsException({ message: 'Too many requests', $metadata: { httpStatusCode: 429 } }));
    const { email } = aliceMessage();

    await expect(mailer().send({ to: alice.email, ...email })).rejects.toMatchObject({
      code: 'TooManyRequestsException',
      retryable: true,
    });
  });

  it('turns a network failure into a retryable MailerError naming only the error class', async () => {
    ses.on(SendEmailCommand).rejects(new TypeError(`fetch failed for ${aliceMessage().link.url}`));
    const { email, link } = aliceMessage();

    const error = await mailer()
      .send({ to: alice.email, ...email })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ message: 'SES SendEmail failed: TypeError', code: undefined, retryable: true });
    expect((error as Error).message).not.toContain(link.token);
  });

  it('refuses an answer without a message id', async () => {
    ses.on(SendEmailCommand).resolves({});
    const { email } = aliceMessage();

    await expect(mailer().send({ to: alice.email, ...email })).rejects.toBeInstanceOf(MailerError);
  });

  it.each(['', 'alice@example.com, bob@example.com', 'alice@example.com\r\nBcc: eve@example.com', 'not-an-address'])(
    'refuses a recipient that is not one address, sending nothing: %j',
    async (to) => {
      const { email } = aliceMessage();

      await expect(mailer().send({ to, ...email })).rejects.toBeInstanceOf(MailerError);

      expect(ses.commandCalls(SendEmailCommand)).toHaveLength(0);
    },
  );

  it('is built from notifications.email of the configuration', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-3' });
    const client = new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 's' } });
    const { email } = aliceMessage();

    await SesMailer.fromConfig({ from: 'gatehouse@acme.org', configurationSet: 'approvals' }, client).send({
      to: alice.email,
      ...email,
    });

    expect(sentInput()).toMatchObject({ FromEmailAddress: 'gatehouse@acme.org', ConfigurationSetName: 'approvals' });
  });

  it('refuses to be built without a sender address', () => {
    expect(() => new SesMailer({ fromEmailAddress: ' ' })).toThrow(MailerError);
  });
});
