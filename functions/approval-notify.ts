/**
 * Step Functions task "RequestApproval" (`lambda:invoke.waitForTaskToken`): records the approval with the execution's
 * task token and tells the approvers. The execution then waits until a callback handler answers the token.
 */
import { NotFoundError } from '#shared/access/errors.ts';
import { secretsManagerSecrets, sesMailer, slackMessenger } from './lib/approval-channel-adapters.ts';
import { approvalChannels } from './lib/approval-channels.ts';
import { logger, metrics } from './lib/observability.ts';
import { NotifyTaskInputSchema, stateMachineTask } from './lib/task.ts';

export class NotificationFailedError extends Error {
  override name = 'NotificationFailedError';
}

export const handler = stateMachineTask(
  NotifyTaskInputSchema,
  async (input, runtime) => {
    const request = await runtime.service.requestOf(input.requestId);
    if (!request) throw new NotFoundError(`access request ${input.requestId} does not exist`);
    const approval = await runtime.approvals.open(request, request.decision?.approvalGroups ?? [], input.taskToken);
    const result = await approvalChannels(runtime).notifier.notify(request, approval);
    if (result.failures.length > 0) {
      metrics.addMetric('NotificationFailed', 'Count', result.failures.length);
      logger.warn('some approvers could not be notified', { requestId: request.id, failures: result.failures });
    }
    // Nobody could be told: waiting would only end in a timeout, so the request closes now (and the alarm fires).
    if (result.attempted > 0 && result.delivered === 0) {
      throw new NotificationFailedError(`no approver of request ${request.id} could be notified`);
    }
    return { requestId: request.id, notified: result.delivered, expiresAt: approval.expiresAt };
  },
  { secrets: secretsManagerSecrets, slack: slackMessenger, mailer: sesMailer },
);
