/**
 * The evidence report (`report.html` of `gatehouse evidence`): one self-contained HTML page an auditor opens offline.
 * A timeline of access requests (who asked, why, the policy that decided, who approved and when, the grant window and
 * its end, what was done and masked under it), summaries per principal and per cluster, charts as inline SVG, the
 * HIPAA Security Rule standards each artifact evidences, and the digests that cover the events. Under each grant: the
 * Kubernetes requests made through the relay, and each exec/attach session with its recording in a player
 * (asciinema-player) beside a plain transcript. Pure: events, recordings and the player's files in, a string out.
 *
 * Self-contained and locked down: no external resource, and a Content-Security-Policy that admits only the page's own
 * style and scripts by their SHA-256 (`'wasm-unsafe-eval'` too when the player is embedded: its terminal emulator is
 * WebAssembly, inlined in its script; CSP Level 3 section 6.1.3). Recordings travel as JSON data blocks
 * (`<script type="application/json">`), which a browser never runs. Without the player's files the report has no
 * script at all and shows the transcripts only. Every value is escaped; numbers a test reads carry `data-*` attributes.
 */
import { createHash } from 'node:crypto';
import { parseAsciicast } from '../audit/asciicast.ts';
import type { AuditEvent } from '../audit/event.ts';
import { outputText } from '../sessions/player.ts';
import { DAY_MS, HOUR_MS } from './archive-layout.ts';
import { sessionRecordings, type SessionRecordingRef } from './session-recordings.ts';

export interface DigestSummary {
  hour: string;
  objects: number;
  keyId: string;
  publicKeySha256: string;
  signedAt: string;
}

export interface EvidenceReportInput {
  range: { from: string; to: string };
  generatedAt: string;
  /** In time order, as events.jsonl holds them. */
  events: readonly AuditEvent[];
  digests: readonly DigestSummary[];
  /** Exported events that no digest in the export lists (archived in an hour not digested yet). */
  uncoveredEvents: number;
  /** Recordings of the sessions, as exported; those whose SHA-256 is the event's are played, the others flagged. */
  recordings?: readonly ReportRecording[];
  /** The player's script and style (asciinema-player's bundle); without them, recordings show as transcripts only. */
  player?: PlayerAssets;
}

/** A session recording in the export. */
export interface ReportRecording {
  ref: SessionRecordingRef;
  /** The recording's bytes as exported, or undefined when the bucket had none. */
  bytes?: Uint8Array;
  /** Why the bytes are not the ones session.ended names (tampering), or undefined when they are. */
  mismatch?: string;
}

/** asciinema-player's browser bundle: `dist/bundle/asciinema-player.min.js` and `asciinema-player.css`. */
export interface PlayerAssets {
  /** A classic script that defines the global `AsciinemaPlayer` (with `create(source, element, options)`). */
  script: string;
  css: string;
  /** Shown in the report's footer, e.g. `asciinema-player 3.18.0`. */
  label?: string;
}

/** A request the relay forwarded under a grant. */
interface RelayRequestRow {
  at: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  status?: number;
  masked: number;
}

/** An exec/attach session under a grant. */
interface SessionRow {
  sessionId: string;
  startedAt?: string;
  endedAt?: string;
  what?: string;
  ended?: string;
  masked: number;
  lost?: boolean;
  recording?: SessionRecordingRef;
}

/** One access request as its events tell it. */
interface RequestStory {
  requestId: string;
  requestedAt: string;
  actor: AuditEvent['actor'];
  cluster: string;
  namespaces: string[];
  access?: string;
  durationSeconds?: number;
  purpose?: string;
  ticket?: string;
  rejected?: string;
  decision?: { effect: string; policies: string[]; reason: string; at: string };
  approvalGroups: string[];
  approvals: { approver: string; decision: string; channel?: string; reason?: string; at: string }[];
  approvalOutcome?: { status: string; at: string };
  grant?: { id: string; createdAt: string; expiresAt?: string };
  grantFailed?: string;
  tokens: { at: string; fingerprint?: string; expiresAt?: string }[];
  revoked?: { at: string; by: string; reason?: string; note?: string };
  /** Events under the grant other than its lifecycle (relay requests, sessions), by type. */
  activity: Map<string, number>;
  /** Masked values under the grant, by "path · detector". */
  masked: Map<string, number>;
  relayRequests: RelayRequestRow[];
  sessions: Map<string, SessionRow>;
}

/** Event types of a request's and a grant's own lifecycle; anything else under a grant is activity. */
const LIFECYCLE_TYPES = new Set([
  'access.requested',
  'access.rejected',
  'policy.decided',
  'approval.requested',
  'approval.decided',
  'approval.refused',
  'approval.concluded',
  'grant.created',
  'grant.failed',
  'token.issued',
  'token.refused',
  'grant.revoked',
  'revoke.refused',
  'request.read.refused',
  'masking.applied',
]);

