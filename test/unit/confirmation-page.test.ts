import { describe, expect, it } from 'vitest';
import {
  APPROVAL_PAGE_HEADERS,
  DECISION_REASON_MAX_LENGTH,
  RESULT_PAGES,
  confirmationPage,
  escapeHtml,
  formatDuration,
  formatInstant,
  parseDecisionForm,
  resultPage,
  summarizeRequest,
} from '../../shared/approvals/confirmation-page.ts';
import type { ResultKind } from '../../shared/approvals/confirmation-page.ts';
import { ApprovalLinkError } from '../../shared/approvals/email-link.ts';
import type { AccessRequest } from '../../shared/model.ts';

const ACTION = '/v1/approvals/apl_01JN8ZQ6T5X7C2M4R9B0D3F6H8?t=1740834000.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ';

const request: AccessRequest = {
  id: 'req_01JN8ZQ0000000000000000000',
  principal: {
    id: 'github:repo:acme/api:ref:refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
    issuerName: 'github',
    subject: 'repo:acme/api:ref:refs/heads/main',
    groups: ['ci'],
    ci: {
      provider: 'github-actions',
      repository: 'acme/api',
      ref: 'refs/heads/main',
      workflow: 'deploy',
      actor: 'octocat',
      runId: '42',
    },
  },
  cluster: 'prod',
  namespaces: ['payments', 'web'],
  access: 'edit',
  durationSeconds: 5400,
  purpose: 'Roll back the payments deploy',
  ticket: 'OPS-123',
  via: 'direct',
  status: 'pending',
  createdAt: '2025-03-01T12:00:00.000Z',
  updatedAt: '2025-03-01T12:00:00.000Z',
};
const EXPIRES_AT = '2025-03-01T13:00:00.000Z';

