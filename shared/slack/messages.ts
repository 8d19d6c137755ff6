/**
 * Block Kit messages for approvals: the request with Approve / Deny buttons, and the same summary once decided, with the
 * buttons replaced by who decided what and when.
 *
 * Everything a requester wrote (purpose, ticket) and everything that came from their token (subject, repository, ref,
 * workflow) is untrusted: it is escaped for mrkdwn (`&`, `<`, `>`; Slack's "Escaping text",
 * https://docs.slack.dev/messaging/formatting-message-text#escaping), stripped of control and bidirectional-override
 * characters, set `verbatim` so Slack does not turn bare URLs, `@channel` or `#channel` into links or mentions, and cut to
 * Slack's limits (https://docs.slack.dev/reference/block-kit/blocks). Mentions, dates and links appear only where this
 * module builds them from values it has checked.
 */
import type { AccessRequest, CiClaims } from '../model.ts';

export const APPROVE_ACTION_ID = 'gatehouse_approve';
export const DENY_ACTION_ID = 'gatehouse_deny';
export type GatehouseActionId = typeof APPROVE_ACTION_ID | typeof DENY_ACTION_ID;

/** The actions block's id, so an interaction can be matched to the block that carries the buttons. */
export const DECISION_BLOCK_ID = 'gatehouse_decision';

/** Request ids the buttons may carry (Gatehouse's are `req_<ULID>`); the interaction parser accepts the same set. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Slack's documented limits for the elements used here, in characters. */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  sectionField: 2000,
  sectionFields: 10,
  contextText: 3000,
  buttonText: 75,
  buttonValue: 2000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  blocks: 50,
  /** Slack truncates top-level text past 40,000; a notification needs far less. */
  fallbackText: 3000,
} as const;

/** The longest reason shown per decision, so a long reason cannot crowd out the others. */
const REASON_MAX = 500;

export interface SlackPlainText {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}

export interface SlackMrkdwn {
  type: 'mrkdwn';
  text: string;
  /** True: Slack shows the text as written, without linking URLs, channel names or mentions it finds in it. */
  verbatim?: boolean;
}

export type SlackTextObject = SlackPlainText | SlackMrkdwn;

export interface SlackConfirmDialog {
  title: SlackPlainText;
  text: SlackTextObject;
  confirm: SlackPlainText;
  deny: SlackPlainText;
  style?: 'primary' | 'danger';
}

export interface SlackButton {
  type: 'button';
  action_id: string;
  text: SlackPlainText;
  value?: string;
  style?: 'primary' | 'danger';
  confirm?: SlackConfirmDialog;
}

export type SlackBlock =
  | { type: 'header'; block_id?: string; text: SlackPlainText }
  | { type: 'section'; block_id?: string; text?: SlackMrkdwn; fields?: SlackMrkdwn[] }
  | { type: 'context'; block_id?: string; elements: SlackMrkdwn[] }
  | { type: 'actions'; block_id?: string; elements: SlackButton[] }
  | { type: 'divider'; block_id?: string };

/** What chat.postMessage and chat.update take: notification text and the blocks. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Where the request stands against its quorum. */
export interface ApprovalQuorumSummary {
  /** Approvals needed in all. */
  required: number;
  /** Approvals recorded so far. */
  received: number;
  /** True when every listed group must reach its own quorum, not only the total. */
  everyGroup?: boolean;
}

/** One approver's recorded decision, with the Slack user id (or name) from config to show who it was. */
export interface SlackApprovalDecision {
  /** The approver id from config (`approvers.people[].id`). */
  approverId: string;
  /** Shown as a Slack mention when present and well-formed. */
  slackUserId?: string;
  /** Display name from config, shown when there is no Slack user id. */
  name?: string;
  decision: 'approve' | 'deny';
  at: string | Date;
  reason?: string;
  /** Where the approver answered (the approval domain's `ApprovalChannel`). */
  via?: 'slack' | 'email' | 'local' | 'api';
}

