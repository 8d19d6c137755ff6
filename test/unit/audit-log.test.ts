import { describe, expect, it } from 'vitest';
import { AuditLog, AuditWriteError, ChainConflictError, assertNoSecrets } from '../../shared/audit/audit-log.ts';
import type { ChainStore } from '../../shared/audit/audit-log.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import type { ChainHead } from '../../shared/audit/chain.ts';
import type { AuditEvent, AuditEventInput } from '../../shared/audit/event.ts';
import type { Clock, Ids } from '../../shared/ports.ts';

/** A chain store in memory with the same conditional-put contract as the DynamoDB one. */
class MemoryChainStore implements ChainStore {
  readonly streams = new Map<string, AuditEvent[]>();
  puts = 0;
  headReads = 0;

  async head(stream: string): Promise<ChainHead | undefined> {
    await Promise.resolve();
    this.headReads++;
    const last = this.streams.get(stream)?.at(-1);
    return last && { seq: last.chain.seq, hash: last.chain.hash };
  }

  async put(event: AuditEvent): Promise<void> {
    await Promise.resolve();
    this.puts++;
    const events = this.streams.get(event.chain.stream) ?? [];
    if (events.some((e) => e.chain.seq === event.chain.seq)) {
      throw new ChainConflictError(event.chain.stream, event.chain.seq);
    }
    events.push(event);
    events.sort((a, b) => a.chain.seq - b.chain.seq);
    this.streams.set(event.chain.stream, events);
  }
}

const clock: Clock = { now: () => new Date('2025-03-01T12:00:00.000Z') };
function counterIds(prefix = 'e'): Ids {
  let n = 0;
  return { next: () => `${prefix}${++n}` };
}
const noWait = { sleep: async () => {} };

function event(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return { type: 'grant.created', stream: 'grant/grt_1', actor: { id: 'system:test' }, grantId: 'grt_1', ...overrides };
}

