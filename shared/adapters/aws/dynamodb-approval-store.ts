import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  AlreadyDecidedError,
  ApprovalClosedError,
  ApprovalExistsError,
  ApprovalNotFoundError,
} from '../../approvals/errors.ts';
import type { Approval, ApprovalDecision, ApprovalStatus } from '../../approvals/model.ts';
import type { ApprovalStore, PendingTaskToken } from '../../approvals/ports.ts';
import { STATE_RETENTION_DAYS } from './dynamodb-access-store.ts';
import {
  PENDING_APPROVALS_INDEX,
  STATE_TABLE,
  StoreError,
  documentClient,
  isConditionalCheckFailed,
} from './tables.ts';

/** State-table keys of an approval and of its task token: one partition per request. */
export const approvalKeys = {
  approval: (requestId: string) => ({ pk: `APPROVAL#${requestId}`, sk: 'APPROVAL' }),
  token: (requestId: string) => ({ pk: `APPROVAL#${requestId}`, sk: 'TOKEN' }),
};

/** The approval item's map of approver id → decision time: the one-decision-per-approver guard. */
const DECIDERS = 'deciders';
const DAY_MS = 86_400_000;

/**
 * Approvals in the state table. The approval item holds its decisions, and a map of who decided: one UpdateItem
 * appends a decision only if its approver is not in the map and the approval is pending, so two clicks, or ten
 * approvers racing, can never double-count, and a decision can never land after the approval ended. One item, one
 * condition: no transaction is needed (dynalite, which the local runtime and the tests run on, has no
 * TransactWriteItems), and no reader ever sees a decision without the approval it counts for. A request has a handful
 * of approvers, far below the 400 KB item limit.
 *
 * The task token is its own item (`sk=TOKEN`), read only by `taskToken`, so `get` can never return it.
 *
 * While pending, the approval item carries `pendingShard` (set by `create`, removed by the conditional update of
 * `conclude`), which puts it in the sparse `pendingApprovals` index the heartbeat queries.
 */
