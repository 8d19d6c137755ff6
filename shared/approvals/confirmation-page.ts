/**
 * The pages behind an email approval link. `GET /v1/approvals/{approvalId}` shows `confirmationPage` (the request and
 * Approve / Deny); only its POST decides, because mail scanners and link previewers follow GET links. Every outcome,
 * good or bad, ends on a `resultPage` with one plain sentence.
 *
 * Pure HTML: no script, no external asset, inline CSS under a strict Content-Security-Policy, readable on a phone.
 * Every interpolated value goes through `escapeHtml`.
 */
import type { AccessRequest } from '../model.ts';
import { ApprovalLinkError } from './email-link.ts';

/** What an approver needs to see to decide, in display-ready fields. Shared by the page and the email. */
export interface RequestSummary {
  requestId: string;
  /** The requester's principal id, `<issuer name>:<subject>`. */
  requester: string;
  /** A person behind the request when the token names one: the CI actor or login, or the email. */
  requesterName?: string;
  /** `github-actions` or `gitlab`, for a CI requester. */
  ciProvider?: string;
  repository?: string;
  ref?: string;
  workflow?: string;
  environment?: string;
  runId?: string;
  cluster: string;
  namespaces: string[];
  access: string;
  durationSeconds: number;
  purpose: string;
  ticket?: string;
  /** ISO-8601: when the approval link (and the request's wait) ends. */
  expiresAt: string;
}

/** The summary of a request for its approvers; `expiresAt` is when the approval link expires. */
export function summarizeRequest(request: AccessRequest, expiresAt: Date | string): RequestSummary {
  const { principal } = request;
  const ci = principal.ci;
  const requesterName = ci?.actor ?? ci?.userLogin ?? principal.email;
  const summary: RequestSummary = {
    requestId: request.id,
    requester: principal.id,
    cluster: request.cluster,
    namespaces: [...request.namespaces],
    access: request.access,
    durationSeconds: request.durationSeconds,
    purpose: request.purpose,
    expiresAt: typeof expiresAt === 'string' ? expiresAt : expiresAt.toISOString(),
  };
  if (requesterName !== undefined) summary.requesterName = requesterName;
  if (ci !== undefined) {
    summary.ciProvider = ci.provider;
    if (ci.repository !== undefined) summary.repository = ci.repository;
    if (ci.ref !== undefined) summary.ref = ci.ref;
    if (ci.workflow !== undefined) summary.workflow = ci.workflow;
    if (ci.environment !== undefined) summary.environment = ci.environment;
    const runId = ci.runId ?? ci.pipelineId;
    if (runId !== undefined) summary.runId = runId;
  }
  if (request.ticket !== undefined) summary.ticket = request.ticket;
  return summary;
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `3600` → `1 hour`, `5400` → `1 hour 30 minutes`, `45` → `45 seconds`. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const parts: [number, string][] = [
    [Math.floor(whole / 3600), 'hour'],
    [Math.floor((whole % 3600) / 60), 'minute'],
    [whole % 60, 'second'],
  ];
  const shown = parts
    .filter(([count]) => count > 0)
    .map(([count, unit]) => `${count} ${unit}${count === 1 ? '' : 's'}`);
  return shown.length === 0 ? '0 seconds' : shown.join(' ');
}

/** `2025-03-01T13:00:00.000Z` → `2025-03-01 13:00 UTC`: unambiguous for approvers in any time zone. */
export function formatInstant(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The rows shown for a request, as label and plain-text value; empty values are left out. */
export function summaryRows(summary: RequestSummary): [label: string, value: string][] {
  const rows: [string, string | undefined][] = [
    ['Requested by', summary.requesterName ? `${summary.requesterName} (${summary.requester})` : summary.requester],
    ['Repository', summary.repository],
    ['Ref', summary.ref],
    ['Workflow', summary.workflow],
    ['Environment', summary.environment],
    ['Run', summary.runId],
    ['Cluster', summary.cluster],
    ['Namespaces', summary.namespaces.join(', ')],
    ['Access', summary.access],
    ['Duration', formatDuration(summary.durationSeconds)],
    ['Purpose', summary.purpose],
    ['Ticket', summary.ticket],
    ['Request', summary.requestId],
    ['Link expires', formatInstant(summary.expiresAt)],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '');
}

/**
 * The Content-Security-Policy of both pages: nothing loads, inline CSS only, and forms post back to this origin.
 * `base-uri` is not covered by `default-src`, so it is closed too; `frame-ancestors` backs up X-Frame-Options
 * (it only works as a header, so the meta tag omits it).
 */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const META_CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'";

/** Response headers for both pages. The URL carries the link token, so nothing may cache it or pass it on as a referrer. */
export const APPROVAL_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
});

