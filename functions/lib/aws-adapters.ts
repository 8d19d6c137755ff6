/**
 * The AWS adapters that only some functions use, each behind its own factory. A handler names the ones it needs in
 * `apiHandler`/`lifecycleTask`, so esbuild bundles only those SDK clients into its function: the STS client only where
 * tokens are minted, EKS only where access entries change, Step Functions only in create-access-request.
 */
import { EksAccessEntries } from '#shared/adapters/aws/eks-access-entries.ts';
import { SecretsManagerSecrets } from '#shared/adapters/aws/secrets-manager-secrets.ts';
import { SesMailer } from '#shared/adapters/aws/ses-mailer.ts';
import { SfnLifecycleScheduler } from '#shared/adapters/aws/sfn-lifecycle-scheduler.ts';
import { SfnTaskCallbacks } from '#shared/adapters/aws/sfn-task-callbacks.ts';
import { SlackNotifier } from '#shared/adapters/slack/slack-notifier.ts';
import { SlackNotifyError } from '#shared/slack/slack-messenger.ts';
import { StsTokenMinter } from '#shared/adapters/aws/sts-token-minter.ts';
import { systemClock } from '#shared/adapters/system.ts';
import type { AwsAdapters } from './aws-runtime.ts';

/** Tokens from STS `AssumeRole` on the grant's slot role (create-access-request, issue-token). */
export const stsTokenMinter: NonNullable<AwsAdapters['minter']> = (clusters) =>
  new StsTokenMinter({ clusters, clock: systemClock });

/** EKS access entries for slot roles (the functions that grant and revoke). */
export const eksAccessEntries: NonNullable<AwsAdapters['entries']> = (clusters) => new EksAccessEntries({ clusters });

/** Grant lifecycles as Step Functions executions (create-access-request). */
export const sfnLifecycleScheduler: NonNullable<AwsAdapters['scheduler']> = (stateMachineArn) =>
  new SfnLifecycleScheduler(stateMachineArn);

/** Answers the lifecycle's waiting approval task (the approval callback handlers) and beats it (approval-heartbeat). */
export const sfnTaskCallbacks: NonNullable<AwsAdapters['callbacks']> = () => new SfnTaskCallbacks();

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