export class DynamoDbApprovalStore implements ApprovalStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async create(approval: Approval, taskToken: string): Promise<void> {
    const ttl = ttlAfter(Date.parse(approval.expiresAt));
    const { requestId } = approval;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...approval,
            [DECIDERS]: {},
            ...approvalKeys.approval(requestId),
            ...ttl,
            ...(approval.status === 'pending'
              ? { [PENDING_APPROVALS_INDEX.partitionKey]: PENDING_APPROVALS_INDEX.shard }
              : {}),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new ApprovalExistsError(requestId);
      throw new StoreError(`the approval of request ${requestId} could not be stored`, { cause: error });
    }
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...approvalKeys.token(requestId), taskToken, ...ttl },
        }),
      );
    } catch (error) {
      // An approval nobody could ever answer must not stay: undo it, so a retry can create both.
      await this.doc
        .send(new DeleteCommand({ TableName: this.tableName, Key: approvalKeys.approval(requestId) }))
        .catch(() => undefined);
      throw new StoreError(`the task token of request ${requestId} could not be stored`, { cause: error });
    }
  }

  async get(requestId: string): Promise<Approval | undefined> {
    const item = await this.read(approvalKeys.approval(requestId), `the approval of request ${requestId}`);
    return item && toApproval(item);
  }

  async recordDecision(requestId: string, decision: ApprovalDecision): Promise<Approval> {
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: approvalKeys.approval(requestId),
          UpdateExpression: 'SET #decisions = list_append(#decisions, :decision), #deciders.#approver = :at',
          ConditionExpression:
            'attribute_exists(#pk) AND #status = :pending AND attribute_not_exists(#deciders.#approver)',
          ExpressionAttributeNames: {
            '#pk': STATE_TABLE.partitionKey,
            '#status': 'status',
            '#decisions': 'decisions',
            '#deciders': DECIDERS,
            '#approver': decision.approverId,
          },
          ExpressionAttributeValues: { ':decision': [decision], ':pending': 'pending', ':at': decision.at },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toApproval(result.Attributes!);
    } catch (error) {
      if (!isConditionalCheckFailed(error)) {
        throw new StoreError(`a decision on request ${requestId} could not be stored`, { cause: error });
      }
    }
    // The condition failed: say which part, from a consistent read.
    const item = await this.read(approvalKeys.approval(requestId), `the approval of request ${requestId}`);
    if (!item) throw new ApprovalNotFoundError(requestId);
    const deciders = (item[DECIDERS] ?? {}) as Record<string, unknown>;
    if (Object.hasOwn(deciders, decision.approverId)) throw new AlreadyDecidedError(requestId, decision.approverId);
    throw new ApprovalClosedError(requestId, String(item.status));
  }

  async conclude(
    requestId: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    outcome: string,
    at: string,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: approvalKeys.approval(requestId),
          // Leaving pending also leaves the pendingApprovals index, in the same write.
          UpdateExpression: 'SET #status = :status, outcome = :outcome, concludedAt = :at REMOVE #shard',
          // Only a pending approval ends, so the first terminal decision is the one kept.
          ConditionExpression: 'attribute_exists(#pk) AND #status = :pending',
          ExpressionAttributeNames: {
            '#pk': STATE_TABLE.partitionKey,
            '#status': 'status',
            '#shard': PENDING_APPROVALS_INDEX.partitionKey,
          },
          ExpressionAttributeValues: { ':status': status, ':outcome': outcome, ':at': at, ':pending': 'pending' },
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) {
        throw new StoreError(`the approval of request ${requestId} could not be concluded`, { cause: error });
      }
    }
    if (!(await this.read(approvalKeys.approval(requestId), `the approval of request ${requestId}`))) {
      throw new ApprovalNotFoundError(requestId);
    }
    return false;
  }

  async taskToken(requestId: string): Promise<string | undefined> {
    const item = await this.read(approvalKeys.token(requestId), `the task token of request ${requestId}`);
    return typeof item?.taskToken === 'string' ? item.taskToken : undefined;
  }

  async replaceTaskToken(requestId: string, taskToken: string): Promise<void> {
    const approval = await this.read(approvalKeys.approval(requestId), `the approval of request ${requestId}`);
    if (!approval) throw new ApprovalNotFoundError(requestId);
    const ttl = ttlAfter(Date.parse(String(approval.expiresAt)));
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: { ...approvalKeys.token(requestId), taskToken, ...ttl } }),
      );
    } catch (error) {
      throw new StoreError(`the task token of request ${requestId} could not be stored`, { cause: error });
    }
  }

  async pendingTaskTokens(limit: number): Promise<PendingTaskToken[]> {
    const requestIds: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: PENDING_APPROVALS_INDEX.name,
            KeyConditionExpression: '#shard = :shard',
            ExpressionAttributeNames: { '#shard': PENDING_APPROVALS_INDEX.partitionKey },
            ExpressionAttributeValues: { ':shard': PENDING_APPROVALS_INDEX.shard },
            Limit: limit - requestIds.length,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) requestIds.push(String(item.pk).slice('APPROVAL#'.length));
        startKey = page.LastEvaluatedKey;
      } while (startKey && requestIds.length < limit);
    } catch (error) {
      throw new StoreError('the pending approvals could not be read', { cause: error });
    }
    const pending: PendingTaskToken[] = [];
    for (const requestId of requestIds) {
      const taskToken = await this.taskToken(requestId);
      if (taskToken !== undefined) pending.push({ requestId, taskToken });
    }
    return pending;
  }

  private async read(key: Record<string, string>, what: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { Item } = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      return Item;
    } catch (error) {
      throw new StoreError(`${what} could not be read`, { cause: error });
    }
  }
}

/** The domain object of an approval item: its keys, `ttl` and the deciders map left out. */
function toApproval(item: Record<string, unknown>): Approval {
  const {
    pk: _pk,
    sk: _sk,
    ttl: _ttl,
    [DECIDERS]: _deciders,
    [PENDING_APPROVALS_INDEX.partitionKey]: _shard,
    ...approval
  } = item;
  return approval as unknown as Approval;
}

/** `ttl` in epoch seconds, STATE_RETENTION_DAYS after `expiresAtMs`; none when the time is unreadable (kept). */
function ttlAfter(expiresAtMs: number): { ttl?: number } {
  if (!Number.isFinite(expiresAtMs)) return {};
  return { [STATE_TABLE.ttlAttribute]: Math.ceil((expiresAtMs + STATE_RETENTION_DAYS * DAY_MS) / 1000) };
}
