/**
 * The email that asks one approver to decide one request, with their signed approval link, and the `Mailer` port that
 * sends it. The link only opens a confirmation page (see confirmation-page.ts); the email says so, because an approver
 * who expects one click to decide would be surprised by the second.
 */
import type { ApproverConfig } from '../config/schema.ts';
import type { AccessRequest } from '../model.ts';
import { escapeHtml, formatDuration, formatInstant, summarizeRequest, summaryRows } from './confirmation-page.ts';
import type { RequestSummary } from './confirmation-page.ts';
import { ApprovalLinkError } from './email-link.ts';

/** A message in both forms every mail client can show. */
export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

/** One message to one recipient. */
export interface OutgoingEmail extends EmailMessage {
  to: string;
}

/** Sends email. Throws MailerError when the message was not accepted. */
export interface Mailer {
  send(message: OutgoingEmail): Promise<{ messageId: string }>;
}

/** The mail service refused or failed to take a message. Carries the service's error code, never the message. */
export class MailerError extends Error {
  override name = 'MailerError';
  constructor(
    message: string,
    /** The service's error code, e.g. `MessageRejected`, when it answered with one. */
    readonly code: string | undefined,
    /** True when trying again later may succeed (throttling, service faults, the network). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface ApprovalEmailInput {
  request: AccessRequest;
  approver: Pick<ApproverConfig, 'id'> & Partial<Pick<ApproverConfig, 'name' | 'email'>>;
  /** The approver's signed link, from createApprovalLink. */
  url: string;
  /** When the link expires. */
  expiresAt: Date | string;
}

/** Longest subject kept: mail clients show far less, and a long purpose or name must not crowd out the cluster. */
const SUBJECT_MAX_LENGTH = 160;

/**
 * The approval email: a subject naming the access, the cluster and the requester; a body with the request summary and
 * the link, as plain text and as HTML with every value escaped. Throws ApprovalLinkError when `url` is not http(s).
 */
export function approvalEmail(input: ApprovalEmailInput): EmailMessage {
  if (!/^https?:\/\/[^\s]+$/i.test(input.url)) throw new ApprovalLinkError('an approval email needs an http(s) link');
  const summary = summarizeRequest(input.request, input.expiresAt);
  const requester = requesterLabel(summary);
  const subject = truncate(
    oneLine(`[Gatehouse] Approve ${summary.access} access to ${summary.cluster} for ${requester}?`),
    SUBJECT_MAX_LENGTH,
  );
  const greeting = `Hello ${oneLine(input.approver.name ?? input.approver.id)},`;
  const asks = `${requester} asks for ${summary.access} access to cluster ${summary.cluster} for ${formatDuration(summary.durationSeconds)}.`;
  const rows = summaryRows(summary).map(([label, value]) => [label, oneLine(value)] as const);
  const expires = formatInstant(summary.expiresAt);
  const fine =
    `Opening the link decides nothing: the page shows the request again with Approve and Deny. ` +
    `The link is for you alone, works once and expires ${expires}. If you did not expect this email, ignore it.`;

  const text = [
    greeting,
    '',
    oneLine(asks),
    '',
    ...rows.map(([label, value]) => `${label}: ${value}`),
    '',
    'Review the request and approve or deny it:',
    input.url,
    '',
    fine,
    '',
  ].join('\n');

  const href = escapeHtml(input.url);
  const rowHtml = rows
    .map(
      ([label, value]) =>
        `<tr><td style="padding:4px 12px 4px 0;color:#57606a;vertical-align:top;white-space:nowrap">${escapeHtml(label)}</td>` +
        `<td style="padding:4px 0;vertical-align:top">${escapeHtml(value)}</td></tr>`,
    )
    .join('\n        ');
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(subject)}</title>
  </head>
  <body style="margin:0;padding:16px;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f23">
    <div style="max-width:560px;margin:0 auto">
      <p>${escapeHtml(greeting)}</p>
      <p>${escapeHtml(oneLine(asks))}</p>
      <table role="presentation" style="border-collapse:collapse;margin:0 0 20px">
        ${rowHtml}
      </table>
      <p><a href="${href}" style="display:inline-block;padding:14px 24px;background:#0969da;color:#ffffff;border-radius:10px;font-weight:600;text-decoration:none">Review the request</a></p>
      <p style="font-size:14px;color:#57606a">Or open this link: <a href="${href}" style="color:#0969da;word-break:break-all">${href}</a></p>
      <p style="font-size:14px;color:#57606a">${escapeHtml(fine)}</p>
    </div>
  </body>
</html>
`;
  return { subject, text, html };
}

/** `octocat (acme/api)`, `octocat`, `acme/api`, or the principal id: the shortest name a person recognises. */
function requesterLabel(summary: RequestSummary): string {
  const name = summary.requesterName;
  const repository = summary.repository;
  if (name !== undefined && repository !== undefined) return `${name} (${repository})`;
  return name ?? repository ?? summary.requester;
}

// eslint-disable-next-line no-control-regex
const LINE_BREAKS_AND_CONTROLS = /[\u0000-\u001f\u007f\u2028\u2029]+/g;

/**
 * Collapses line breaks, tabs and other control characters to single spaces. A subject is a header (no CR/LF may
 * reach it), and in the text body a newline inside a value could forge a line such as a second "link".
 */
function oneLine(value: string): string {
  return value.replace(LINE_BREAKS_AND_CONTROLS, ' ').replace(/ {2,}/g, ' ').trim();
}

function truncate(value: string, max: number): string {
  const chars = [...value];
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`;
}
