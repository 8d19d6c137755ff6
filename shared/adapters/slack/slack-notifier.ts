/**
 * SlackMessenger on Slack's Web API with @slack/web-api: chat.postMessage for the approval request, chat.update to show
 * the decision in place. Build one per process (module scope in a Lambda) with the bot token from Secrets Manager.
 *
 * Every failure becomes a SlackNotifyError carrying Slack's error code only; the token is sent in the Authorization
 * header (never in the body), and the client's own logging redacts it and is kept at warnings by default.
 */
import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import type { Logger, RetryOptions } from '@slack/web-api';
import type { SlackMessage } from '../../slack/messages.ts';
import { SlackNotifyError } from '../../slack/slack-messenger.ts';
import type { SlackMessageRef, SlackMessenger } from '../../slack/slack-messenger.ts';

export { SlackNotifyError };

/**
 * A couple of quick retries of transport failures and 5xx answers, well inside a Lambda's timeout; Step Functions'
 * Retry handles anything longer. (The client's default is ten retries over about thirty minutes.)
 */
export const DEFAULT_SLACK_RETRY: RetryOptions = { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 1000 };

export interface SlackNotifierProps {
  /** The bot token (`xoxb-...`), with the `chat:write` scope. */
  token: string;
  /**
   * Base URL of the Web API; methods are appended to it. Tests and the local runtime point it at a loopback server.
   * @default 'https://slack.com/api/'
   */
  slackApiUrl?: string;
  /** @default DEFAULT_SLACK_RETRY */
  retryConfig?: RetryOptions;
  /** Per-attempt timeout in milliseconds. @default 10000 */
  timeoutMs?: number;
  /**
   * Fail at once on HTTP 429 (a retryable SlackNotifyError `ratelimited`) rather than sleep for Slack's Retry-After,
   * which can outlast the function. @default true
   */
  rejectRateLimitedCalls?: boolean;
  /** The client's logger. @default the client's console logger at warnings */
  logger?: Logger;
}

export class SlackNotifier implements SlackMessenger {
  private readonly client: WebClient;

  constructor(props: SlackNotifierProps) {
    if (typeof props.token !== 'string' || props.token.trim().length === 0) {
      throw new TypeError('the Slack bot token is not configured');
    }
    const slackApiUrl = props.slackApiUrl === undefined ? undefined : props.slackApiUrl.replace(/\/*$/, '/');
    this.client = new WebClient(props.token, {
      ...(slackApiUrl !== undefined ? { slackApiUrl } : {}),
      retryConfig: props.retryConfig ?? DEFAULT_SLACK_RETRY,
      timeout: props.timeoutMs ?? 10_000,
      rejectRateLimitedCalls: props.rejectRateLimitedCalls ?? true,
      // Method names are ours, but an absolute URL must never be able to carry the token off the configured API.
      allowAbsoluteUrls: false,
      ...(props.logger !== undefined ? { logger: props.logger } : { logLevel: LogLevel.WARN }),
    });
  }

  async postApprovalRequest(channel: string, message: SlackMessage): Promise<SlackMessageRef> {
    const method = 'chat.postMessage';
    let result;
    try {
      result = await this.client.chat.postMessage({
        channel,
        text: message.text,
        blocks: message.blocks,
        // The message names a repository and maybe a ticket; no previews of anything a requester wrote.
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (error) {
      throw notifyError(method, error);
    }
    return messageRef(method, result);
  }

  async updateMessage(channel: string, ts: string, message: SlackMessage): Promise<SlackMessageRef> {
    const method = 'chat.update';
    let result;
    try {
      result = await this.client.chat.update({ channel, ts, text: message.text, blocks: message.blocks });
    } catch (error) {
      throw notifyError(method, error);
    }
    return messageRef(method, result);
  }
}

function messageRef(method: string, result: { channel?: unknown; ts?: unknown }): SlackMessageRef {
  if (typeof result.channel !== 'string' || typeof result.ts !== 'string') {
    throw new SlackNotifyError(method, 'invalid_response');
  }
  return { channel: result.channel, ts: result.ts };
}

/** Slack's error code, or a fixed code for failures before Slack answered; never the client's message or data. */
function notifyError(method: string, error: unknown): SlackNotifyError {
  const coded = error as { code?: unknown; data?: { error?: unknown }; statusCode?: unknown } | null;
  switch (coded?.code) {
    case ErrorCode.PlatformError:
      return new SlackNotifyError(method, typeof coded.data?.error === 'string' ? coded.data.error : 'unknown_error');
    case ErrorCode.RateLimitedError:
      return new SlackNotifyError(method, 'ratelimited');
    case ErrorCode.HTTPError:
      return new SlackNotifyError(method, `http_${Number(coded.statusCode)}`);
    case ErrorCode.RequestError:
      return new SlackNotifyError(method, 'request_failed');
    default:
      return new SlackNotifyError(method, 'unknown_error');
  }
}