const HIPAA_STANDARDS: { standard: string; name: string; artifacts: string }[] = [
  {
    standard: '§164.312(b)',
    name: 'Audit controls',
    artifacts:
      'events.jsonl: every request, decision, approval, grant, token, revocation and auditor read, recorded before the step it records; this report.',
  },
  {
    standard: '§164.308(a)(4)',
    name: 'Information access management: access authorization',
    artifacts:
      'policy.decided (the Cedar policies that permitted, required approval or forbade), approval.requested / approval.decided / approval.concluded (who approved, when, through which channel).',
  },
  {
    standard: '§164.312(a)(1)',
    name: 'Access control',
    artifacts:
      'grant.created (a time-bound grant for named namespaces at one access level), token.issued (15-minute credentials, fingerprints only), grant.revoked (access ended, early or at expiry), masking.applied.',
  },
  {
    standard: '§164.312(c)(1)',
    name: 'Integrity',
    artifacts:
      'The hash chain of every stream (chain.prev / chain.hash), the hourly digests signed with a KMS key (digests/), their public keys (digests/keys/), and manifest.json with the SHA-256 of every file. Check them with gatehouse audit verify --dir .',
  },
];

/**
 * Starts a player for each recording the page holds. Its text is hashed into the CSP, so it must stay one constant.
 * The recording is read from its data block, never from markup, so nothing in it is parsed as HTML.
 */
const PLAYER_BOOT = `for (const element of document.querySelectorAll('[data-cast]')) {
  const data = JSON.parse(document.getElementById(element.getAttribute('data-cast')).textContent);
  AsciinemaPlayer.create({ data: data }, element, { fit: 'width', idleTimeLimit: 2, terminalFontSize: '13px' });
}`;

