/**
 * Email approvals end to end: SES (on aws-sdk-client-mock) is asked to send each member of `sre` a signed link; the test
 * follows the link from the sent message with a real HTTP client against the local runtime, as a phone would: GET shows
 * the confirmation page and decides nothing, the page's form POSTs the decision, and the link then works no more.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as pageHandler } from '../../functions/approval-link-page.ts';
import { lambdaContext } from '../../local/api-server.ts';
import {
  SENDER,
  SENSITIVE_BODY,
  SRE_CHANNEL,
  eventually,
  startApprovalLocal,
  typesOf,
  type ApprovalTestLocal,
  type SentEmail,
} from '../support/approvals.ts';

let t: ApprovalTestLocal;

beforeAll(async () => {
  t = await startApprovalLocal();
});

afterAll(async () => {
  await t?.stop();
});

/** A pending `dev/sensitive` request and the approval emails sent for it, by recipient. */
async function pendingWithEmails(token: string) {
  const pending = await t.requestPending(token, SENSITIVE_BODY);
  const emails = await eventually(async () => {
    const sent = t.emails().filter((email) => email.text.includes(pending.id));
    return sent.length === 2 ? sent : undefined;
  });
  const to = (address: string) => emails.find((email) => email.to === address)!;
  return { id: pending.id, emails, alice: to('alice@example.org'), bob: to('bob@example.org') };
}

/** GET the link as a browser does. */
function open(path: string) {
  return t.call('GET', path);
}

/** The confirmation page's form action, as the browser would read it. */
function formAction(html: string): string {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error('the page has no decision form');
  return action.replaceAll('&amp;', '&');
}