export interface ApprovalRequestMessageInput {
  request: AccessRequest;
  /** Names of the approver groups asked. */
  approvalGroups: string[];
  quorum: ApprovalQuorumSummary;
  /** When the request expires if not decided. */
  expiresAt: string | Date;
  /** Approvals recorded so far (a quorum of more than one keeps the buttons until it is met). */
  decisions?: SlackApprovalDecision[];
}

export type ApprovalOutcome = 'approved' | 'denied' | 'expired';

export interface ApprovalDecidedMessageInput extends ApprovalRequestMessageInput {
  outcome: ApprovalOutcome;
  /** Every recorded decision: the approvals that met the quorum, or the denial (and any approvals before it). */
  decisions: SlackApprovalDecision[];
  /** When the outcome was reached (for `expired`, the moment the request timed out). */
  decidedAt: string | Date;
}

/** A message could not be built from its input (an id Slack could not carry, an invalid date). */
export class SlackMessageError extends Error {
  override name = 'SlackMessageError';
}

/** The message asking approvers to decide: the request summary, then Approve and Deny (with a confirmation) buttons. */
export function approvalRequestMessage(input: ApprovalRequestMessageInput): SlackMessage {
  const requestId = checkedRequestId(input.request.id);
  const blocks: SlackBlock[] = [header('Access request awaiting approval'), ...summaryBlocks(input)];
  const decisions = input.decisions ?? [];
  if (decisions.length > 0) blocks.push(section(decisionLines(decisions)));
  blocks.push({
    type: 'actions',
    block_id: DECISION_BLOCK_ID,
    elements: [
      {
        type: 'button',
        action_id: APPROVE_ACTION_ID,
        text: plain('Approve'),
        style: 'primary',
        value: requestId,
      },
      {
        type: 'button',
        action_id: DENY_ACTION_ID,
        text: plain('Deny'),
        style: 'danger',
        value: requestId,
        confirm: {
          title: plain('Deny this access request?', SLACK_LIMITS.confirmTitle),
          text: plain(
            'The request is denied at once and the job that asked for access fails. This cannot be undone.',
            SLACK_LIMITS.confirmText,
          ),
          confirm: plain('Deny', SLACK_LIMITS.confirmButton),
          deny: plain('Cancel', SLACK_LIMITS.confirmButton),
          style: 'danger',
        },
      },
    ],
  });
  return { text: fallbackText(input.request, 'pending'), blocks };
}

/** The same summary once decided: no buttons; who approved or denied, when and why, or that the request expired. */
export function approvalDecidedMessage(input: ApprovalDecidedMessageInput): SlackMessage {
  checkedRequestId(input.request.id);
  const titles: Record<ApprovalOutcome, string> = {
    approved: 'Access request approved',
    denied: 'Access request denied',
    expired: 'Access request expired',
  };
  const blocks: SlackBlock[] = [header(titles[input.outcome]), ...summaryBlocks(input)];
  const decidedAt = slackDate(input.decidedAt);
  const lines =
    input.outcome === 'expired'
      ? [
          `:hourglass: *Expired* ${decidedAt} without a decision (${quorumText(input.quorum)}).`,
          ...decisionLines(input.decisions),
        ]
      : decisionLines(input.decisions);
  if (lines.length === 0) {
    // A denial by the system (e.g. an approver group removed) still says what happened.
    lines.push(
      input.outcome === 'approved' ? `:white_check_mark: *Approved* ${decidedAt}` : `:no_entry: *Denied* ${decidedAt}`,
    );
  }
  blocks.push({
    type: 'section',
    block_id: DECISION_BLOCK_ID,
    text: mrkdwn(joinBounded(lines, SLACK_LIMITS.sectionText)),
  });
  return { text: fallbackText(input.request, input.outcome), blocks };
}

/**
 * Notification text (push notifications, screen readers, clients without Block Kit): who asks for what, and where the
 * request stands. Escaped and bounded like the blocks.
 */