/** The longest reason accepted with a decision. */
export const DECISION_REASON_MAX_LENGTH = 500;

export interface ConfirmationPageInput {
  request: RequestSummary;
  /** Who the link was sent to, so an approver sees at once whether it is theirs. */
  approverName: string;
  /** Where the form posts: the approval link itself (same link id and token), absolute or as a path. */
  action: string;
}

/**
 * The page a GET of an approval link shows: the request and a form with Approve and Deny and an optional reason.
 * The decision travels as the value of the button pressed (`decision=approve|deny`), not as a hidden field, so a
 * scanner that submits forms without pressing a button sends no decision at all.
 */
export function confirmationPage(input: ConfirmationPageInput): string {
  const { request } = input;
  const action = checkedAction(input.action);
  const rows = summaryRows(request)
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('\n        ');
  const title = `Approve ${request.access} access to ${request.cluster}?`;
  return approvalPageLayout(
    title,
    `<h1>${escapeHtml(title)}</h1>
      <p class="lead">This link was sent to <strong>${escapeHtml(input.approverName)}</strong>. Nothing is decided until you press a button.</p>
      <dl>
        ${rows}
      </dl>
      <form method="post" action="${escapeHtml(action)}">
        <label for="reason">Reason (optional)</label>
        <textarea id="reason" name="reason" rows="3" maxlength="${DECISION_REASON_MAX_LENGTH}"></textarea>
        <div class="actions">
          <button type="submit" name="decision" value="approve" class="approve">Approve</button>
          <button type="submit" name="decision" value="deny" class="deny">Deny</button>
        </div>
      </form>
      <p class="note">The link works once and expires ${escapeHtml(formatInstant(request.expiresAt))}.</p>`,
  );
}

export type ResultKind =
  'approved' | 'denied' | 'already-used' | 'expired' | 'invalid' | 'not-your-link' | 'already-decided' | 'closed';

/** Every result kind, with its heading, its sentence and the HTTP status to send it with. */
export const RESULT_PAGES: Readonly<Record<ResultKind, { title: string; sentence: string; status: number }>> = {
  approved: { title: 'Approved', sentence: 'You approved this request. Thank you.', status: 200 },
  denied: { title: 'Denied', sentence: 'You denied this request. The requester will be told.', status: 200 },
  'already-used': {
    title: 'Link already used',
    sentence: 'This approval link has already been used. Each link works once, so nothing was changed.',
    status: 409,
  },
  expired: {
    title: 'Link expired',
    sentence: 'This approval link has expired, so nothing was changed. The requester can ask again.',
    status: 410,
  },
  invalid: {
    title: 'Link not valid',
    sentence:
      'This approval link is not valid: it may have been altered or copied incompletely. Nothing was changed. Open the link from the email again.',
    status: 400,
  },
  'not-your-link': {
    title: 'Not your link',
    sentence:
      'This link cannot be used by you: it was sent to another approver, or the request is your own. Nothing was changed.',
    status: 403,
  },
  'already-decided': {
    title: 'Already decided',
    sentence: 'This request has already been decided (by you or another approver), so nothing was changed.',
    status: 409,
  },
  closed: {
    title: 'Request closed',
    sentence: 'This request is no longer waiting for approval: it timed out or was withdrawn. Nothing was changed.',
    status: 410,
  },
};

