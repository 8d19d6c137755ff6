/**
 * The port for posting and updating approval messages in Slack. shared/adapters/slack/slack-notifier.ts implements it
 * with @slack/web-api; the local runtime and tests may stand in for it.
 */
import type { SlackMessage } from './messages.ts';

/** Where a message landed: the channel id and the message's `ts`, which together name it for chat.update. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface SlackMessenger {
  /** Posts the approval request to a channel. Throws SlackNotifyError. */
  postApprovalRequest(channel: string, message: SlackMessage): Promise<SlackMessageRef>;
  /** Replaces a posted message in place (e.g. the buttons by the decision). Throws SlackNotifyError. */
  updateMessage(channel: string, ts: string, message: SlackMessage): Promise<SlackMessageRef>;
}

/** Slack codes worth another try later: Slack's own transient errors, rate limits, and transport failures. */
const RETRYABLE_CODES = new Set([
  'ratelimited',
  'request_failed',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** The most a code may be: Slack's are short snake_case words; anything else is not repeated. */
const CODE_PATTERN = /^[a-z0-9_]{1,64}$/;

/**
 * A Slack call failed. `code` is Slack's error code (`channel_not_found`, `invalid_auth`, `ratelimited`, ...) or, for a
 * failure before Slack answered, `request_failed`, `http_<status>` or `invalid_response`. Nothing else is kept: no token,
 * no request body, no response headers.
 */
export class SlackNotifyError extends Error {
  override name = 'SlackNotifyError';
  readonly code: string;
  readonly method: string;
  /** True when the same call may succeed later (Step Functions' Retry keys on the name; handlers on this). */
  readonly retryable: boolean;

  constructor(method: string, code: string) {
    const safeCode = CODE_PATTERN.test(code) ? code : 'unknown_error';
    super(`Slack ${method} failed: ${safeCode}`);
    this.method = method;
    this.code = safeCode;
    this.retryable = RETRYABLE_CODES.has(safeCode) || /^http_5\d\d$/.test(safeCode);
  }
}