export function fallbackText(request: AccessRequest, status: 'pending' | ApprovalOutcome): string {
  const states: Record<'pending' | ApprovalOutcome, string> = {
    pending: 'awaiting approval',
    approved: 'approved',
    denied: 'denied',
    expired: 'expired',
  };
  const text =
    `Access request ${request.id} from ${request.principal.id}: ` +
    `${request.access} on ${request.cluster} (${request.namespaces.join(', ')}) ` +
    `for ${formatDuration(request.durationSeconds)}: ${states[status]}`;
  // Escaped once, here, after composing: escaping the parts too would show `&amp;lt;`.
  return bounded(oneLineRaw(text), SLACK_LIMITS.fallbackText);
}

/** Escapes the three characters Slack's mrkdwn gives meaning to; `&` first so the others are not double-escaped. */
export function escapeMrkdwn(text: string): string {
  return sanitize(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `text` escaped and, if longer than `max` once escaped, cut at a character boundary with an ellipsis. */
export function bounded(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  let out = '';
  // Cut the raw text, character by character (code points, so a surrogate pair is never split), then escape: an entity
  // such as `&amp;` is never cut in half.
  for (const char of sanitize(text)) {
    const next = escapeMrkdwn(char);
    if (out.length + next.length + 1 > max) break;
    out += next;
  }
  return `${out}…`;
}

function summaryBlocks(input: ApprovalRequestMessageInput): SlackBlock[] {
  const { request } = input;
  const who = [field('Requester', request.principal.id), ...ciFields(request.principal.ci)];
  const what = [
    field('Cluster', request.cluster),
    field('Access', request.access),
    field('Namespaces', request.namespaces.join(', ')),
    field('Duration', formatDuration(request.durationSeconds)),
    field('Ticket', request.ticket && request.ticket.length > 0 ? request.ticket : '—'),
    mrkdwn(`*Expires*\n${slackDate(input.expiresAt)}`),
  ];
  const purposeLabel = '*Purpose*\n';
  const groups = input.approvalGroups.join(', ') || '—';
  const quorum = quorumText(input.quorum) + (input.quorum.everyGroup ? ', every group must approve' : '');
  return [
    { type: 'section', fields: who.slice(0, SLACK_LIMITS.sectionFields) },
    { type: 'section', fields: what },
    {
      type: 'section',
      text: mrkdwn(`${purposeLabel}${bounded(request.purpose, SLACK_LIMITS.sectionText - purposeLabel.length)}`),
    },
    {
      type: 'context',
      elements: [
        mrkdwn(
          bounded(oneLineRaw(`Request ${request.id} · Approvers: ${groups} · ${quorum}`), SLACK_LIMITS.contextText),
        ),
      ],
    },
  ];
}

/** The CI run behind the token: GitHub repository/ref/workflow/run, or GitLab project/ref/pipeline. */
function ciFields(ci: CiClaims | undefined): SlackMrkdwn[] {
  if (ci === undefined) return [];
  const entries: Array<[string, string | undefined]> =
    ci.provider === 'github-actions'
      ? [
          ['Repository', ci.repository],
          ['Ref', ci.ref],
          ['Workflow', ci.workflow],
          ['Run', ci.runId],
          ['Environment', ci.environment],
          ['Triggered by', ci.actor],
        ]
      : [
          ['Project', ci.repository],
          ['Ref', ci.ref],
          ['Pipeline', ci.pipelineId],
          ['Environment', ci.environment],
          ['Triggered by', ci.userLogin],
        ];
  return entries
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1].length > 0)
    .map(([label, value]) => field(label, value));
}

function decisionLines(decisions: SlackApprovalDecision[]): string[] {
  const where = {
    slack: ' in Slack',
    email: ' by email',
    local: ' in the local inbox',
    api: ' through the API',
  } as const;
  return decisions.map((decision) => {
    const verb = decision.decision === 'approve' ? ':white_check_mark: *Approved*' : ':no_entry: *Denied*';
    const channel = decision.via ? where[decision.via] : '';
    const reason =
      decision.reason !== undefined && decision.reason.trim().length > 0
        ? `\nReason: ${bounded(oneLineRaw(decision.reason), REASON_MAX)}`
        : '';
    return `${verb} by ${approverLabel(decision)}${channel} ${slackDate(decision.at)}${reason}`;
  });
}