/** The report as one HTML document. */
export function renderEvidenceReport(input: EvidenceReportInput): string {
  const stories = requestStories(input.events);
  const style = STYLE;
  const player = input.player ? checkedPlayer(input.player) : undefined;
  const styles = [style, ...(player ? [player.css] : [])];
  const scripts = player ? [player.script, PLAYER_BOOT] : [];
  const csp = [
    `default-src 'none'`,
    `style-src ${styles.map(hashSource).join(' ')}`,
    ...(player ? [`script-src ${scripts.map(hashSource).join(' ')} 'wasm-unsafe-eval'`] : []),
    `img-src data:`,
    `base-uri 'none'`,
    `form-action 'none'`,
  ].join('; ');
  const recordings = new Map((input.recordings ?? []).map((recording) => [recording.ref.key, recording]));
  const sessionCount = stories.reduce((n, s) => n + s.sessions.size, 0);
  const totals = {
    events: input.events.length,
    requests: stories.length,
    grants: stories.filter((s) => s.grant).length,
    approvals: stories.reduce((n, s) => n + s.approvals.filter((a) => a.decision === 'approve').length, 0),
    denials: stories.filter((s) => s.decision?.effect === 'forbid' || s.approvalOutcome?.status === 'denied').length,
    revocations: stories.filter((s) => s.revoked).length,
    tokens: stories.reduce((n, s) => n + s.tokens.length, 0),
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse evidence ${esc(input.range.from)} – ${esc(input.range.to)}</title>
<style>${style}</style>
${player ? `<style>${player.css}</style>` : ''}
</head>
<body>
<header>
<h1>Gatehouse access evidence</h1>
<p class="range">From <time>${esc(input.range.from)}</time> to <time>${esc(input.range.to)}</time> (UTC) · generated <time>${esc(input.generatedAt)}</time></p>
</header>
<main>
<section class="totals" aria-label="Totals">
${tile('Access requests', totals.requests, 'requests')}
${tile('Grants', totals.grants, 'grants')}
${tile('Approvals', totals.approvals, 'approvals')}
${tile('Denied', totals.denials, 'denials')}
${tile('Revoked or expired', totals.revocations, 'revocations')}
${tile('Tokens issued', totals.tokens, 'tokens')}
${tile('Sessions recorded', sessionCount, 'sessions')}
${tile('Events', totals.events, 'events')}
</section>
<section>
<h2>Access over time</h2>
${timeChart(stories, input.range)}
</section>
<section class="columns">
<div>
<h2>Access by cluster</h2>
${clusterChart(stories)}
</div>
<div>
<h2>Integrity</h2>
${coverageSection(input)}
</div>
</section>
<section>
<h2>By principal</h2>
${principalTable(stories)}
</section>
<section>
<h2>By cluster</h2>
${clusterTable(stories)}
</section>
<section>
<h2>Timeline of access requests</h2>
${stories.length === 0 ? '<p class="muted">No access was requested in this range.</p>' : stories.map((story) => storyCard(story, recordings, player !== undefined)).join('\n')}
</section>
<section>
<h2>HIPAA Security Rule mapping</h2>
<table class="hipaa"><thead><tr><th>Standard</th><th>What it requires</th><th>Evidence in this bundle</th></tr></thead><tbody>
${HIPAA_STANDARDS.map((h) => `<tr data-standard="${attr(h.standard)}"><td><strong>${esc(h.standard)}</strong></td><td>${esc(h.name)}</td><td>${esc(h.artifacts)}</td></tr>`).join('\n')}
</tbody></table>
</section>
<section>
<h2>All events by type</h2>
${typeTable(input.events)}
</section>
</main>
<footer>Generated by <code>gatehouse evidence</code>. Values that are secret or PHI never enter an event: tokens appear as fingerprints, masked values as paths, detectors and counts. Session recordings show what the agent was shown after masking, and what it typed.${player?.label ? ` Recordings play in ${esc(player.label)} (Apache-2.0), embedded.` : ''}</footer>
${scripts.map((script) => `<script>${script}</script>`).join('\n')}
</body>
</html>
`;
}

/** The access requests of the events, in the order they were made, each with what followed it. */
function requestStories(events: readonly AuditEvent[]): RequestStory[] {
  const byRequest = new Map<string, RequestStory>();
  const byGrant = new Map<string, RequestStory>();
  for (const event of events) {
    const details = event.details ?? {};
    if (event.type === 'access.requested' && event.requestId) {
      byRequest.set(event.requestId, {
        requestId: event.requestId,
        requestedAt: event.time,
        actor: event.actor,
        cluster: event.subject?.cluster ?? '(none)',
        namespaces: event.subject?.namespaces ?? [],
        access: str(details.access),
        durationSeconds: typeof details.durationSeconds === 'number' ? details.durationSeconds : undefined,
        purpose: str(details.purpose),
        ticket: str(details.ticket),
        approvalGroups: [],
        approvals: [],
        tokens: [],
        activity: new Map(),
        masked: new Map(),
        relayRequests: [],
        sessions: new Map(),
      });
      continue;
    }
    const story =
      (event.requestId ? byRequest.get(event.requestId) : undefined) ??
      (event.grantId ? byGrant.get(event.grantId) : undefined);
    if (!story) continue;
    // A string, not the union: relay and session types (masking.applied, relay.request, ...) join the union later.
    const type: string = event.type;
    switch (type) {
      case 'access.rejected':
        // A refusal by the configuration carries `{ kind, message }`; one of the body's parser, the error's name.
        story.rejected = str(details.problem) ?? str((details.problem as { message?: unknown })?.message) ?? 'rejected';
        break;
      case 'policy.decided':
        story.decision = {
          effect: str(details.effect) ?? 'unknown',
          policies: strings(details.policies),
          reason: str(details.reason) ?? '',
          at: event.time,
        };
        break;
      case 'approval.requested':
        story.approvalGroups = strings(details.groups);
        break;
      case 'approval.decided':
        story.approvals.push({
          approver: str(details.approverId) ?? event.actor.id,
          decision: str(details.decision) ?? 'unknown',
          channel: str(details.channel),
          reason: str(details.reason),
          at: event.time,
        });
        break;
      case 'approval.concluded':
        story.approvalOutcome = { status: str(details.status) ?? 'unknown', at: event.time };
        break;
      case 'grant.created':
        if (event.grantId) {
          story.grant = { id: event.grantId, createdAt: event.time, expiresAt: str(details.expiresAt) };
          byGrant.set(event.grantId, story);
        }
        break;
      case 'grant.failed':
        story.grantFailed = str(details.reason) ?? 'failed';
        break;
      case 'token.issued':
        story.tokens.push({ at: event.time, fingerprint: str(details.fingerprint), expiresAt: str(details.expiresAt) });
        break;
      case 'grant.revoked':
        story.revoked = { at: event.time, by: event.actor.id, reason: str(details.reason), note: str(details.note) };
        break;
      case 'masking.applied':
        for (const [what, count] of maskedCounts(details))
          story.masked.set(what, (story.masked.get(what) ?? 0) + count);
        break;
      case 'relay.request': {
        const masking = relayMasking(details.masking);
        for (const [what, count] of masking.entries) story.masked.set(what, (story.masked.get(what) ?? 0) + count);
        story.relayRequests.push({
          at: event.time,
          verb: str(details.verb) ?? str(details.method) ?? '?',
          resource:
            [str(details.resource), str(details.subresource)].filter(Boolean).join('/') ||
            str(details.path) ||
            event.subject?.resource ||
            '?',
          namespace: event.subject?.namespace,
          name: str(details.name),
          status: typeof details.status === 'number' ? details.status : undefined,
          masked: masking.total,
        });
        story.activity.set(event.type, (story.activity.get(event.type) ?? 0) + 1);
        break;
      }
      case 'session.started':
      case 'session.ended': {
        if (!event.sessionId) break;
        const session = story.sessions.get(event.sessionId) ?? { sessionId: event.sessionId, masked: 0 };
        story.sessions.set(event.sessionId, session);
        if (type === 'session.started') {
          session.startedAt = event.time;
          const command = strings(details.command)[0];
          session.what = `${str(details.subresource) ?? 'exec'} ${event.subject?.namespace ?? '?'}/${str(details.pod) ?? '?'}${str(details.container) ? ` (${str(details.container)})` : ''}${command ? ` ${command}` : ''}`;
        } else {
          session.endedAt = event.time;
          session.ended = str(details.ended);
          const masking = relayMasking(details.masking);
          // The same record comes again in the session's relay.request (status 101), which adds it to the grant's.
          session.masked = masking.total;
          const recording = details.recording as { lost?: unknown } | undefined;
          session.lost = recording?.lost === true;
          session.recording = sessionRecordings([event])[0];
        }
        story.activity.set(event.type, (story.activity.get(event.type) ?? 0) + 1);
        break;
      }
      default:
        if (event.grantId && !LIFECYCLE_TYPES.has(event.type)) {
          story.activity.set(event.type, (story.activity.get(event.type) ?? 0) + 1);
        }
    }
  }
  return [...byRequest.values()];
}

/**
 * Masked values of one `masking.applied` event as (path · detector, count): from `details.masked` entries
 * `{ path, detector, count }`, or one count for the event when it names none.
 */
function maskedCounts(details: Record<string, unknown>): [string, number][] {
  const entries = Array.isArray(details.masked) ? (details.masked as Record<string, unknown>[]) : [];
  const counts: [string, number][] = entries
    .filter((entry) => entry && typeof entry === 'object')
    .map((entry) => [
      `${str(entry.path) ?? '?'} · ${str(entry.detector) ?? str(entry.by) ?? '?'}`,
      typeof entry.count === 'number' ? entry.count : 1,
    ]);
  return counts.length > 0 ? counts : [['(unspecified)', 1]];
}

/**
 * The masking record of a relay.request or session.ended event, `{ total, entries: [{ path, by, count }] }`, as
 * (path · by, count) pairs and its total (the entries' sum when the total is missing).
 */
function relayMasking(value: unknown): { total: number; entries: [string, number][] } {
  if (!value || typeof value !== 'object') return { total: 0, entries: [] };
  const record = value as { total?: unknown; entries?: unknown };
  const entries: [string, number][] = (Array.isArray(record.entries) ? record.entries : [])
    .filter((entry): entry is Record<string, unknown> => entry !== null && typeof entry === 'object')
    .map((entry) => [
      `${str(entry.path) ?? '?'} · ${str(entry.by) ?? str(entry.detector) ?? '?'}`,
      typeof entry.count === 'number' && Number.isFinite(entry.count) ? entry.count : 1,
    ]);
  const sum = entries.reduce((n, [, count]) => n + count, 0);
  const total = typeof record.total === 'number' && Number.isFinite(record.total) ? record.total : sum;
  return { total, entries };
}

function outcomeOf(story: RequestStory): { label: string; tone: string } {
  if (story.rejected) return { label: 'rejected', tone: 'bad' };
  if (story.decision?.effect === 'forbid') return { label: 'denied by policy', tone: 'bad' };
  if (story.approvalOutcome && story.approvalOutcome.status !== 'approved') {
    return { label: `approval ${story.approvalOutcome.status}`, tone: 'bad' };
  }
  if (story.revoked) return { label: story.revoked.reason === 'expired' ? 'expired' : 'revoked', tone: 'done' };
  if (story.grant) return { label: 'granted', tone: 'good' };
  if (story.grantFailed) return { label: 'grant failed', tone: 'bad' };
  return { label: 'pending', tone: 'wait' };
}

function storyCard(story: RequestStory, recordings: Map<string, ReportRecording>, withPlayer: boolean): string {
  const outcome = outcomeOf(story);
  const ci = story.actor.ci
    ? Object.entries(story.actor.ci)
        .filter(([key]) => ['repository', 'workflow', 'ref', 'environment', 'actor', 'runId'].includes(key))
        .map(([key, value]) => `${key} ${value}`)
        .join(' · ')
    : '';
  const rows: string[] = [];
  const row = (label: string, html: string) => rows.push(`<dt>${esc(label)}</dt><dd>${html}</dd>`);
  row(
    'Who asked',
    `<code>${esc(story.actor.id)}</code>${story.actor.groups?.length ? ` <span class="muted">groups ${esc(story.actor.groups.join(', '))}</span>` : ''}${ci ? `<br><span class="muted">${esc(ci)}</span>` : ''}`,
  );
  row(
    'Access',
    `${esc(story.access ?? '?')} on <strong>${esc(story.cluster)}</strong> / ${esc(story.namespaces.join(', ') || '(none)')}${story.durationSeconds ? ` for ${esc(duration(story.durationSeconds))}` : ''}`,
  );
  row(
    'Why',
    `${esc(story.purpose ?? '(no purpose recorded)')}${story.ticket ? ` <span class="tag">${esc(story.ticket)}</span>` : ''}`,
  );
  if (story.rejected) row('Rejected', esc(story.rejected));
  if (story.decision) {
    row(
      'Policy',
      `<span class="tag ${story.decision.effect === 'forbid' ? 'bad' : 'good'}">${esc(story.decision.effect)}</span> ${story.decision.policies.map((p) => `<code>${esc(p)}</code>`).join(' ')}<br><span class="muted">${esc(story.decision.reason)}</span>`,
    );
  }
  if (story.approvalGroups.length > 0 || story.approvals.length > 0) {
    const decisions = story.approvals
      .map(
        (a) =>
          `<li data-approver="${attr(a.approver)}">${esc(a.approver)} <strong>${a.decision === 'approve' ? 'approved' : 'denied'}</strong> at ${timeHtml(a.at)}${a.channel ? ` via ${esc(a.channel)}` : ''}${a.reason ? ` — ${esc(a.reason)}` : ''}</li>`,
      )
      .join('');
    row(
      'Approval',
      `${story.approvalGroups.length ? `asked of ${esc(story.approvalGroups.join(', '))}` : ''}${decisions ? `<ul>${decisions}</ul>` : ' <span class="muted">no decision</span>'}${story.approvalOutcome ? `<span class="muted">${esc(story.approvalOutcome.status)} at ${timeHtml(story.approvalOutcome.at)}</span>` : ''}`,
    );
  }
  if (story.grant) {
    row(
      'Grant',
      `<code>${esc(story.grant.id)}</code> from ${timeHtml(story.grant.createdAt)} until ${story.grant.expiresAt ? timeHtml(story.grant.expiresAt) : '?'}`,
    );
  }
  if (story.grantFailed) row('Grant failed', esc(story.grantFailed));
  if (story.tokens.length > 0) {
    row(
      'Credentials',
      `${story.tokens.length} token${story.tokens.length === 1 ? '' : 's'} issued: ${story.tokens.map((t) => `${timeHtml(t.at)}${t.fingerprint ? ` <code class="muted">${esc(t.fingerprint)}</code>` : ''}`).join(', ')}`,
    );
  }
  if (story.activity.size > 0) {
    row('Done under it', [...story.activity].map(([type, n]) => `${esc(type)} × ${n}`).join(', '));
  }
  if (story.masked.size > 0) {
    row('Masked', [...story.masked].map(([what, n]) => `${esc(what)} × ${n}`).join(', '));
  }
  if (story.revoked) {
    row(
      'Ended',
      `${timeHtml(story.revoked.at)} by <code>${esc(story.revoked.by)}</code>${story.revoked.reason ? ` (${esc(story.revoked.reason)})` : ''}${story.revoked.note ? `: ${esc(story.revoked.note)}` : ''}`,
    );
  }
  const masked = [...story.masked.values()].reduce((n, count) => n + count, 0);
  return `<article class="story" data-request="${attr(story.requestId)}" data-principal="${attr(story.actor.id)}" data-cluster="${attr(story.cluster)}"${story.grant ? ` data-grant="${attr(story.grant.id)}"` : ''} data-masked="${masked}">
<h3><span class="tag ${outcome.tone}">${esc(outcome.label)}</span> ${timeHtml(story.requestedAt)} <code class="muted">${esc(story.requestId)}</code></h3>
<dl>${rows.join('')}</dl>
${relayRequestTable(story.relayRequests)}${[...story.sessions.values()].map((session) => sessionBlock(session, recordings, withPlayer)).join('\n')}
</article>`;
}

/** The requests the relay forwarded under a grant, in time order. */
function relayRequestTable(rows: readonly RelayRequestRow[]): string {
  if (rows.length === 0) return '';
  const body = rows
    .map(
      (r) =>
        `<tr data-relay-request data-status="${r.status ?? ''}" data-masked="${r.masked}"><td>${timeHtml(r.at)}</td><td>${esc(r.verb)}</td><td><code>${esc(r.resource)}</code></td><td>${esc(r.namespace ?? '')}</td><td>${esc(r.name ?? '')}</td><td>${r.status ?? ''}</td><td>${r.masked}</td></tr>`,
    )
    .join('');
  return `<table class="relay" data-table="relay-requests"><caption>Requests through the relay (${rows.length})</caption><thead><tr><th>Time</th><th>Verb</th><th>Resource</th><th>Namespace</th><th>Name</th><th>Status</th><th>Masked</th></tr></thead><tbody>${body}</tbody></table>\n`;
}

/**
 * A session: what it ran and how it ended, then its recording. A recording whose bytes are the event's plays in the
 * player (when embedded) from a JSON data block, with its output as a transcript beside it; one that is not is flagged
 * and neither played nor shown, since its content is not the evidence the event vouches for.
 */
function sessionBlock(session: SessionRow, recordings: Map<string, ReportRecording>, withPlayer: boolean): string {
  const exported = session.recording ? recordings.get(session.recording.key) : undefined;
  let state: 'verified' | 'tampered' | 'missing' | 'lost' | 'open';
  if (session.lost) state = 'lost';
  else if (!session.recording) state = session.endedAt ? 'lost' : 'open';
  else if (!exported?.bytes) state = 'missing';
  else state = exported.mismatch ? 'tampered' : 'verified';
  const head = `<h4>Session <code>${esc(session.sessionId)}</code> ${esc(session.what ?? '')}${session.startedAt ? ` from ${timeHtml(session.startedAt)}` : ''}${session.endedAt ? ` to ${timeHtml(session.endedAt)}` : ''}${session.ended ? ` · ${esc(session.ended)}` : ''} · ${session.masked} masked</h4>`;
  const note: Record<typeof state, string> = {
    verified: `<p class="muted">Recording <code>${esc(session.recording?.key ?? '')}</code>, SHA-256 <code>${esc(session.recording?.sha256 ?? '')}</code> as session.ended names it.</p>`,
    tampered: `<p class="tag bad" data-tampered>${esc(exported?.mismatch ?? '')}</p>`,
    missing: `<p class="tag bad">The recording <code>${esc(session.recording?.key ?? '')}</code> is not in this export: the audit bucket did not return it.</p>`,
    lost: '<p class="tag bad">The relay could not store this recording (session.ended says so).</p>',
    open: '<p class="muted">The session had not ended when this evidence was exported.</p>',
  };
  let content = '';
  if (state === 'verified') {
    const text = Buffer.from(exported!.bytes!).toString('utf8');
    const id = `cast-${session.sessionId}`;
    let transcript: string;
    try {
      transcript = terminalText(outputText(parseAsciicast(text)));
    } catch (error) {
      transcript = `(not an asciicast v2 recording: ${error instanceof Error ? error.message : 'unreadable'})`;
    }
    content = `${withPlayer ? `<div class="player" data-cast="${attr(id)}"></div>\n` : ''}<script type="application/json" id="${attr(id)}">${jsonData(text)}</script>
<details${withPlayer ? '' : ' open'}><summary>Transcript (output as shown, without timing)</summary><pre class="transcript">${esc(transcript)}</pre></details>`;
  }
  return `<section class="session" data-session="${attr(session.sessionId)}" data-recording-state="${state}">
${head}
${note[state]}
${content}
</section>`;
}

/** JSON for a data block: `<` escaped, so no `</script>` or `<!--` in a recording can end the block early. */
function jsonData(value: string): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * A terminal's output as plain text: escape sequences (CSI, OSC, and two-character ones; ECMA-48) and other control
 * characters removed, CRLF as a line end.
 */
function terminalText(output: string): string {
  return (
    output
      // eslint-disable-next-line no-control-regex -- the terminal's control characters are what is removed
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g, '')
      .replace(/\r+\n/g, '\n')
      // eslint-disable-next-line no-control-regex -- as above
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

/** The player's files, refused when one could end the element it is inlined in. */
function checkedPlayer(player: PlayerAssets): PlayerAssets {
  if (/<\/script|<!--/i.test(player.script)) throw new Error('the player script holds </script or <!--: not inlined');
  if (/<\/style/i.test(player.css)) throw new Error('the player style holds </style: not inlined');
  return player;
}

/** A CSP hash source for an inline element's exact text. */
function hashSource(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

interface Tally {
  requests: number;
  grants: number;
  approvals: number;
  denials: number;
  tokens: number;
}

function tally(stories: RequestStory[], keyOf: (story: RequestStory) => string): Map<string, Tally> {
  const tallies = new Map<string, Tally>();
  for (const story of stories) {
    const key = keyOf(story);
    const t = tallies.get(key) ?? { requests: 0, grants: 0, approvals: 0, denials: 0, tokens: 0 };
    t.requests += 1;
    if (story.grant) t.grants += 1;
    t.approvals += story.approvals.filter((a) => a.decision === 'approve').length;
    if (outcomeOf(story).tone === 'bad') t.denials += 1;
    t.tokens += story.tokens.length;
    tallies.set(key, t);
  }
  return new Map([...tallies].sort(([a, x], [b, y]) => y.requests - x.requests || (a < b ? -1 : 1)));
}

function tallyTable(name: string, attribute: string, tallies: Map<string, Tally>): string {
  if (tallies.size === 0) return '<p class="muted">None.</p>';
  const rows = [...tallies]
    .map(
      ([key, t]) =>
        `<tr data-${attribute}="${attr(key)}" data-requests="${t.requests}" data-grants="${t.grants}" data-approvals="${t.approvals}"><td><code>${esc(key)}</code></td><td>${t.requests}</td><td>${t.grants}</td><td>${t.approvals}</td><td>${t.denials}</td><td>${t.tokens}</td></tr>`,
    )
    .join('\n');
  return `<table data-table="${attribute}"><thead><tr><th>${esc(name)}</th><th>Requests</th><th>Grants</th><th>Approvals</th><th>Refused</th><th>Tokens</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function principalTable(stories: RequestStory[]): string {
  return tallyTable(
    'Principal',
    'principal',
    tally(stories, (s) => s.actor.id),
  );
}

function clusterTable(stories: RequestStory[]): string {
  return tallyTable(
    'Cluster',
    'cluster',
    tally(stories, (s) => s.cluster),
  );
}

function typeTable(events: readonly AuditEvent[]): string {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
  const rows = [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(
      ([type, n]) =>
        `<tr data-type="${attr(type)}" data-count="${n}"><td><code>${esc(type)}</code></td><td>${n}</td></tr>`,
    )
    .join('\n');
  return `<table><thead><tr><th>Event type</th><th>Count</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function coverageSection(input: EvidenceReportInput): string {
  const keys = new Map<string, number>();
  for (const digest of input.digests) keys.set(digest.publicKeySha256, (keys.get(digest.publicKeySha256) ?? 0) + 1);
  const first = input.digests[0]?.hour;
  const last = input.digests.at(-1)?.hour;
  const empty = input.digests.filter((digest) => digest.objects === 0).length;
  return `<p data-digests="${input.digests.length}">${input.digests.length} signed hourly digest${input.digests.length === 1 ? '' : 's'}${first ? `, ${timeHtml(first)} to ${timeHtml(last!)}` : ''}${empty ? ` (${empty} with nothing archived)` : ''}.</p>
<p data-uncovered="${input.uncoveredEvents}">${input.uncoveredEvents === 0 ? 'Every event in this bundle is listed in a digest.' : `${input.uncoveredEvents} event(s) were archived in an hour not digested yet; export again later to cover them.`}</p>
<p>Signed by:</p><ul>${[...keys].map(([sha, n]) => `<li><code title="SHA-256 of the public key (DER)">${esc(sha.slice(0, 16))}…${esc(sha.slice(-8))}</code> (${n} digest${n === 1 ? '' : 's'})</li>`).join('') || '<li class="muted">no digest</li>'}</ul>
<p>To verify every digest signature and link, every event against its digest and every stream's hash chain, run in this directory:</p>
<pre>gatehouse audit verify --dir .</pre>`;
}

/** Requests and grants per time bucket (hours for ranges up to two days, days beyond). */
function timeChart(stories: RequestStory[], range: { from: string; to: string }): string {
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  const hourly = to - from <= 2 * DAY_MS;
  const bucketMs = hourly ? HOUR_MS : DAY_MS;
  const start = Math.floor(from / bucketMs) * bucketMs;
  const count = Math.max(1, Math.ceil((to - start) / bucketMs));
  const requests = new Array<number>(count).fill(0);
  const grants = new Array<number>(count).fill(0);
  const bucket = (time: string) => Math.min(count - 1, Math.max(0, Math.floor((Date.parse(time) - start) / bucketMs)));
  for (const story of stories) {
    requests[bucket(story.requestedAt)]! += 1;
    if (story.grant) grants[bucket(story.grant.createdAt)]! += 1;
  }
  const width = 960;
  const height = 220;
  const left = 36;
  const bottom = 28;
  const plotHeight = height - bottom - 12;
  const max = Math.max(1, ...requests, ...grants);
  const slot = (width - left - 8) / count;
  // Thin bars for many buckets, and no wall of colour for a range of one or two.
  const barWidth = Math.min(28, Math.max(1, slot / 2 - 1));
  const y = (value: number) => 12 + plotHeight - (value / max) * plotHeight;
  const bars = requests
    .map((value, index) => {
      const x = left + index * slot;
      const label = new Date(start + index * bucketMs).toISOString().slice(0, hourly ? 13 : 10);
      return `<g data-bucket="${attr(label)}" data-requests="${value}" data-grants="${grants[index]}"><title>${esc(label)}: ${value} requested, ${grants[index]} granted</title><rect x="${num(x)}" y="${num(y(value))}" width="${num(barWidth)}" height="${num(y(0) - y(value))}" fill="#3b6ea5"/><rect x="${num(x + barWidth + 1)}" y="${num(y(grants[index]!))}" width="${num(barWidth)}" height="${num(y(0) - y(grants[index]!))}" fill="#3a9a5b"/></g>`;
    })
    .join('');
  const tickEvery = Math.max(1, Math.ceil(count / 8));
  const ticks = requests
    .map((_, index) =>
      index % tickEvery === 0
        ? `<text x="${num(left + index * slot)}" y="${height - 8}" font-size="11" fill="#555">${esc(
            new Date(start + index * bucketMs)
              .toISOString()
              .slice(hourly ? 5 : 0, hourly ? 13 : 10)
              .replace('T', ' '),
          )}${hourly ? 'h' : ''}</text>`
        : '',
    )
    .join('');
  return `<svg data-chart="access-over-time" role="img" aria-labelledby="chart-time-title" viewBox="0 0 ${width} ${height}" width="100%">
<title id="chart-time-title">Access requested (blue) and granted (green) per ${hourly ? 'hour' : 'day'}</title>
<line x1="${left}" y1="${num(y(0))}" x2="${width - 8}" y2="${num(y(0))}" stroke="#999"/>
<text x="4" y="${num(y(max) + 4)}" font-size="11" fill="#555">${max}</text><text x="4" y="${num(y(0))}" font-size="11" fill="#555">0</text>
${bars}${ticks}
</svg>
<p class="legend"><span class="swatch requests"></span> requested <span class="swatch grants"></span> granted, per ${hourly ? 'hour' : 'day'} (UTC)</p>`;
}

function clusterChart(stories: RequestStory[]): string {
  const tallies = [...tally(stories, (s) => s.cluster)];
  if (tallies.length === 0)
    return '<svg data-chart="access-by-cluster" role="img" viewBox="0 0 10 10" width="0" height="0"><title>No access requested</title></svg><p class="muted">No access was requested.</p>';
  const width = 460;
  const rowHeight = 26;
  const height = tallies.length * rowHeight + 8;
  const label = 120;
  const max = Math.max(1, ...tallies.map(([, t]) => t.requests));
  const scale = (value: number) => (value / max) * (width - label - 40);
  const rows = tallies
    .map(([cluster, t], index) => {
      const y = 4 + index * rowHeight;
      return `<g data-cluster="${attr(cluster)}" data-requests="${t.requests}" data-grants="${t.grants}"><title>${esc(cluster)}: ${t.requests} requested, ${t.grants} granted</title><text x="0" y="${y + 16}" font-size="12" fill="#222">${esc(cluster.length > 16 ? `${cluster.slice(0, 15)}…` : cluster)}</text><rect x="${label}" y="${y + 3}" width="${num(scale(t.requests))}" height="9" fill="#3b6ea5"/><rect x="${label}" y="${y + 13}" width="${num(scale(t.grants))}" height="9" fill="#3a9a5b"/><text x="${num(label + scale(t.requests) + 6)}" y="${y + 13}" font-size="11" fill="#555">${t.requests}</text></g>`;
    })
    .join('');
  return `<svg data-chart="access-by-cluster" role="img" aria-labelledby="chart-cluster-title" viewBox="0 0 ${width} ${height}" width="100%">
<title id="chart-cluster-title">Access requested (blue) and granted (green) per cluster</title>
${rows}
</svg>`;
}

function tile(label: string, value: number, key: string): string {
  return `<div class="tile"><span class="value" data-count="${attr(key)}">${value}</span><span class="label">${esc(label)}</span></div>`;
}

function timeHtml(iso: string): string {
  return `<time datetime="${attr(iso)}">${esc(iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z'))}</time>`;
}

function duration(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** Text content: the five characters HTML gives meaning to. */
function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Attribute values are quoted with `"` and escaped as text is. */
const attr = esc;

const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f5f6f8}
body{margin:0}header{background:#1f3550;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:24px}
.range{margin:0;opacity:.85}main{padding:16px 32px;max-width:1200px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 20px;margin:16px 0}
h2{font-size:18px;margin:4px 0 12px}h3{font-size:14px;margin:0 0 8px;font-weight:600}
.totals{display:flex;flex-wrap:wrap;gap:12px}.tile{flex:1 1 120px;border:1px solid #e3e7ed;border-radius:6px;padding:10px 12px}
.tile .value{display:block;font-size:28px;font-weight:700}.tile .label{color:#555;font-size:13px}
.columns{display:grid;grid-template-columns:1fr 1fr;gap:24px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{background:#f0f2f5}td:nth-child(n+2){font-variant-numeric:tabular-nums}
.story{border-left:4px solid #3b6ea5;padding:8px 12px;margin:10px 0;background:#fafbfc}
dl{display:grid;grid-template-columns:140px 1fr;gap:4px 12px;margin:0;font-size:13px}dt{color:#555}dd{margin:0}dd ul{margin:2px 0;padding-left:18px}
.tag{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#e8edf3}
.tag.good{background:#dcf1e3;color:#1d6b39}.tag.bad{background:#f8dede;color:#8a1f1f}.tag.done{background:#e6e6ef;color:#3a3a5a}.tag.wait{background:#fff2cc;color:#7a5b00}
.muted{color:#6b7380}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
pre{background:#1f3550;color:#fff;padding:8px 12px;border-radius:6px}
.legend{font-size:12px;color:#555}.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
.swatch.requests{background:#3b6ea5}.swatch.grants{background:#3a9a5b}
footer{padding:8px 32px 24px;color:#6b7380;font-size:12px}
table.relay{margin:10px 0}caption{text-align:left;font-weight:600;font-size:13px;padding:4px 0}
.session{border:1px solid #dde1e7;border-radius:6px;padding:8px 12px;margin:10px 0;background:#fff}
.session h4{font-size:13px;margin:0 0 6px;font-weight:600}.player{max-width:900px;margin:6px 0}
pre.transcript{background:#11161d;color:#e6e6e6;max-height:320px;overflow:auto;white-space:pre-wrap;font-size:12px}
@media print{body{background:#fff}section{break-inside:avoid}}
`;
