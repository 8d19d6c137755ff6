/**
 * The approval channels — Slack messages, email links and their pages — built on demand for the functions that use
 * them, so the functions that do not (create-access-request above all) carry none of their code.
 */
import { DynamoDbLinkStore } from '#shared/adapters/aws/dynamodb-link-store.ts';
import { DynamoDbNoticeStore } from '#shared/adapters/aws/dynamodb-notice-store.ts';
import { ulidIds } from '#shared/adapters/system.ts';
import { ApprovalLinks } from '#shared/approvals/approval-links.ts';
import { ApprovalNotifier } from '#shared/approvals/approval-notifier.ts';
import type { AccessRequest } from '#shared/model.ts';
import type { Runtime } from './runtime.ts';

export interface ApprovalChannels {
  notifier: ApprovalNotifier;
  links: ApprovalLinks;
  /** After a decision, the Slack messages show it (or the outcome). */
  refreshSlack(request: AccessRequest): Promise<void>;
}

const built = new WeakMap<Runtime, ApprovalChannels>();

export function approvalChannels(runtime: Runtime): ApprovalChannels {
  const existing = built.get(runtime);
  if (existing) return existing;
  const { parts, approvals, service, audit, clock } = runtime;
  const config = () => runtime.loaded.config;
  const linkStore = new DynamoDbLinkStore(parts.dynamodb, parts.tables.state);
  const notifier = new ApprovalNotifier({
    config,
    ...(parts.slack ? { slack: parts.slack } : {}),
    ...(parts.mailer ? { mailer: parts.mailer } : {}),
    links: linkStore,
    linkKey: async () => (await parts.secrets.linkKeys())[0]!,
    apiBaseUrl: parts.apiBaseUrl,
    notices: new DynamoDbNoticeStore(parts.dynamodb, parts.tables.state),
    clock,
    ids: ulidIds,
  });
  const refreshSlack = async (request: AccessRequest) => {
    const approval = await approvals.get(request.id);
    if (approval) await notifier.refresh(request, approval);
  };
  const channels: ApprovalChannels = {
    notifier,
    links: new ApprovalLinks({
      links: linkStore,
      keys: () => parts.secrets.linkKeys(),
      approvals,
      requests: service,
      onDecided: refreshSlack,
      audit,
      clock,
    }),
    refreshSlack,
  };
  built.set(runtime, channels);
  return channels;
}
