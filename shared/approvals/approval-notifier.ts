/**
 * Tells approvers a request waits for them — a Block Kit message per group channel, a signed single-use link by email to
 * each member — and keeps the Slack messages in step with the decisions. Pure orchestration over ports.
 */
import type { GatehouseConfig } from '../config/schema.ts';
import type { AccessRequest } from '../model.ts';
import type { Clock, Ids } from '../ports.ts';
import type { SlackApprovalDecision } from '../slack/messages.ts';
import { approvalDecidedMessage, approvalRequestMessage } from '../slack/messages.ts';
import type { SlackMessenger } from '../slack/slack-messenger.ts';
import { approvalEmail, type Mailer } from './approval-email.ts';
import { createApprovalLink, newApprovalLinkId, type ApprovalLinkKey, type LinkStore } from './email-link.ts';
import type { Approval } from './model.ts';

/** A Slack message posted for an approval, so it can be updated in place. */
export interface SlackPost {
  channel: string;
  ts: string;
}

/** Remembers the Slack messages of each approval. */
export interface NoticeStore {
  addSlackPosts(requestId: string, posts: SlackPost[]): Promise<void>;
  slackPosts(requestId: string): Promise<SlackPost[]>;
}

export interface ApprovalNotifierDeps {
  config: () => GatehouseConfig;
  /** Absent when Slack is not configured. */
  slack?: SlackMessenger;
  /** Absent when email is not configured. */
  mailer?: Mailer;
  links: LinkStore;
  /** The newest approval link key. */
  linkKey: () => Promise<ApprovalLinkKey>;
  /** Where approvers' phones reach the API. */
  apiBaseUrl: string;
  notices: NoticeStore;
  clock: Clock;
  ids: Ids;
}

/** What a notification round did; failures name the channel and the error kind, never an address or a token. */
export interface NotifyResult {
  attempted: number;
  delivered: number;
  failures: string[];
}

export class ApprovalNotifier {
  constructor(private readonly deps: ApprovalNotifierDeps) {}

  async notify(request: AccessRequest, approval: Approval): Promise<NotifyResult> {
    const config = this.deps.config();
    const groups = config.approvers.groups.filter((group) =>
      approval.requirement.groups.some((required) => required.name === group.name),
    );
    const result: NotifyResult = { attempted: 0, delivered: 0, failures: [] };
    const attempt = async (label: string, send: () => Promise<void>) => {
      result.attempted += 1;
      try {
        await send();
        result.delivered += 1;
      } catch (error) {
        result.failures.push(`${label}: ${error instanceof Error ? error.name : 'Error'}`);
      }
    };

    const { slack } = this.deps;
    if (slack) {
      const channels = [...new Set(groups.flatMap((group) => (group.slackChannel ? [group.slackChannel] : [])))];
      const message = approvalRequestMessage(this.messageInput(request, approval));
      const posts: SlackPost[] = [];
      for (const channel of channels) {
        await attempt('slack', async () => {
          const ref = await slack.postApprovalRequest(channel, message);
          posts.push({ channel: ref.channel, ts: ref.ts });
        });
      }
      if (posts.length > 0) await this.deps.notices.addSlackPosts(request.id, posts);
    }

    const { mailer } = this.deps;
    if (mailer) {
      const memberIds = new Set(groups.filter((group) => group.email).flatMap((group) => group.members));
      const people = config.approvers.people.filter((person) => memberIds.has(person.id) && person.email);
      const key = people.length > 0 ? await this.deps.linkKey() : undefined;
      for (const person of people) {
        await attempt('email', async () => {
          const linkId = newApprovalLinkId(this.deps.ids);
          const link = createApprovalLink({
            key: key!,
            baseUrl: this.deps.apiBaseUrl,
            linkId,
            requestId: request.id,
            approverId: person.id,
            expiresAt: approval.expiresAt,
          });
          await this.deps.links.create({
            linkId,
            requestId: request.id,
            approverId: person.id,
            expiresAt: approval.expiresAt,
          });
          const email = approvalEmail({ request, approver: person, url: link.url, expiresAt: approval.expiresAt });
          await mailer.send({ to: person.email!, ...email });
        });
      }
    }
    return result;
  }

  /** Brings every Slack message of the approval up to date: progress towards the quorum, or the outcome. */
  async refresh(request: AccessRequest, approval: Approval): Promise<NotifyResult> {
    const result: NotifyResult = { attempted: 0, delivered: 0, failures: [] };
    const { slack } = this.deps;
    if (!slack) return result;
    const input = this.messageInput(request, approval);
    const message =
      approval.status === 'pending'
        ? approvalRequestMessage(input)
        : approvalDecidedMessage({
            ...input,
            outcome: approval.status,
            decisions: input.decisions ?? [],
            decidedAt: approval.concludedAt ?? this.deps.clock.now(),
          });
    for (const post of await this.deps.notices.slackPosts(request.id)) {
      result.attempted += 1;
      try {
        await slack.updateMessage(post.channel, post.ts, message);
        result.delivered += 1;
      } catch (error) {
        result.failures.push(`slack: ${error instanceof Error ? error.name : 'Error'}`);
      }
    }
    return result;
  }

  private messageInput(request: AccessRequest, approval: Approval) {
    const people = new Map(this.deps.config().approvers.people.map((person) => [person.id, person]));
    const decisions: SlackApprovalDecision[] = approval.decisions.map((decision) => {
      const person = people.get(decision.approverId);
      return {
        approverId: decision.approverId,
        ...(person?.slackUserId ? { slackUserId: person.slackUserId } : {}),
        ...(person?.name ? { name: person.name } : {}),
        decision: decision.decision,
        at: decision.at,
        ...(decision.reason ? { reason: decision.reason } : {}),
        via: decision.channel === 'api' ? 'local' : decision.channel,
      };
    });
    return {
      request,
      approvalGroups: approval.requirement.groups.map((group) => group.name),
      quorum: {
        required: approval.requirement.groups.reduce((sum, group) => sum + group.quorum, 0),
        received: approval.decisions.filter((decision) => decision.decision === 'approve').length,
        everyGroup: approval.requirement.groups.length > 1,
      },
      expiresAt: approval.expiresAt,
      decisions,
    };
  }
}
