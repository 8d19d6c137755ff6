/**
 * The email link flow: a GET shows the confirmation page and decides nothing (mail scanners follow links); a POST with
 * the approver's button decides, once. Reused, expired, altered or someone else's links decide nothing, get a page that
 * says why, and are recorded as `approval.refused` with the token's fingerprint.
 */
import { fingerprint } from '../audit/fingerprint.ts';
import type { AccessRequest } from '../model.ts';
import type { AuditSink, Clock } from '../ports.ts';
import type { ApprovalService } from './approval-service.ts';
import {
  confirmationPage,
  RESULT_PAGES,
  resultPage,
  summarizeRequest,
  type DecisionForm,
  type ResultKind,
} from './confirmation-page.ts';
import {
  isApprovalLinkId,
  LinkAlreadyUsedError,
  LinkExpiredError,
  verifyApprovalLink,
  type ApprovalLinkKey,
  type LinkStore,
  type StoredLink,
} from './email-link.ts';
import {
  AlreadyDecidedError,
  ApprovalClosedError,
  ApprovalNotFoundError,
  NotAnApproverError,
  SelfApprovalError,
} from './errors.ts';

export interface ApprovalLinksDeps {
  links: LinkStore;
  keys: () => Promise<ApprovalLinkKey[]>;
  approvals: Pick<ApprovalService, 'decide' | 'get'>;
  requests: { requestOf(id: string): Promise<AccessRequest | undefined> };
  /** Told after a decision so Slack messages show it too. */
  onDecided?: (request: AccessRequest) => Promise<void>;
  audit: AuditSink;
  clock: Clock;
}

/** A page to send: its HTML and HTTP status. */
export interface LinkPage {
  status: number;
  html: string;
}

type Checked = { ok: true; link: StoredLink; request: AccessRequest } | { ok: false; kind: ResultKind };

/** The result page for a decision the approval service refused; undefined for an error that is not a refusal. */
export function refusalPage(error: unknown): ResultKind | undefined {
  if (error instanceof AlreadyDecidedError) return 'already-decided';
  if (error instanceof ApprovalClosedError || error instanceof ApprovalNotFoundError) return 'closed';
  if (error instanceof SelfApprovalError || error instanceof NotAnApproverError) return 'not-your-link';
  return undefined;
}

export class ApprovalLinks {
  constructor(private readonly deps: ApprovalLinksDeps) {}

  /** GET: the confirmation page, or why the link cannot be used. Never decides. */
  async page(linkId: string, token: string, action: string): Promise<LinkPage> {
    const checked = await this.check(linkId, token);
    if (!checked.ok) return this.result(checked.kind);
    const approval = await this.deps.approvals.get(checked.request.id);
    // An approval that timed out was decided by nobody: it is closed, not "already decided".
    if (!approval || approval.status === 'expired') return this.result('closed');
    if (approval.status !== 'pending') return this.result('already-decided');
    return {
      status: 200,
      html: confirmationPage({
        request: summarizeRequest(checked.request, approval.expiresAt),
        approverName: checked.link.approverId,
        action,
      }),
    };
  }

  /** POST: consumes the link and records the approver's decision. */
  async decide(linkId: string, token: string, form: DecisionForm): Promise<LinkPage> {
    const checked = await this.check(linkId, token);
    if (!checked.ok) return this.result(checked.kind);
    if (!form.ok) return this.result('invalid', form.error);
    const { link, request } = checked;
    try {
      await this.deps.links.consume(link.linkId, this.deps.clock.now());
    } catch (error) {
      const kind =
        error instanceof LinkAlreadyUsedError
          ? 'already-used'
          : error instanceof LinkExpiredError
            ? 'expired'
            : undefined;
      if (!kind) throw error;
      await this.refuse(linkId, token, request.id, kind);
      return this.result(kind);
    }
    try {
      await this.deps.approvals.decide({
        requestId: request.id,
        identity: { approverId: link.approverId },
        decision: form.decision,
        ...(form.reason ? { reason: form.reason } : {}),
        channel: 'email',
      });
    } catch (error) {
      // The approval service has recorded the refusal; the page says it in words.
      const kind = refusalPage(error);
      if (!kind) throw error;
      return this.result(kind);
    }
    await this.deps.onDecided?.(request);
    return this.result(form.decision === 'approve' ? 'approved' : 'denied');
  }

  private async check(linkId: string, token: string): Promise<Checked> {
    const link = isApprovalLinkId(linkId) ? await this.deps.links.get(linkId) : undefined;
    if (!link) {
      await this.refuse(linkId, token, undefined, 'invalid');
      return { ok: false, kind: 'invalid' };
    }
    const verdict = verifyApprovalLink({
      key: await this.deps.keys(),
      linkId,
      token,
      link,
      now: this.deps.clock.now(),
    });
    if (!verdict.ok) {
      const kind = verdict.reason === 'expired' ? 'expired' : 'invalid';
      await this.refuse(linkId, token, link.requestId, kind);
      return { ok: false, kind };
    }
    if (link.usedAt) {
      await this.refuse(linkId, token, link.requestId, 'already-used');
      return { ok: false, kind: 'already-used' };
    }
    const request = await this.deps.requests.requestOf(link.requestId);
    if (!request) return { ok: false, kind: 'closed' };
    return { ok: true, link, request };
  }

  private async refuse(linkId: string, token: string, requestId: string | undefined, kind: ResultKind) {
    await this.deps.audit.append({
      type: 'approval.refused',
      stream: requestId ? `request/${requestId}` : `approval-links/${this.deps.clock.now().toISOString().slice(0, 10)}`,
      actor: { id: 'email-link' },
      ...(requestId ? { requestId } : {}),
      details: {
        reason: `link-${kind}`,
        channel: 'email',
        linkId: isApprovalLinkId(linkId) ? linkId : 'malformed',
        tokenFingerprint: fingerprint(token),
      },
    });
  }

  private result(kind: ResultKind, detail?: string): LinkPage {
    return { status: RESULT_PAGES[kind].status, html: resultPage({ kind, ...(detail ? { detail } : {}) }) };
  }
}