/** The text a person sees: tags dropped, entities decoded, whitespace collapsed. */
function visibleText(html: string): string {
  const body = html.slice(html.indexOf('<body>'));
  return body
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('summarizeRequest', () => {
  it('takes who, where and what from the request and the CI claims', () => {
    expect(summarizeRequest(request, new Date(EXPIRES_AT))).toEqual({
      requestId: request.id,
      requester: 'github:repo:acme/api:ref:refs/heads/main',
      requesterName: 'octocat',
      ciProvider: 'github-actions',
      repository: 'acme/api',
      ref: 'refs/heads/main',
      workflow: 'deploy',
      runId: '42',
      cluster: 'prod',
      namespaces: ['payments', 'web'],
      access: 'edit',
      durationSeconds: 5400,
      purpose: 'Roll back the payments deploy',
      ticket: 'OPS-123',
      expiresAt: EXPIRES_AT,
    });
  });

  it('leaves out what a non-CI request does not have, and names a person by email', () => {
    const human: AccessRequest = {
      ...request,
      ticket: undefined,
      principal: { ...request.principal, ci: undefined, email: 'dev@example.com' },
    };
    const summary = summarizeRequest(human, EXPIRES_AT);

    expect(summary.requesterName).toBe('dev@example.com');
    expect(summary).not.toHaveProperty('repository');
    expect(summary).not.toHaveProperty('ticket');
    expect(summary).not.toHaveProperty('ciProvider');
  });
});

describe('confirmationPage', () => {
  const html = confirmationPage({
    request: summarizeRequest(request, EXPIRES_AT),
    approverName: 'Alice Example',
    action: ACTION,
  });

  it('shows the request: who, repository, ref, workflow, cluster, namespaces, access, duration, purpose, ticket, expiry', () => {
    const text = visibleText(html);
    for (const expected of [
      'Approve edit access to prod?',
      'This link was sent to Alice Example',
      'Requested by octocat (github:repo:acme/api:ref:refs/heads/main)',
      'Repository acme/api',
      'Ref refs/heads/main',
      'Workflow deploy',
      'Run 42',
      'Cluster prod',
      'Namespaces payments, web',
      'Access edit',
      'Duration 1 hour 30 minutes',
      'Purpose Roll back the payments deploy',
      'Ticket OPS-123',
      `Request ${request.id}`,
      'Link expires 2025-03-01 13:00 UTC',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('posts Approve or Deny with an optional reason to the same link, by the button pressed', () => {
    expect(html).toContain(`<form method="post" action="${ACTION}">`);
    expect(html).toContain('<button type="submit" name="decision" value="approve" class="approve">Approve</button>');
    expect(html).toContain('<button type="submit" name="decision" value="deny" class="deny">Deny</button>');
    expect(html).toMatch(/<textarea id="reason" name="reason"[^>]*maxlength="500"/);
    expect(html.match(/<form /g)).toHaveLength(1);
    expect(html).not.toMatch(/method="get"/i);
  });

  it('works on a phone with nothing loaded from elsewhere: viewport, inline CSS, system fonts, a strict CSP', () => {
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'">`,
    );
    expect(html).toContain('font: 16px/1.5 system-ui');
    expect(html).toMatch(/button \{[^}]*min-height: 56px/);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|@import|url\(/i);
    expect(html).not.toMatch(/nonce/);
  });

  it('escapes every interpolated value: a <script> in the purpose stays text', () => {
    const hostile = confirmationPage({
      request: summarizeRequest(
        {
          ...request,
          purpose: '<script>alert(1)</script>',
          ticket: '"><img src=x onerror=alert(2)>',
          namespaces: ["a'b", 'c&d'],
          principal: { ...request.principal, ci: { provider: 'github-actions', actor: '<b>mallory</b>' } },
        },
        EXPIRES_AT,
      ),
      approverName: '<i>Alice</i>',
      action: '/v1/approvals/x?t=1"><script>alert(3)</script>',
    });

    expect(hostile).not.toMatch(/<script|<img|<b>|<i>/);
    expect(hostile).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(hostile).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(hostile).toContain('a&#39;b, c&amp;d');
    expect(hostile).toContain('&lt;i&gt;Alice&lt;/i&gt;');
    expect(hostile).toContain('action="/v1/approvals/x?t=1&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"');
    expect(visibleText(hostile)).toContain('Purpose <script>alert(1)</script>');
  });

  it.each(['javascript:alert(1)', '//evil.example/steal', '/\\evil.example', 'data:text/html,x'])(
    'refuses a form action that could post elsewhere: %s',
    (action) => {
      expect(() =>
        confirmationPage({ request: summarizeRequest(request, EXPIRES_AT), approverName: 'Alice', action }),
      ).toThrow(ApprovalLinkError);
    },
  );

  it('accepts an absolute https action', () => {
    const page = confirmationPage({
      request: summarizeRequest(request, EXPIRES_AT),
      approverName: 'Alice',
      action: `https://gatehouse.example.com${ACTION}`,
    });
    expect(page).toContain(`action="https://gatehouse.example.com${ACTION}"`);
  });
});

describe('resultPage', () => {
  const sentences: Record<ResultKind, RegExp> = {
    approved: /You approved this request/,
    denied: /You denied this request/,
    'already-used': /already been used.*works once/,
    expired: /has expired/,
    invalid: /not valid.*altered/,
    'not-your-link': /sent to another approver, or the request is your own/,
    'already-decided': /already been decided/,
    closed: /no longer waiting for approval/,
  };

  it.each(Object.entries(sentences) as [ResultKind, RegExp][])('says plainly what happened: %s', (kind, sentence) => {
    const html = resultPage({ kind });

    expect(visibleText(html)).toMatch(sentence);
    expect(html).toContain(`<title>${RESULT_PAGES[kind].title} · Gatehouse</title>`);
    expect(html).not.toMatch(/<form|<script/);
  });

  it('gives each outcome its own sentence and an HTTP status (2xx only for a decision taken)', () => {
    const all = Object.values(RESULT_PAGES);
    expect(new Set(all.map((page) => page.sentence)).size).toBe(8);
    expect(RESULT_PAGES.approved.status).toBe(200);
    expect(RESULT_PAGES.denied.status).toBe(200);
    for (const kind of ['already-used', 'expired', 'invalid', 'not-your-link', 'already-decided', 'closed'] as const) {
      expect(RESULT_PAGES[kind].status).toBeGreaterThanOrEqual(400);
    }
  });

  it('shows an escaped detail line', () => {
    const html = resultPage({ kind: 'denied', detail: 'Reason: <script>x</script>' });
    expect(html).toContain('<p class="detail">Reason: &lt;script&gt;x&lt;/script&gt;</p>');
  });
});

describe('APPROVAL_PAGE_HEADERS', () => {
  it('sends HTML that is never cached, never framed and never leaks the tokened URL as a referrer', () => {
    expect(APPROVAL_PAGE_HEADERS).toEqual({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    });
  });
});

describe('parseDecisionForm', () => {
  it('reads approve and deny, with a trimmed reason when one is given', () => {
    expect(parseDecisionForm('decision=approve&reason=')).toEqual({ ok: true, decision: 'approve' });
    expect(parseDecisionForm('decision=deny&reason=++not+today%0D%0Asorry++')).toEqual({
      ok: true,
      decision: 'deny',
      reason: 'not today\nsorry',
    });
  });

  it('drops control characters from the reason', () => {
    expect(parseDecisionForm('decision=approve&reason=ok%00%1B%5B31m')).toEqual({
      ok: true,
      decision: 'approve',
      reason: 'ok[31m',
    });
  });

  it.each([
    ['no decision (a form submitted without pressing a button)', 'reason=hi'],
    ['an empty body', ''],
    ['an unknown decision', 'decision=maybe'],
    ['two decisions', 'decision=approve&decision=deny'],
    ['two reasons', 'decision=approve&reason=a&reason=b'],
    ['a reason that is too long', `decision=deny&reason=${'x'.repeat(DECISION_REASON_MAX_LENGTH + 1)}`],
  ])('refuses %s', (_name, body) => {
    expect(parseDecisionForm(body)).toMatchObject({ ok: false });
  });
});

describe('formatting helpers', () => {
  it('formats durations in words', () => {
    expect(formatDuration(900)).toBe('15 minutes');
    expect(formatDuration(3600)).toBe('1 hour');
    expect(formatDuration(3661)).toBe('1 hour 1 minute 1 second');
    expect(formatDuration(0)).toBe('0 seconds');
  });

  it('formats instants in UTC, and shows an unreadable one as it is', () => {
    expect(formatInstant('2025-03-01T14:05:00+01:00')).toBe('2025-03-01 13:05 UTC');
    expect(formatInstant('soon')).toBe('soon');
  });

  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});