/** Press a button of the confirmation form. */
function press(action: string, decision: string, reason?: string) {
  return t.call('POST', action, {
    rawBody: new URLSearchParams({ decision, ...(reason ? { reason } : {}) }).toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
}

function heading(html: string): string {
  return /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1] ?? '';
}

/** A link path with one character of the token's MAC changed (still well-formed base64url of 32 bytes). */
function tamper(email: SentEmail): string {
  const [exp, mac] = email.link.token.split('.') as [string, string];
  const first = mac[0] === 'A' ? 'B' : 'A';
  return `/v1/approvals/${email.link.linkId}?t=${exp}.${first}${mac.slice(1)}`;
}

describe('approval emails', () => {
  it('sends each sre member one message from the configured sender, with a link to this API and nothing for carol', async () => {
    const token = await t.token('ci:email-sent');

    const { id, emails } = await pendingWithEmails(token);

    expect(emails.map((email) => email.to).sort()).toEqual(['alice@example.org', 'bob@example.org']);
    for (const email of emails) {
      expect(email.from).toBe(SENDER);
      expect(email.subject).toMatch(/^\[Gatehouse\] Approve view access to dev/);
      expect(email.link.url.startsWith(`${t.apiUrl}/v1/approvals/apl_`)).toBe(true);
      expect(email.html).toContain(email.link.url.replaceAll('&', '&amp;'));
    }
    expect(emails[0]!.link.linkId).not.toBe(emails[1]!.link.linkId);
    expect(t.emails().filter((email) => email.text.includes(id) && email.to === 'carol@example.org')).toEqual([]);
  });

  it('GET of the link answers 200 with the confirmation page and decides nothing', async () => {
    const token = await t.token('ci:email-get');
    const { id, alice } = await pendingWithEmails(token);

    const page = await open(alice.link.path);
    const again = await open(alice.link.path);

    expect(page.status, page.text).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('This link was sent to <strong>alice</strong>');
    expect(page.text).toContain('name="decision" value="approve"');
    expect(page.text).toContain('name="decision" value="deny"');
    expect(again.status).toBe(200);
    const state = await t.poll(id, token, 0);
    expect(state.status).toBe('pending');
    expect(state.approval).toMatchObject({ status: 'pending', decisions: [] });
    expect(typesOf(await t.events(`request/${id}`))).not.toContain('approval.decided');
  });

  it('posts the form back to the path the browser used, API Gateway stage included', async () => {
    const token = await t.token('ci:email-stage');
    const { alice } = await pendingWithEmails(token);
    const [path, query] = alice.link.path.split('?') as [string, string];

    const response = await pageHandler(
      {
        path,
        httpMethod: 'GET',
        headers: {},
        pathParameters: { approvalId: alice.link.linkId },
        queryStringParameters: Object.fromEntries(new URLSearchParams(query)),
        requestContext: { path: `/live${path}` },
        body: null,
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyEvent,
      lambdaContext('approval-link-page'),
      { signal: new AbortController().signal },
    );

    expect(response?.statusCode).toBe(200);
    expect(formAction(response?.body ?? '')).toBe(`/live${alice.link.path}`);
  });

  it('POST decision=approve from the page answers the approved page, grants the request and updates Slack', async () => {
    const token = await t.token('ci:email-approve');
    const { id, alice } = await pendingWithEmails(token);
    const action = formAction((await open(alice.link.path)).text);

    const result = await press(action, 'approve', 'looked at the ticket');

    expect(result.status, result.text).toBe(200);
    expect(heading(result.text)).toMatch(/approved/i);
    const settled = await t.poll(id, token);
    expect(settled.status).toBe('granted');
    expect(settled.approval).toMatchObject({
      status: 'approved',
      decisions: [{ approverId: 'alice', decision: 'approve', channel: 'email', reason: 'looked at the ticket' }],
    });
    const post = t.slack.postFor(id, SRE_CHANNEL)!;
    await eventually(async () => t.slack.callsOf('chat.update', SRE_CHANNEL).find((c) => c.ts === post.ts));
  });

  it('POST decision=deny with a reason answers the denied page and ends the request denied without a grant', async () => {
    const token = await t.token('ci:email-deny');
    const { id, bob } = await pendingWithEmails(token);

    const result = await press(bob.link.path, 'deny', 'no ticket for this');

    expect(result.status, result.text).toBe(200);
    expect(heading(result.text)).toMatch(/denied/i);
    const settled = await t.poll(id, token);
    expect(settled.status).toBe('denied');
    expect(settled.approval?.decisions).toMatchObject([
      { approverId: 'bob', decision: 'deny', reason: 'no ticket for this' },
    ]);
    expect(settled.grant).toBeUndefined();
  });
});

describe('approval links that decide nothing', () => {
  it('a used link answers 409 on GET and on POST, records link-already-used, and changes nothing', async () => {
    const token = await t.token('ci:email-reuse');
    const { id, alice } = await pendingWithEmails(token);
    await press(alice.link.path, 'approve');
    await t.poll(id, token);

    const get = await open(alice.link.path);
    const post = await press(alice.link.path, 'deny');

    expect(get.status).toBe(409);
    expect(post.status).toBe(409);
    expect(heading(post.text)).toBe('Link already used');
    const settled = await t.poll(id, token, 0);
    expect(settled.approval?.decisions).toHaveLength(1);
    expect(settled.status).toBe('granted');
    const refusals = (await t.events(`request/${id}`)).filter((e) => e.type === 'approval.refused');
    expect(refusals.map((e) => e.details?.reason)).toEqual(['link-already-used', 'link-already-used']);
    expect(JSON.stringify(refusals)).not.toContain(alice.link.token);
  });

  it('a tampered token answers 400 on GET and on POST and decides nothing', async () => {
    const token = await t.token('ci:email-tamper');
    const { id, alice } = await pendingWithEmails(token);
    const stretched = alice.link.path.replace(/t=(\d+)\./, (_m, exp: string) => `t=${Number(exp) + 3600}.`);

    const responses = [
      await open(tamper(alice)),
      await press(tamper(alice), 'approve'),
      await press(stretched, 'approve'),
    ];

    expect(responses.map((r) => r.status)).toEqual([400, 400, 400]);
    expect(heading(responses[1]!.text)).toBe('Link not valid');
    expect((await t.poll(id, token, 0)).approval).toMatchObject({ status: 'pending', decisions: [] });
    // The genuine link still works: a failed attempt does not use it up.
    expect((await open(alice.link.path)).status).toBe(200);
  });

  it("another approver's link id with this token answers 400 and decides nothing", async () => {
    const token = await t.token('ci:email-swap');
    const { id, alice, bob } = await pendingWithEmails(token);
    const swapped = `/v1/approvals/${bob.link.linkId}?t=${alice.link.token}`;

    const get = await open(swapped);
    const post = await press(swapped, 'approve');

    expect(get.status).toBe(400);
    expect(post.status).toBe(400);
    expect((await t.poll(id, token, 0)).approval).toMatchObject({ status: 'pending', decisions: [] });
    const refusals = (await t.events(`request/${id}`)).filter((e) => e.type === 'approval.refused');
    expect(refusals.map((e) => e.details?.reason)).toEqual(['link-invalid', 'link-invalid']);
  });

  it('the requester approving their own request by email (GitHub actor alice) gets 403 and decides nothing', async () => {
    const token = await t.githubToken('repo:acme/patient-portal:ref:refs/heads/main', 'alice');
    const { id, alice } = await pendingWithEmails(token);

    const result = await press(alice.link.path, 'approve');

    expect(result.status).toBe(403);
    expect(heading(result.text)).toBe('Not your link');
    expect((await t.poll(id, token, 0)).approval).toMatchObject({ status: 'pending', decisions: [] });
    const refused = (await t.events(`request/${id}`)).find((e) => e.type === 'approval.refused');
    expect(refused?.details).toMatchObject({ reason: 'self-approval', channel: 'email' });
  });
});
