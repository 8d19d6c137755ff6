import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Slot } from '../../model.ts';
import type { Clock, SlotPool } from '../../ports.ts';
import { STATE_TABLE, StoreError, documentClient, isConditionalCheckFailed, stateKeys } from './tables.ts';

/** Slot indexes are written zero-padded to three digits, so a pool holds at most 1000 slots. */
export const MAX_SLOTS_PER_CLUSTER = 1000;

/** A lease item lingers this long after its `leasedUntil` before TTL may delete it; takeover never waits for TTL. */
const LEASE_TTL_GRACE_SECONDS = 86_400;

/** The slot pool was built with roles it cannot use, or asked about a cluster it has no pool for. */
export class SlotPoolConfigError extends Error {
  override name = 'SlotPoolConfigError';
}

/**
 * Slot leases in the state table, one item per leased slot (`SLOT#<cluster>`, `<index:000>`). A lease is a
 * conditional put, so two grants never hold one slot; a lease whose `leasedUntil` has passed may be taken over, so a
 * grant whose cleanup never ran cannot keep its slot for ever. Callers set `leasedUntil` to the grant's expiry plus a
 * safety margin, so a takeover only happens once the old grant's access entry is long due for deletion.
 */
export class DynamoDbSlotPool implements SlotPool {
  private readonly doc: DynamoDBDocumentClient;

  /**
   * @param slotRoles per cluster, the slot role ARNs; a slot's index is its position in the list.
   * @param random a number in [0, 1) choosing where the search for a free slot starts. Default Math.random.
   */
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly slotRoles: Readonly<Record<string, readonly string[]>>,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {
    const problems = Object.entries(slotRoles).flatMap(([cluster, roles]) => [
      ...(roles.length === 0 ? [`cluster ${cluster} has no slot roles`] : []),
      ...(roles.length > MAX_SLOTS_PER_CLUSTER
        ? [`cluster ${cluster} has more than ${MAX_SLOTS_PER_CLUSTER} slots`]
        : []),
      ...(roles.some((arn) => !arn.startsWith('arn:'))
        ? [`cluster ${cluster} has a slot role that is not an ARN`]
        : []),
    ]);
    if (problems.length > 0) throw new SlotPoolConfigError(`invalid slot pool: ${problems.join('; ')}`);
    this.doc = documentClient(client);
  }

  async lease(cluster: string, grantId: string, leasedUntil: string): Promise<Slot | undefined> {
    const roles = Object.hasOwn(this.slotRoles, cluster) ? this.slotRoles[cluster] : undefined;
    if (!roles) throw new SlotPoolConfigError(`no slot pool is configured for cluster ${cluster}`);
    const until = Date.parse(leasedUntil);
    if (!Number.isFinite(until)) throw new RangeError('leasedUntil is not a valid time');
    // Both sides in toISOString form, so the string comparison in the condition is a time comparison.
    const now = this.clock.now().toISOString();
    const untilIso = new Date(until).toISOString();

    // Starting at a random slot spreads concurrent grants over the pool instead of all racing for slot 0.
    const offset = Math.floor(this.random() * roles.length) % roles.length;
    for (let i = 0; i < roles.length; i++) {
      const index = (offset + i) % roles.length;
      const slot: Slot = { cluster, index, roleArn: roles[index]! };
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...stateKeys.slot(cluster, index),
              ...slot,
              grantId,
              leasedAt: now,
              leasedUntil: untilIso,
              [STATE_TABLE.ttlAttribute]: Math.ceil(until / 1000) + LEASE_TTL_GRACE_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(#pk) OR #leasedUntil < :now',
            ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey, '#leasedUntil': 'leasedUntil' },
            ExpressionAttributeValues: { ':now': now },
          }),
        );
        return slot;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) {
          throw new StoreError(`a slot of cluster ${cluster} could not be leased`, { cause: error });
        }
      }
    }
    return undefined;
  }

  async release(slot: Slot, grantId: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: stateKeys.slot(slot.cluster, slot.index),
          // Only the holder frees a slot: after a takeover, the old grant's late release must not free the new lease.
          ConditionExpression: '#grantId = :grantId',
          ExpressionAttributeNames: { '#grantId': 'grantId' },
          ExpressionAttributeValues: { ':grantId': grantId },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) return; // already free, or held by another grant
      throw new StoreError(`slot ${slot.index} of cluster ${slot.cluster} could not be released`, { cause: error });
    }
  }
}
