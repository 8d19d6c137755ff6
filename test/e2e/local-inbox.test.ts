/** The local approval inbox: pending requests with Approve / Deny for a configured approver, then the decided ones. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const { LOCAL_AUDIENCE, startLocal } = await import('../../local/start.ts');

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-inbox-'));
writeFileSync(
  join(dir, 'gatehouse.config.yaml'),
  `version: 1
issuers:
  - name: github-actions
    issuer: https://token.actions.githubusercontent.com
    audience: gatehouse
clusters:
  - name: dev
    region: us-east-1
    account: '111122223333'
    accessLevels:
      view: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
approvers:
  people:
    - id: alice
      name: Alice Approver
      principals: ['local:ci:alice-job']
    - id: bob
  groups:
    - name: sre
      members: [alice, bob]
policies:
  files: [access.cedar]
`,
);
writeFileSync(
  join(dir, 'access.cedar'),
  `@id("dev-view-approved")
@approval("sre")
permit (principal, action == Gatehouse::Action::"RequestAccess", resource in Gatehouse::Cluster::"dev")
when { context.access == "view" };
`,
);

type Local = Awaited<ReturnType<typeof startLocal>>;
let local: Local;

async function requestAccess(subject: string): Promise<{ status: number; id: string; token: string }> {
  const token = await local.issuer.sign({ sub: subject }, { audience: LOCAL_AUDIENCE });
  const response = await fetch(`${local.apiUrl}/v1/access-requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      cluster: 'dev',
      namespaces: ['app'],
      access: 'view',
      durationSeconds: 600,
      purpose: 'inbox',
    }),
  });
  const body = (await response.json()) as { id: string };
  // The lifecycle's RequestApproval state opens the approval just after the 202.
  for (let tries = 0; tries < 100 && !(await local.runtime.approvals.get(body.id)); tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { status: response.status, id: body.id, token };
}

async function decide(requestId: string, approver: string, decision: 'approve' | 'deny') {
  return fetch(`${local.apiUrl}/local/approvals/${requestId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ approver, decision, reason: 'checked' }).toString(),
    redirect: 'manual',
  });
}

async function statusOf(requestId: string, token: string): Promise<string> {
  const response = await fetch(`${local.apiUrl}/v1/access-requests/${requestId}?waitSeconds=5&unlike=pending`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await response.json()) as { status: string }).status;
}

beforeAll(async () => {
  local = await startLocal({ dataDir: dir, configFile: join(dir, 'gatehouse.config.yaml'), port: 0, inMemory: true });
});

afterAll(async () => {
  await local.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the local approval inbox', () => {
  it('lists a pending request with a form for its approvers, and grants it once an approver approves', async () => {
    const created = await requestAccess('ci:inbox-job');
    expect(created.status).toBe(202);

    const inbox = await (await fetch(`${local.apiUrl}/local/approvals`)).text();
    expect(inbox).toContain(`/local/approvals/${created.id}`);
    expect(inbox).toContain('<option value="alice">Alice Approver</option>');

    const answer = await decide(created.id, 'bob', 'approve');
    expect(answer.status).toBe(303);
    expect(await statusOf(created.id, created.token)).toBe('granted');
    expect(await (await fetch(`${local.apiUrl}/local/approvals`)).text()).toContain('bob approved via local');
  });

  it('refuses an approver deciding on their own request, and the request stays pending', async () => {
    const created = await requestAccess('ci:alice-job');
    const answer = await decide(created.id, 'alice', 'approve');
    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain('the request is your own');
    const approval = await local.runtime.approvals.get(created.id);
    expect(approval).toMatchObject({ status: 'pending', decisions: [] });
  });

  it('ends the request as denied when an approver denies', async () => {
    const created = await requestAccess('ci:deny-job');
    await decide(created.id, 'bob', 'deny');
    expect(await statusOf(created.id, created.token)).toBe('denied');
  });
});
