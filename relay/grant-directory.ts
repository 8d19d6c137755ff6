/**
 * The relay's view of grants (issue 6, point 1): a credential is checked offline (its signature), but the grant behind
 * it is looked up in the store at most once per `maxAgeMs` per grant, so a revoked grant stops working within that
 * (≤ 5 s, `relay.revocationCheckSeconds`) without a store call per request. A store error refuses (fail closed).
 */
import type { AccessRequest, Grant, RelayGrant } from '#shared/model.ts';
import type { Clock } from '#shared/ports.ts';

/** The reads the relay needs from the access store. */
export interface GrantSource {
  getGrant(id: string): Promise<Grant | undefined>;
  getRequest(id: string): Promise<AccessRequest | undefined>;
}

export interface ActiveGrant {
  grant: RelayGrant;
  /** The access request's ticket, for guardrails (`context.hasTicket`); `''` when none. */
  ticket: string;
}

export type GrantLookup = { active: true; value: ActiveGrant } | { active: false; reason: string };

interface Entry {
  fetchedAt: number;
  lookup: Promise<GrantLookup>;
}

export class GrantDirectory {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly source: GrantSource,
    private readonly clock: Clock,
    private readonly maxAgeMs: number,
  ) {}

  /** The grant if it is an active relay grant now, read from the store when the cached read is older than maxAgeMs. */
  async lookup(grantId: string): Promise<GrantLookup> {
    const now = this.clock.now().getTime();
    let entry = this.#entries.get(grantId);
    if (!entry || now - entry.fetchedAt >= this.maxAgeMs) {
      entry = { fetchedAt: now, lookup: this.#fetch(grantId) };
      this.#entries.set(grantId, entry);
      this.#forgetOld(now);
    }
    const lookup = await entry.lookup;
    // Expiry needs no store read: it is checked against the clock on every request.
    if (lookup.active && Date.parse(lookup.value.grant.expiresAt) <= this.clock.now().getTime()) {
      return { active: false, reason: `grant ${grantId} has expired` };
    }
    return lookup;
  }

  async #fetch(grantId: string): Promise<GrantLookup> {
    try {
      const grant = await this.source.getGrant(grantId);
      if (!grant) return { active: false, reason: `grant ${grantId} does not exist` };
      if (grant.via !== 'relay') return { active: false, reason: `grant ${grantId} is not a relay grant` };
      if (grant.status !== 'active') return { active: false, reason: `grant ${grantId} is ${grant.status}` };
      const request = await this.source.getRequest(grant.requestId);
      return { active: true, value: { grant, ticket: request?.ticket ?? '' } };
    } catch {
      // Forget the failed read at once, so the next request asks the store again.
      this.#entries.delete(grantId);
      return { active: false, reason: `the status of grant ${grantId} could not be read` };
    }
  }

  /** Entries far past their age are dropped, so a long-running relay does not keep every grant it ever saw. */
  #forgetOld(now: number): void {
    if (this.#entries.size < 1024) return;
    for (const [id, entry] of this.#entries) if (now - entry.fetchedAt > this.maxAgeMs * 10) this.#entries.delete(id);
  }
}