describe('AuditLog', () => {
  it('appends events to their stream with consecutive seqs and a verifiable chain', async () => {
    const store = new MemoryChainStore();
    const log = new AuditLog(store, clock, counterIds(), noWait);

    const first = await log.append(event());
    const second = await log.append(event({ type: 'token.issued' }));
    const other = await log.append(event({ stream: 'grant/grt_2' }));

    expect([first.chain.seq, second.chain.seq, other.chain.seq]).toEqual([1, 2, 1]);
    expect(second.chain.prev).toBe(first.chain.hash);
    expect(first).toMatchObject({ id: 'e1', time: '2025-03-01T12:00:00.000Z', type: 'grant.created' });
    expect(verifyChain(store.streams.get('grant/grt_1')!)).toEqual([]);
  });

  it('lets separate writers on one stream all succeed with distinct seqs and no fork', async () => {
    const store = new MemoryChainStore();
    const writers = Array.from({ length: 10 }, (_, i) => new AuditLog(store, clock, counterIds(`w${i}-`), noWait));

    const events = await Promise.all(writers.map((log, i) => log.append(event({ details: { writer: i } }))));

    expect(events.map((e) => e.chain.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(verifyChain(store.streams.get('grant/grt_1')!)).toEqual([]);
    expect(store.puts).toBeGreaterThan(10);
  });

  it('queues appends to one stream inside one process, so they do not collide', async () => {
    const store = new MemoryChainStore();
    const log = new AuditLog(store, clock, counterIds(), noWait);

    const events = await Promise.all(Array.from({ length: 10 }, () => log.append(event())));

    expect(events.map((e) => e.chain.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(store.puts).toBe(10);
  });

  it('keeps serving a stream after one of its appends failed', async () => {
    const store = new MemoryChainStore();
    const log = new AuditLog(store, clock, counterIds(), noWait);

    const refused = log.append(event({ details: { token: 'k8s-aws-v1.abc' } }));
    const next = log.append(event());

    await expect(refused).rejects.toBeInstanceOf(AuditWriteError);
    await expect(next).resolves.toMatchObject({ chain: { seq: 1 } });
  });

  it('gives up with AuditWriteError after the bounded number of lost races', async () => {
    const always: ChainStore = {
      head: async () => undefined,
      put: async (e) => {
        puts++;
        throw new ChainConflictError(e.chain.stream, e.chain.seq);
      },
    };
    let puts = 0;
    const waits: number[] = [];
    const log = new AuditLog(always, clock, counterIds(), {
      maxAttempts: 5,
      random: () => 0.5,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

    await expect(log.append(event())).rejects.toThrow(/5 attempts lost to other writers/);
    expect(puts).toBe(5);
    expect(waits).toEqual([2, 4, 8, 16]);
  });

  it('fails closed with AuditWriteError when the store fails to read or write', async () => {
    const cause = new Error('connection refused');
    const headFails: ChainStore = { head: () => Promise.reject(cause), put: async () => {} };
    const putFails: ChainStore = { head: async () => undefined, put: () => Promise.reject(cause) };

    for (const store of [headFails, putFails]) {
      const failure = new AuditLog(store, clock, counterIds(), noWait).append(event());
      await expect(failure).rejects.toBeInstanceOf(AuditWriteError);
      await expect(failure).rejects.toMatchObject({ name: 'AuditWriteError', cause });
    }
  });

  it('fails closed when the clock or id source fails', async () => {
    const badClock: Clock = { now: () => new Date(Number.NaN) };

    await expect(
      new AuditLog(new MemoryChainStore(), badClock, counterIds(), noWait).append(event()),
    ).rejects.toBeInstanceOf(AuditWriteError);
  });
});

describe('AuditLog with rememberHeads', () => {
  it('reads a stream head once, then builds on the head it wrote', async () => {
    const store = new MemoryChainStore();
    const log = new AuditLog(store, clock, counterIds(), { ...noWait, rememberHeads: 8 });

    for (let i = 0; i < 5; i++) await log.append(event());

    expect(store.headReads).toBe(1);
    expect(store.streams.get('grant/grt_1')!.map((e) => e.chain.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(verifyChain(store.streams.get('grant/grt_1')!)).toEqual([]);
  });

  it('recovers when another writer appended meanwhile: a conflict, a re-read, and no fork', async () => {
    const store = new MemoryChainStore();
    const remembering = new AuditLog(store, clock, counterIds('a'), { ...noWait, rememberHeads: 8 });
    const other = new AuditLog(store, clock, counterIds('b'), noWait);

    await remembering.append(event());
    await other.append(event());
    const third = await remembering.append(event());

    expect(third.chain.seq).toBe(3);
    expect(store.headReads).toBe(3);
    expect(verifyChain(store.streams.get('grant/grt_1')!)).toEqual([]);
  });

  it('forgets the least recently written stream beyond its bound, and reads that one again', async () => {
    const store = new MemoryChainStore();
    const log = new AuditLog(store, clock, counterIds(), { ...noWait, rememberHeads: 2 });

    for (const stream of ['s/1', 's/2', 's/3']) await log.append(event({ stream }));
    const reads = store.headReads;
    await log.append(event({ stream: 's/3' }));
    await log.append(event({ stream: 's/2' }));
    await log.append(event({ stream: 's/1' }));

    expect(reads).toBe(3);
    expect(store.headReads).toBe(4);
    expect(store.streams.get('s/1')!.map((e) => e.chain.seq)).toEqual([1, 2]);
  });

  it('reads the head again after a put that failed for another reason (it may have been stored)', async () => {
    const store = new MemoryChainStore();
    const log = new AuditLog(store, clock, counterIds(), { ...noWait, rememberHeads: 8 });
    await log.append(event());
    const put = store.put.bind(store);
    store.put = async (stored) => {
      await put(stored);
      throw new Error('timed out after the write');
    };

    await expect(log.append(event())).rejects.toThrow(AuditWriteError);
    store.put = put;
    const next = await log.append(event());

    expect(next.chain.seq).toBe(3);
    expect(verifyChain(store.streams.get('grant/grt_1')!)).toEqual([]);
  });
});

describe('assertNoSecrets', () => {
  const jwt =
    'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJyZXBvOmFjbWUvYXBpIn0.c2lnbmF0dXJlX2J5dGVzX2hlcmVfYmFzZTY0dXJs';
  const eksToken = 'k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eQ';

  const leaks: [string, AuditEventInput][] = [
    ['a JWT in details', event({ details: { authorization: `Bearer ${jwt}` } })],
    ['an EKS token in details', event({ details: { token: eksToken } })],
    ['an EKS token deep in an array', event({ details: { steps: [{ output: ['ok', `token=${eksToken}`] }] } })],
    ['an unsigned JWT', event({ details: { t: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' } })],
    ['a presigned URL', event({ details: { url: 'https://sts.amazonaws.com/?X-Amz-Signature=abc' } })],
    ['a JWT in the actor', event({ actor: { id: jwt } })],
    ['a JWT as a key', event({ details: { [jwt]: true } })],
  ];

  it.each(leaks)('refuses %s without repeating it', (_what, leaky) => {
    let error: unknown;
    try {
      assertNoSecrets(leaky);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(AuditWriteError);
    expect((error as Error).message).not.toContain('eyJ');
    expect((error as Error).message).not.toContain('k8s-aws-v1.');
    expect((error as Error).message).not.toContain('X-Amz');
  });

  it('names where the secret was found', () => {
    expect(() => assertNoSecrets(event({ details: { nested: { token: eksToken } } }))).toThrow(
      'details.nested.token holds an EKS token',
    );
  });

  it('accepts fingerprints, paths, counts and ordinary text', () => {
    expect(() =>
      assertNoSecrets(
        event({
          details: {
            fingerprint: 'sha256:0123456789abcdef',
            masked: ['items[0].data.password'],
            count: 3,
            note: 'k8s-aws-v1 tokens are fingerprinted; eyJ is the start of a JWT header',
            roleArn: 'arn:aws:iam::123456789012:role/gatehouse-slot-0',
          },
        }),
      ),
    ).not.toThrow();
  });
});
