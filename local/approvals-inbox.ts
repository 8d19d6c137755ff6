/**
 * The local runtime's approval inbox: every approval with its request, pending ones with Approve / Deny for a chosen
 * configured approver, decided ones with who decided. It calls the same ApprovalService as Slack and email links (channel
 * `local`), so quorum, self-approval and membership rules apply here too. Served only by `gatehouse local`, on loopback.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from '#shared/adapters/aws/tables.ts';
import type { Approval } from '#shared/approvals/model.ts';
import {
  APPROVAL_PAGE_HEADERS,
  approvalPageLayout,
  escapeHtml,
  RESULT_PAGES,
  resultPage,
  summarizeRequest,
  summaryRows,
} from '#shared/approvals/confirmation-page.ts';
import { DECISION_REASON_MAX_LENGTH } from '#shared/approvals/confirmation-page.ts';
import { refusalPage } from '#shared/approvals/approval-links.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { approvalChannels } from '../functions/lib/approval-channels.ts';
import { getRuntime } from '../functions/lib/runtime.ts';
import type { Route } from './api-server.ts';

const INBOX_PATH = '/local/approvals';

/** The inbox routes, reading approvals from the embedded state table. */
export function inboxRoutes(dynamodb: DynamoDBClient, stateTable: string): Route[] {
  const doc = documentClient(dynamodb);
  const approvals = async (): Promise<Approval[]> => {
    const found: Approval[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({
          TableName: stateTable,
          FilterExpression: 'begins_with(pk, :approval) AND sk = :sk',
          ExpressionAttributeValues: { ':approval': 'APPROVAL#', ':sk': 'APPROVAL' },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const approval = await (await getRuntime()).approvals.get(String(item.pk).slice('APPROVAL#'.length));
        if (approval) found.push(approval);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return found.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  };

  return [
    {
      method: 'GET',
      resource: INBOX_PATH,
      handler: async () => page(200, await inbox(await approvals())),
    },
    {
      method: 'POST',
      resource: `${INBOX_PATH}/{requestId}`,
      handler: async (event) => {
        const runtime = await getRuntime();
        const form = new URLSearchParams(event.body ?? '');
        const requestId = event.pathParameters?.requestId ?? '';
        const decision = form.get('decision');
        const approverId = form.get('approver') ?? '';
        const reason = (form.get('reason') ?? '').trim().slice(0, DECISION_REASON_MAX_LENGTH);
        if (decision !== 'approve' && decision !== 'deny') {
          return page(400, resultPage({ kind: 'invalid', detail: 'choose Approve or Deny' }));
        }
        try {
          await runtime.approvals.decide({
            requestId,
            identity: { approverId },
            decision,
            ...(reason ? { reason } : {}),
            channel: 'local',
          });
        } catch (error) {
          // The approval service recorded why; the page says it.
          const kind = refusalPage(error);
          if (!kind) throw error;
          return page(RESULT_PAGES[kind].status, resultPage({ kind }));
        }
        const request = await runtime.service.requestOf(requestId);
        if (request) await approvalChannels(runtime).refreshSlack(request);
        return { statusCode: 303, headers: { Location: INBOX_PATH, 'Cache-Control': 'no-store' }, body: '' };
      },
    },
  ];
}

async function inbox(approvals: Approval[]): Promise<string> {
  const runtime = await getRuntime();
  const people = runtime.loaded.config.approvers.people;
  const groups = runtime.loaded.config.approvers.groups;
  const cards: string[] = [];
  for (const approval of approvals) {
    const request = await runtime.service.requestOf(approval.requestId);
    if (!request) continue;
    const rows = summaryRows(summarizeRequest(request, approval.expiresAt))
      .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`)
      .join('');
    const decided = approval.decisions
      .map(
        (d) =>
          `<li>${escapeHtml(d.approverId)} ${d.decision === 'approve' ? 'approved' : 'denied'} via ${escapeHtml(d.channel)} at ${escapeHtml(d.at)}${d.reason ? `: ${escapeHtml(d.reason)}` : ''}</li>`,
      )
      .join('');
    const required = new Set(
      groups
        .filter((group) => approval.requirement.groups.some((r) => r.name === group.name))
        .flatMap((g) => g.members),
    );
    const options = people
      .filter((person) => required.has(person.id))
      .map((person) => `<option value="${escapeHtml(person.id)}">${escapeHtml(person.name ?? person.id)}</option>`)
      .join('');
    const form =
      approval.status === 'pending'
        ? `<form method="post" action="${INBOX_PATH}/${escapeHtml(approval.requestId)}">
          <label for="approver-${escapeHtml(approval.requestId)}">Decide as</label>
          <select id="approver-${escapeHtml(approval.requestId)}" name="approver">${options}</select>
          <label for="reason-${escapeHtml(approval.requestId)}">Reason (optional)</label>
          <textarea id="reason-${escapeHtml(approval.requestId)}" name="reason" rows="2" maxlength="${DECISION_REASON_MAX_LENGTH}"></textarea>
          <div class="actions">
            <button type="submit" name="decision" value="approve" class="approve">Approve</button>
            <button type="submit" name="decision" value="deny" class="deny">Deny</button>
          </div>
        </form>`
        : '';
    cards.push(`<section>
        <h2>${escapeHtml(request.access)} on ${escapeHtml(request.cluster)} — ${escapeHtml(approval.status)}</h2>
        <dl>${rows}</dl>
        ${decided ? `<ul>${decided}</ul>` : ''}
        ${form}
      </section>`);
  }
  const body = cards.length > 0 ? cards.join('\n') : '<p class="lead">No approvals yet.</p>';
  return approvalPageLayout('Approvals', `<h1>Approvals</h1>\n${body}`);
}

function page(statusCode: number, body: string): APIGatewayProxyResult {
  return { statusCode, headers: { ...APPROVAL_PAGE_HEADERS }, body };
}