/** The page at the end of every link use, with one plain sentence per outcome and an optional detail line. */
export function resultPage(input: { kind: ResultKind; detail?: string }): string {
  const page = RESULT_PAGES[input.kind];
  const detail = input.detail ? `\n      <p class="detail">${escapeHtml(input.detail)}</p>` : '';
  return approvalPageLayout(
    page.title,
    `<h1 class="${escapeHtml(input.kind)}">${escapeHtml(page.title)}</h1>
      <p class="lead">${escapeHtml(page.sentence)}</p>${detail}
      <p class="note">You can close this page.</p>`,
  );
}

export type DecisionForm = { ok: true; decision: 'approve' | 'deny'; reason?: string } | { ok: false; error: string };

/**
 * Reads the confirmation form's POST body (`application/x-www-form-urlencoded`). Refuses a missing, repeated or unknown
 * decision and a reason longer than DECISION_REASON_MAX_LENGTH; trims the reason and drops it when empty.
 */
export function parseDecisionForm(body: string): DecisionForm {
  const form = new URLSearchParams(body);
  const decisions = form.getAll('decision');
  if (decisions.length !== 1) return { ok: false, error: 'choose Approve or Deny' };
  const decision = decisions[0];
  if (decision !== 'approve' && decision !== 'deny') return { ok: false, error: 'decision must be approve or deny' };
  const reasons = form.getAll('reason');
  if (reasons.length > 1) return { ok: false, error: 'only one reason may be given' };
  const reason = (reasons[0] ?? '').replace(/\r\n?/g, '\n').replace(CONTROL_CHARACTERS, '').trim();
  if (reason.length > DECISION_REASON_MAX_LENGTH) {
    return { ok: false, error: `the reason may be at most ${DECISION_REASON_MAX_LENGTH} characters` };
  }
  return reason === '' ? { ok: true, decision } : { ok: true, decision, reason };
}

// Control characters other than line breaks and tabs have no place in a reason shown to people and kept in events.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

function checkedAction(action: string): string {
  // A path on this origin, or an absolute http(s) URL; never `javascript:` or a protocol-relative `//host`.
  if (/^\/(?![/\\])/.test(action) || /^https?:\/\//i.test(action)) return action;
  throw new ApprovalLinkError('the confirmation form action must be a path or an http(s) URL');
}

const STYLE = `
  :root { color-scheme: light dark; --fg: #1b1f23; --bg: #ffffff; --muted: #57606a; --line: #d0d7de;
    --approve: #1a7f37; --deny: #cf222e; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d;
    --approve: #238636; --deny: #da3633; } }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 16px; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    color: var(--fg); background: var(--bg); }
  main { max-width: 560px; margin: 0 auto; }
  h1 { font-size: 1.4rem; margin: 0 0 12px; }
  h1.approved { color: var(--approve); } h1.denied { color: var(--deny); }
  .lead { margin: 0 0 16px; }
  .note, .detail { color: var(--muted); font-size: 0.9rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 12px; margin: 0 0 20px; padding: 12px;
    border: 1px solid var(--line); border-radius: 8px; }
  dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
  label { display: block; font-weight: 600; margin-bottom: 4px; }
  textarea { width: 100%; font: inherit; padding: 8px; border: 1px solid var(--line); border-radius: 8px;
    color: inherit; background: transparent; }
  .actions { display: flex; gap: 12px; margin-top: 16px; }
  button { flex: 1; min-height: 56px; font: inherit; font-size: 1.1rem; font-weight: 600; color: #fff; border: 0;
    border-radius: 10px; cursor: pointer; }
  button.approve { background: var(--approve); } button.deny { background: var(--deny); }
`;

/** The frame of every approval page: CSP meta, viewport, inline style. */
export function approvalPageLayout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta http-equiv="Content-Security-Policy" content="${META_CONTENT_SECURITY_POLICY}">
    <meta name="referrer" content="no-referrer">
    <meta name="robots" content="noindex, nofollow">
    <title>${escapeHtml(title)} · Gatehouse</title>
    <style>${STYLE}</style>
  </head>
  <body>
    <main>
      ${body}
    </main>
  </body>
</html>
`;
}