/** A Slack mention when the user id is well-formed (it then cannot carry markup), else the escaped name or id. */
function approverLabel(decision: SlackApprovalDecision): string {
  if (decision.slackUserId !== undefined && /^[UW][A-Z0-9]{2,20}$/.test(decision.slackUserId)) {
    return `<@${decision.slackUserId}>`;
  }
  return bounded(oneLineRaw(decision.name ?? decision.approverId), 100);
}

/**
 * Slack's date token shows the moment in each reader's time zone; the text after `|` is shown where it cannot
 * (https://docs.slack.dev/messaging/formatting-message-text#date-formatting).
 */
function slackDate(value: string | Date): string {
  const date = value instanceof Date ? value : new Date(value);
  const epochMs = date.getTime();
  if (!Number.isFinite(epochMs)) throw new SlackMessageError('a message date is not a valid date');
  const seconds = Math.floor(epochMs / 1000);
  const fallback = `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${seconds}^{date_short_pretty} at {time}|${fallback}>`;
}

/** "1 of 2 approvals", "0 of 1 approval". */
function quorumText(quorum: ApprovalQuorumSummary): string {
  return `${quorum.received} of ${quorum.required} approval${quorum.required === 1 ? '' : 's'}`;
}

/** 3600 → "1 h", 5400 → "1 h 30 min", 45 → "45 s". */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const parts = [hours > 0 ? `${hours} h` : '', minutes > 0 ? `${minutes} min` : '', rest > 0 ? `${rest} s` : ''];
  return parts.filter(Boolean).join(' ') || '0 s';
}

function checkedRequestId(id: string): string {
  if (!REQUEST_ID_PATTERN.test(id) || id.length > SLACK_LIMITS.buttonValue) {
    // Never cut an id to fit: the button would then name another request, or none.
    throw new SlackMessageError('the request id cannot be carried by a Slack button');
  }
  return id;
}

/** A label and an untrusted value as a section field, within the field limit. */
function field(label: string, value: string): SlackMrkdwn {
  const prefix = `*${label}*\n`;
  return mrkdwn(`${prefix}${bounded(oneLineRaw(value), SLACK_LIMITS.sectionField - prefix.length)}`);
}

function header(text: string): SlackBlock {
  return { type: 'header', text: plain(text, SLACK_LIMITS.headerText) };
}

function section(lines: string[]): SlackBlock {
  return { type: 'section', text: mrkdwn(joinBounded(lines, SLACK_LIMITS.sectionText)) };
}

/** Text this module composed from escaped parts; `verbatim` stops Slack linking anything it was not told to. */
function mrkdwn(text: string): SlackMrkdwn {
  return { type: 'mrkdwn', text, verbatim: true };
}

function plain(text: string, max: number = SLACK_LIMITS.buttonText): SlackPlainText {
  return { type: 'plain_text', text: text.length <= max ? text : `${text.slice(0, max - 1)}…`, emoji: true };
}

/** Whole lines while they fit (a line is never cut, so a mention or date token stays intact), then a count of the rest. */
function joinBounded(lines: string[], max: number): string {
  const kept: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const more = `…and ${lines.length - index} more`;
    const added = (kept.length > 0 ? 1 : 0) + line.length;
    const reserve = index < lines.length - 1 ? more.length + 1 : 0;
    if (length + added + reserve > max) {
      kept.push(more);
      break;
    }
    kept.push(line);
    length += added;
  }
  return kept.join('\n');
}

function oneLineRaw(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Drops C0/C1 control characters other than newline and tab, and Unicode bidirectional overrides and isolates, which
 * could make a purpose display as something else than it says (CVE-2021-42574, "Trojan Source").
 */
function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, '');
}
