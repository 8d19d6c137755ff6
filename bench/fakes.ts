/**
 * In-memory adapters for the ports the access use cases write through, so the handler's own work can be timed without
 * any store round trip. Each counts its calls: the number of round trips the real adapters make for the same request.
 */
import type { AuditEvent } from '#shared/audit/event.ts';
import { ChainConflictError, type ChainStore } from '#shared/audit/audit-log.ts';
import type { ChainHead } from '#shared/audit/chain.ts';
import type { AccessRequest, Grant, Slot } from '#shared/model.ts';
import type { AccessEntries, AccessStore, LifecycleScheduler, SlotPool } from '#shared/ports.ts';

export class RoundTrips {
  count = 0;
}

export class MemoryChainStore implements ChainStore {
  private readonly heads = new Map<string, ChainHead>();
  constructor(private readonly trips: RoundTrips) {}
  async head(stream: string): Promise<ChainHead | undefined> {
    this.trips.count += 1;
    return this.heads.get(stream);
  }
  async put(event: AuditEvent): Promise<void> {
    this.trips.count += 1;
    const head = this.heads.get(event.chain.stream);
    if ((head?.seq ?? 0) + 1 !== event.chain.seq) throw new ChainConflictError(event.chain.stream, event.chain.seq);
    // Stored as DynamoDB would: a copy.
    structuredClone(event);
    this.heads.set(event.chain.stream, { seq: event.chain.seq, hash: event.chain.hash });
  }
}

export class MemoryAccessStore implements AccessStore {
  private readonly requests = new Map<string, AccessRequest>();
  private readonly grants = new Map<string, Grant>();
  constructor(private readonly trips: RoundTrips) {}
  async putRequest(request: AccessRequest): Promise<void> {
    this.trips.count += 1;
    this.requests.set(request.id, structuredClone(request));
  }
  async getRequest(id: string): Promise<AccessRequest | undefined> {
    this.trips.count += 1;
    const found = this.requests.get(id);
    return found && structuredClone(found);
  }
  async putGrant(grant: Grant): Promise<void> {
    this.trips.count += 1;
    this.grants.set(grant.id, structuredClone(grant));
  }
  async getGrant(id: string): Promise<Grant | undefined> {
    this.trips.count += 1;
    const found = this.grants.get(id);
    return found && structuredClone(found);
  }
  async markGrantRevoked(id: string, revokedAt: string, revokedBy: string, reason: string) {
    this.trips.count += 1;
    const grant = this.grants.get(id);
    if (!grant) return undefined;
    const changed = grant.status === 'active';
    if (changed) Object.assign(grant, { status: 'revoked', revokedAt, revokedBy, revokeReason: reason });
    return { grant: structuredClone(grant), changed };
  }
}

/** A pool that never runs dry: every lease is a fresh slot, as a pool with free slots answers on the first try. */
export class MemorySlotPool implements SlotPool {
  private next = 0;
  constructor(private readonly trips: RoundTrips) {}
  async lease(cluster: string): Promise<Slot | undefined> {
    this.trips.count += 1;
    const index = this.next++ % 50;
    return { cluster, index, roleArn: `arn:aws:iam::000000000000:role/gatehouse-bench-${cluster}-slot-${index}` };
  }
  async release(): Promise<void> {
    this.trips.count += 1;
  }
}

export class MemoryAccessEntries implements AccessEntries {
  constructor(private readonly trips: RoundTrips) {}
  async create(): Promise<void> {
    this.trips.count += 1;
  }
  async associatePolicy(): Promise<void> {
    this.trips.count += 1;
  }
  async delete(): Promise<void> {
    this.trips.count += 1;
  }
}

export class MemoryScheduler implements LifecycleScheduler {
  constructor(private readonly trips: RoundTrips) {}
  async schedule(): Promise<void> {
    this.trips.count += 1;
  }
}
