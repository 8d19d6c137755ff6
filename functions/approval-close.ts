/**
 * Step Functions task for the ends without access: the approvers denied, nobody decided in time, or asking them
 * failed. Closes the approval (an expiry is recorded here; a denial already was) and the request, and updates Slack.
 */
import { ApprovalNotFoundError } from '#shared/approvals/errors.ts';
import { secretsManagerSecrets, slackMessenger } from './lib/approval-channel-adapters.ts';
import { approvalChannels } from './lib/approval-channels.ts';
import { logger, metrics } from './lib/observability.ts';
import { CloseTaskInputSchema, stateMachineTask } from './lib/task.ts';

export const handler = stateMachineTask(
  CloseTaskInputSchema,
  async (input, runtime) => {
    if (input.outcome !== 'denied') {
      // A failed notification may have ended before the approval was recorded: then there is nothing to expire.
      await runtime.approvals.expire(input.requestId).catch((error: unknown) => {
        if (!(error instanceof ApprovalNotFoundError)) throw error;
      });
    }
    if (input.outcome === 'expired') metrics.addMetric('ApprovalExpired', 'Count', 1);
    const request = await runtime.service.closeRequest(input.requestId, input.outcome);
    const approval = await runtime.approvals.get(input.requestId);
    if (approval) {
      const refreshed = await approvalChannels(runtime).notifier.refresh(request, approval);
      if (refreshed.failures.length > 0) logger.warn('Slack messages not updated', { failures: refreshed.failures });
    }
    return { requestId: request.id, status: request.status };
  },
  { secrets: secretsManagerSecrets, slack: slackMessenger },
);
