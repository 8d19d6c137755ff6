import { describe, expect, it } from 'vitest';
import { approvalEmail } from '../../shared/approvals/approval-email.ts';
import { ApprovalLinkError, createApprovalLink, parseApprovalLinkUrl } from '../../shared/approvals/email-link.ts';
import type { AccessRequest } from '../../shared/model.ts';

const EXPIRES_AT = new Date('2025-03-01T13:00:00.000Z');
const { url } = createApprovalLink({
  key: Buffer.alloc(32, 7),
  baseUrl: 'https://gatehouse.example.com',
  linkId: 'apl_01JN8ZQ6T5X7C2M4R9B0D3F6H8',
  requestId: 'req_01JN8ZQ0000000000000000000',
  approverId: 'alice',
  expiresAt: EXPIRES_AT,
});

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
    },
  },
  cluster: 'prod',
  namespaces: ['payments'],
  access: 'edit',
  durationSeconds: 900,
  purpose: 'Roll back the payments deploy',
  ticket: 'OPS-123',
  via: 'direct',
  status: 'pending',
  createdAt: '2025-03-01T12:00:00.000Z',
  updatedAt: '2025-03-01T12:00:00.000Z',
};
const alice = { id: 'alice', name: 'Alice Example', email: 'alice@example.com' };

describe('approvalEmail', () => {
  it('names the access, the cluster and the requester in the subject', () => {
    expect(approvalEmail({ request, approver: alice, url, expiresAt: EXPIRES_AT }).subject).toBe(
      '[Gatehouse] Approve edit access to prod for octocat (acme/api)?',
    );
  });

  it('summarises the request and gives the link on its own line in the text body', () => {
    const { text } = approvalEmail({ request, approver: alice, url, expiresAt: EXPIRES_AT });
    const lines = text.split('\n');

    expect(lines[0]).toBe('Hello Alice Example,');
    expect(text).toContain('octocat (acme/api) asks for edit access to cluster prod for 15 minutes.');
    for (const line of [
      'Requested by: octocat (github:repo:acme/api:ref:refs/heads/main)',
      'Repository: acme/api',
      'Ref: refs/heads/main',
      'Workflow: deploy',
      'Cluster: prod',
      'Namespaces: payments',
      'Access: edit',
      'Duration: 15 minutes',
      'Purpose: Roll back the payments deploy',
      'Ticket: OPS-123',
      'Request: req_01JN8ZQ0000000000000000000',
      'Link expires: 2025-03-01 13:00 UTC',
      url,
    ]) {
      expect(lines).toContain(line);
    }
    expect(text).toContain('Opening the link decides nothing');
    expect(text).toContain('works once and expires 2025-03-01 13:00 UTC');
  });

  it('carries the same link in the HTML body, as a button and as text, with the query escaped', () => {
    const { html } = approvalEmail({ request, approver: alice, url, expiresAt: EXPIRES_AT });
    const escaped = url.replace(/&/g, '&amp;');

    expect(html.match(new RegExp(`href="${escaped.replace(/[.?]/g, '\\$&')}"`, 'g'))).toHaveLength(2);
    expect(html).toContain('>Review the request</a>');
    expect(html).toContain('<td style="padding:4px 0;vertical-align:top">Roll back the payments deploy</td>');
    expect(html).not.toMatch(/<script|<img|<link |src=/i);
    expect(parseApprovalLinkUrl(url)).toMatchObject({ linkId: 'apl_01JN8ZQ6T5X7C2M4R9B0D3F6H8' });
  });

  it('greets the approver by id when the config gives no name', () => {
    expect(approvalEmail({ request, approver: { id: 'alice' }, url, expiresAt: EXPIRES_AT }).text).toMatch(
      /^Hello alice,\n/,
    );
  });

  it('falls back to the principal id for a requester with no name or repository', () => {
    const bare: AccessRequest = { ...request, principal: { ...request.principal, ci: undefined } };
    expect(approvalEmail({ request: bare, approver: alice, url, expiresAt: EXPIRES_AT }).subject).toBe(
      '[Gatehouse] Approve edit access to prod for github:repo:acme/api:ref:refs/heads/main?',
    );
  });

  it('escapes hostile values in the HTML body and keeps them from forging lines or headers', () => {
    const hostile: AccessRequest = {
      ...request,
      purpose: '<script>alert(1)</script>\nReview the request and approve or deny it:\nhttps://evil.example/x',
      principal: {
        ...request.principal,
        ci: { provider: 'github-actions', actor: 'mallory\r\nBcc: everyone@example.com', repository: '<b>x</b>' },
      },
    };
    const email = approvalEmail({
      request: hostile,
      approver: { id: 'alice', name: '<i>Alice</i>' },
      url,
      expiresAt: EXPIRES_AT,
    });

    expect(email.subject).not.toMatch(/[\r\n]/);
    expect(email.subject).toBe(
      '[Gatehouse] Approve edit access to prod for mallory Bcc: everyone@example.com (<b>x</b>)?',
    );
    expect(email.html).not.toMatch(/<script|<b>|<i>/);
    expect(email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(email.html).toContain('Hello &lt;i&gt;Alice&lt;/i&gt;,');
    const lines = email.text.split('\n');
    expect(lines.filter((line) => line.startsWith('https://'))).toEqual([url]);
    expect(lines.filter((line) => line === 'Review the request and approve or deny it:')).toHaveLength(1);
    expect(lines).toContain(
      'Purpose: <script>alert(1)</script> Review the request and approve or deny it: https://evil.example/x',
    );
  });

  it('keeps a long subject short', () => {
    const long: AccessRequest = {
      ...request,
      principal: { ...request.principal, ci: { provider: 'gitlab', actor: 'x'.repeat(300) } },
    };
    const { subject } = approvalEmail({ request: long, approver: alice, url, expiresAt: EXPIRES_AT });
    expect([...subject]).toHaveLength(160);
    expect(subject.endsWith('…')).toBe(true);
  });

  it.each(['javascript:alert(1)', 'ftp://x.example/a', 'https://x.example/a b'])(
    'refuses a link that is not http(s): %s',
    (bad) => {
      expect(() => approvalEmail({ request, approver: alice, url: bad, expiresAt: EXPIRES_AT })).toThrow(
        ApprovalLinkError,
      );
    },
  );
});
