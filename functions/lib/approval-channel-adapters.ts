/**
 * The approval channels' AWS adapters: secrets from Secrets Manager, Slack's Web API and SES. Apart from aws-adapters.ts
 * because @slack/web-api is CommonJS, which a bundle keeps whole once imported: only the approval functions carry it.
 */
import { SecretsManagerSecrets } from '#shared/adapters/aws/secrets-manager-secrets.ts';
import { SesMailer } from '#shared/adapters/aws/ses-mailer.ts';
import { SlackNotifier } from '#shared/adapters/slack/slack-notifier.ts';
import { SlackNotifyError } from '#shared/slack/slack-messenger.ts';
import type { AwsAdapters } from './aws-runtime.ts';

/** The Slack signing secret and the approval link keys, from Secrets Manager (ARNs from the environment). */
export const secretsManagerSecrets: NonNullable<AwsAdapters['secrets']> = () => {
  const secrets = new SecretsManagerSecrets();
  return {
    slackSigningSecret: async () => {
      const arn = process.env.SLACK_SIGNING_SECRET_SECRET_ARN;
      return arn ? secrets.value(arn) : undefined;
    },
    linkKeys: async () => {
      const arn = process.env.APPROVAL_LINK_KEY_SECRET_ARN;
      if (!arn) throw new Error('APPROVAL_LINK_KEY_SECRET_ARN is not set for this function');
      const values = [await secrets.value(arn, 'AWSCURRENT'), await secrets.value(arn, 'AWSPREVIOUS')];
      return values.filter((value): value is string => !!value).map((value) => Buffer.from(value, 'utf8'));
    },
  };
};

/** Slack's Web API with the bot token from Secrets Manager, fetched on the first message. */
export const slackMessenger: NonNullable<AwsAdapters['slack']> = (_secrets, config) => {
  const secrets = new SecretsManagerSecrets();
  let notifier: Promise<SlackNotifier> | undefined;
  const client = () =>
    (notifier ??= (async () => {
      const arn = process.env.SLACK_BOT_TOKEN_SECRET_ARN;
      const token = arn ? await secrets.value(arn) : undefined;
      if (!token) throw new SlackNotifyError('not_configured', 'the Slack bot token secret is empty');
      return new SlackNotifier({ token, slackApiUrl: config.notifications.slack?.apiUrl });
    })());
  return {
    postApprovalRequest: async (channel, message) => (await client()).postApprovalRequest(channel, message),
    updateMessage: async (channel, ts, message) => (await client()).updateMessage(channel, ts, message),
  };
};

/** SES, when the configuration names a sender. */
export const sesMailer: NonNullable<AwsAdapters['mailer']> = (config) =>
  config.notifications.email ? SesMailer.fromConfig(config.notifications.email) : undefined;
