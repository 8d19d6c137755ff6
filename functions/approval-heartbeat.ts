/**
 * Scheduled every 5 minutes (EventBridge): sends SendTaskHeartbeat for the task token of every pending approval, so the
 * RequestApproval wait (HeartbeatSeconds 900) stays alive while the backend can answer it. If beats stop, Step Functions
 * fails the wait with States.HeartbeatTimeout and the request closes as failed within 15 minutes (failed-executions
 * alarm). Nothing is audited per beat; the beats are counted (ApprovalHeartbeats) and failures logged by kind.
 */
import { sfnTaskCallbacks } from './lib/aws-adapters.ts';
import { logger, metrics } from './lib/observability.ts';
import { scheduledTask } from './lib/task.ts';

export const handler = scheduledTask(
  async (runtime) => {
    const result = await runtime.approvals.heartbeat();
    metrics.addMetric('ApprovalHeartbeats', 'Count', result.sent);
    const failed = Object.values(result.failures).reduce((sum, count) => sum + count, 0);
    if (failed > 0) logger.error('approval heartbeats failed', { failures: result.failures, pending: result.pending });
    if (result.notWaiting > 0) logger.info('approvals no longer waited on', { notWaiting: result.notWaiting });
    return result;
  },
  { callbacks: sfnTaskCallbacks },
);
