/**
 * The relay's event writer (never loses an event, pushes back when full, refuses while failing) and its grant
 * directory (one store read per grant per window; expiry by the clock; a failed read refuses and is not kept).
 */
import { describe, expect, it } from 'vitest';
import type { AuditEvent, AuditEventInput } from '#shared/audit/event.ts';
import type { AccessRequest, Grant } from '#shared/model.ts';
import { RelayEventWriter } from '../../relay/event-writer.ts';
import { GrantDirectory } from '../../relay/grant-directory.ts';

const event = (n: number): AuditEventInput => ({
  type: 'relay.request',
  stream: 's',
  actor: { id: 'a' },
  details: { n },
});

describe('RelayEventWriter', () => {
  it('makes record wait while the queue is full, and flush resolve once everything is written', async () => {
    const written: number[] = [];
    const releases: Array<() => void> = [];
    const writer = new RelayEventWriter(
      {
        append: (input) =>
          new Promise<AuditEvent>((resolve) =>
            releases.push(() => {
              written.push((input.details as { n: number }).n);
              resolve(input as unknown as AuditEvent);
            }),
          ),
      },
      { maxPending: 2, concurrency: 1 },
    );
    await writer.record(event(1));
    await writer.record(event(2));
    let thirdQueued = false;
    const third = writer.record(event(3)).then(() => (thirdQueued = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(thirdQueued).toBe(false);
    releases.shift()!();
    await third;
    expect(thirdQueued).toBe(true);
    const flushed = writer.flush();
    while (written.length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      releases.shift()?.();
    }
    await flushed;
    expect(written).toEqual([1, 2, 3]);
  });

  it('retries a failed write until it succeeds, refusing new work meanwhile', async () => {
    let failures = 2;
    const errors: unknown[] = [];
    const stored: AuditEventInput[] = [];
    const writer = new RelayEventWriter(
      {
        append: async (input) => {
          if (failures > 0) {
            failures -= 1;
            throw new Error('store down');
          }
          stored.push(input);
          return input as unknown as AuditEvent;
        },
      },
      {
        retryMs: 1,
        onWriteError: (error) => errors.push(error),
        sleep: () => new Promise((resolve) => setTimeout(resolve, 5)),
      },
    );
    await writer.record(event(1));
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(writer.accepting).toBe(false);
    await writer.flush();
    expect(writer.accepting).toBe(true);
    expect(stored).toHaveLength(1);
    expect(errors).toHaveLength(2);
  });
});

describe('GrantDirectory', () => {
  const grant = (status: 'active' | 'revoked', expiresAt = '2026-11-23T12:00:00.000Z') =>
    ({ id: 'g', requestId: 'r', via: 'relay', status, expiresAt, principal: { id: 'p' } }) as unknown as Grant;

  it('reads the store at most once per window, and sees a revocation after it', async () => {
    let now = Date.parse('2026-11-23T10:00:00Z');
    let current = grant('active');
    let reads = 0;
    const directory = new GrantDirectory(
      {
        getGrant: async () => {
          reads += 1;
          return current;
        },
        getRequest: async () => ({ ticket: 'INC-1' }) as AccessRequest,
      },
      { now: () => new Date(now) },
      2000,
    );
    expect(await directory.lookup('g')).toMatchObject({ active: true, value: { ticket: 'INC-1' } });
    current = grant('revoked');
    now += 1999;
    expect((await directory.lookup('g')).active).toBe(true);
    expect(reads).toBe(1);
    now += 1;
    expect(await directory.lookup('g')).toEqual({ active: false, reason: 'grant g is revoked' });
    expect(reads).toBe(2);
  });

  it('refuses an expired grant without a store read, a direct grant, and a store failure (read again next time)', async () => {
    let now = Date.parse('2026-11-23T11:59:59Z');
    let fail = true;
    const directory = new GrantDirectory(
      {
        getGrant: async (id) => {
          if (id === 'broken' && fail) throw new Error('timeout');
          return id === 'direct' ? ({ ...grant('active'), via: 'direct' } as Grant) : grant('active');
        },
        getRequest: async () => undefined,
      },
      { now: () => new Date(now) },
      5000,
    );
    expect((await directory.lookup('g')).active).toBe(true);
    now += 1000;
    expect(await directory.lookup('g')).toEqual({ active: false, reason: 'grant g has expired' });
    expect(await directory.lookup('direct')).toEqual({ active: false, reason: 'grant direct is not a relay grant' });
    expect(await directory.lookup('broken')).toEqual({
      active: false,
      reason: 'the status of grant broken could not be read',
    });
    fail = false;
    now -= 1000;
    expect((await directory.lookup('broken')).active).toBe(true);
  });
});
