import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, buildEvent, canonicalJson, computeEventHash, verifyChain } from '../../shared/audit/chain.ts';
import type { AuditEvent, AuditEventInput } from '../../shared/audit/event.ts';
import { fingerprint } from '../../shared/audit/fingerprint.ts';

const T0 = Date.parse('2025-03-01T12:00:00.000Z');

function input(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: 'access.requested',
    stream: 'request/req_1',
    actor: { id: 'github:repo:acme/api', issuer: 'https://token.actions.githubusercontent.com', groups: ['ci'] },
    subject: { cluster: 'prod', namespaces: ['payments', 'web'] },
    requestId: 'req_1',
    details: { purpose: 'deploy', durationSeconds: 900, nested: { list: [1, 'two', { three: true }] } },
    ...overrides,
  };
}

/** A valid chain of `length` events on one stream. */
function chain(length: number, stream = 'request/req_1'): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (let i = 0; i < length; i++) {
    const head = events.at(-1);
    events.push(
      buildEvent(
        input({ stream, details: { step: i } }),
        head && { seq: head.chain.seq, hash: head.chain.hash },
        `01JNEVENT${String(i).padStart(17, '0')}`,
        new Date(T0 + i * 1000),
      ),
    );
  }
  return events;
}

const clone = <T>(value: T): T => structuredClone(value);

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('is the same for objects that differ only in key order', () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(canonicalJson({ y: { q: 2, p: 1 }, x: 1 }));
  });

  it('drops undefined members and writes undefined array items as null, as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1], c: null })).toBe('{"b":[null,1],"c":null}');
  });

  it('keeps array order, escapes strings and honours toJSON', () => {
    expect(canonicalJson(['b', 'a', 'é"\n'])).toBe('["b","a","é\\"\\n"]');
    expect(canonicalJson({ at: new Date(T0) })).toBe('{"at":"2025-03-01T12:00:00.000Z"}');
  });

  it('refuses values that would not survive storage unchanged', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });
});

describe('buildEvent', () => {
  it('starts a stream at seq 1 chained to the genesis hash', () => {
    const event = buildEvent(input(), undefined, '01JNEVENT1', new Date(T0));

    expect(event).toMatchObject({
      schema: 'gatehouse.event/v1',
      id: '01JNEVENT1',
      time: '2025-03-01T12:00:00.000Z',
      type: 'access.requested',
      requestId: 'req_1',
      chain: { stream: 'request/req_1', seq: 1, prev: GENESIS_HASH },
    });
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
    expect(event).not.toHaveProperty('stream');
  });

  it('extends the head it is given', () => {
    const first = buildEvent(input(), undefined, 'e1', new Date(T0));
    const second = buildEvent(input(), { seq: first.chain.seq, hash: first.chain.hash }, 'e2', new Date(T0 + 1));

    expect(second.chain).toMatchObject({ seq: 2, prev: first.chain.hash });
  });

  it('hashes the canonical JSON of the event without chain.hash', () => {
    const event = buildEvent(input(), undefined, 'e1', new Date(T0));
    const { hash, ...link } = event.chain;
    const expected = createHash('sha256')
      .update(canonicalJson({ ...event, chain: link }))
      .digest('hex');

    expect(hash).toBe(expected);
    expect(computeEventHash(event)).toBe(hash);
  });

  it('returns plain data: undefined members dropped and later changes to the input have no effect', () => {
    const source = input({ details: { note: undefined, list: ['a'] }, grantId: undefined });
    const event = buildEvent(source, undefined, 'e1', new Date(T0));
    (source.details!.list as string[]).push('b');

    expect(event.details).toEqual({ list: ['a'] });
    expect(Object.keys(event.details!)).toEqual(['list']);
    expect(event).not.toHaveProperty('grantId');
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
    expect(verifyChain([JSON.parse(JSON.stringify(event)) as AuditEvent])).toEqual([]);
  });

  it('refuses an event with no stream and a malformed head', () => {
    expect(() => buildEvent(input({ stream: '' }), undefined, 'e1', new Date(T0))).toThrow(/stream/);
    expect(() => buildEvent(input(), { seq: 0, hash: GENESIS_HASH }, 'e1', new Date(T0))).toThrow(/malformed/);
    expect(() => buildEvent(input(), { seq: 1, hash: 'abc' }, 'e1', new Date(T0))).toThrow(/malformed/);
  });
});

describe('verifyChain', () => {
  it('finds no problem in an intact chain or an empty list', () => {
    expect(verifyChain(chain(5))).toEqual([]);
    expect(verifyChain([])).toEqual([]);
  });

  const tamperings: [string, (event: AuditEvent) => void][] = [
    ['type', (e) => void (e.type = 'grant.revoked')],
    ['time', (e) => void (e.time = '2025-03-01T12:00:02.001Z')],
    ['id', (e) => void (e.id = 'forged')],
    ['schema', (e) => void ((e as { schema: string }).schema = 'gatehouse.event/v2')],
    ['actor.id', (e) => void (e.actor.id = 'github:someone-else')],
    ['actor.groups', (e) => void e.actor.groups!.push('admins')],
    ['subject.cluster', (e) => void (e.subject!.cluster = 'staging')],
    ['subject.namespaces order', (e) => void e.subject!.namespaces!.reverse()],
    ['requestId', (e) => void (e.requestId = 'req_2')],
    ['an added grantId', (e) => void (e.grantId = 'grt_1')],
    ['details value', (e) => void (e.details!.step = 99)],
    ['an added details key', (e) => void (e.details!.extra = 'x')],
    ['a removed details key', (e) => void delete e.details!.step],
    ['removed details', (e) => void delete e.details],
  ];

  it.each(tamperings)('detects a change to %s as a hash problem at that event', (_field, tamper) => {
    const events = chain(4);
    tamper(events[2]!);

    const problems = verifyChain(events);

    expect(problems).toEqual([
      expect.objectContaining({ kind: 'hash', seq: 3, eventId: events[2]!.id, stream: 'request/req_1' }),
    ]);
  });

  it('detects an event whose hash was recomputed after tampering, by the next event’s prev', () => {
    const events = chain(4);
    events[1]!.details!.step = 'rewritten';
    events[1]!.chain.hash = computeEventHash(events[1]!);

    expect(verifyChain(events)).toEqual([expect.objectContaining({ kind: 'prev', seq: 3, eventId: events[2]!.id })]);
  });

  it('detects a rewritten prev and a rewritten seq', () => {
    const prevChanged = chain(3);
    prevChanged[1]!.chain.prev = GENESIS_HASH;
    expect(verifyChain(prevChanged).map((p) => [p.kind, p.seq])).toEqual([
      ['hash', 2],
      ['prev', 2],
    ]);

    const seqChanged = chain(3);
    seqChanged[2]!.chain.seq = 4;
    expect(verifyChain(seqChanged).map((p) => [p.kind, p.seq])).toEqual([
      ['hash', 4],
      ['gap', 4],
    ]);
  });

  it('names a gap with the missing seqs', () => {
    const events = chain(6);
    const withGap = [events[0]!, events[1]!, events[4]!, events[5]!];

    const problems = verifyChain(withGap);

    expect(problems).toEqual([expect.objectContaining({ kind: 'gap', seq: 5, eventId: events[4]!.id })]);
    expect(problems[0]!.message).toContain('seqs 3..4 are missing');
  });

  it('detects a missing first event', () => {
    const events = chain(3).slice(1);

    expect(verifyChain(events)).toEqual([expect.objectContaining({ kind: 'gap', seq: 2 })]);
  });

  it('detects reordered events', () => {
    const events = chain(4);
    const reordered = [events[0]!, events[2]!, events[1]!, events[3]!];

    expect(verifyChain(reordered).map((p) => [p.kind, p.seq])).toEqual([
      ['gap', 3],
      ['order', 2],
    ]);
  });

  it('detects a fork: a second, different event at a taken seq', () => {
    const events = chain(3);
    const rival = buildEvent(
      input({ details: { step: 'rival' } }),
      { seq: events[0]!.chain.seq, hash: events[0]!.chain.hash },
      'rival',
      new Date(T0 + 5),
    );

    const problems = verifyChain([events[0]!, events[1]!, rival, events[2]!]);

    expect(problems).toEqual([expect.objectContaining({ kind: 'fork', seq: 2, eventId: 'rival' })]);
    expect(problems[0]!.message).toContain('a second event claims this seq');
  });

  it('detects a duplicated event', () => {
    const events = chain(3);

    const problems = verifyChain([events[0]!, events[1]!, clone(events[1]!), events[2]!]);

    expect(problems.map((p) => [p.kind, p.seq])).toEqual([
      ['duplicate-id', 2],
      ['fork', 2],
    ]);
  });

  it('detects an event of another stream spliced in, even with a valid hash', () => {
    const events = chain(3);
    const foreign = chain(2, 'request/req_other')[1]!;

    const problems = verifyChain([events[0]!, foreign, events[2]!]);

    expect(problems.map((p) => p.kind)).toEqual(['stream', 'prev', 'prev']);
    expect(problems[0]).toMatchObject({ seq: 2, eventId: foreign.id });
  });

  it('checks the stream named in the options instead of the first event’s', () => {
    expect(verifyChain(chain(2), { stream: 'request/req_2' }).map((p) => p.kind)).toEqual(['stream', 'stream']);
  });

  it('verifies a tail from a known link', () => {
    const events = chain(5);
    const tail = events.slice(3);
    const after = { seq: events[2]!.chain.seq, hash: events[2]!.chain.hash };

    expect(verifyChain(tail, { after })).toEqual([]);
    expect(verifyChain(tail, { after: { seq: 3, hash: GENESIS_HASH } })).toEqual([
      expect.objectContaining({ kind: 'prev', seq: 4 }),
    ]);
  });

  it('reports a malformed event instead of throwing', () => {
    const events = chain(2);
    const broken = { ...clone(events[1]!), chain: undefined } as unknown as AuditEvent;

    expect(verifyChain([events[0]!, broken])).toEqual([expect.objectContaining({ kind: 'malformed' })]);
  });
});

describe('fingerprint', () => {
  it('is sha256: and the first 16 hex characters of the SHA-256 of the secret', () => {
    const secret = 'k8s-aws-v1.aHR0cHM6Ly9zdHM';
    const full = createHash('sha256').update(secret).digest('hex');

    expect(fingerprint(secret)).toBe(`sha256:${full.slice(0, 16)}`);
    expect(fingerprint(secret)).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(fingerprint('other')).not.toBe(fingerprint(secret));
  });
});

describe('buildEvent hashes what it stores', () => {
  it('gives the hash computeEventHash gives for the stored event, whatever the details hold', () => {
    const details = {
      b: [1, 'two', { z: null, a: true }],
      a: 'ünïcödé 🧾',
      n: 1.5e-7,
      nested: { y: undefined, x: -0 },
    };
    const event = buildEvent(
      { type: 'relay.request', stream: 'relay/g/1/0', actor: { id: 'p' }, details },
      { seq: 4, hash: 'a'.repeat(64) },
      '01TEST',
      new Date('2026-11-23T10:00:00Z'),
    );
    expect(event.chain.hash).toBe(computeEventHash(event));
    expect(event.chain).toMatchObject({ stream: 'relay/g/1/0', seq: 5, prev: 'a'.repeat(64) });
  });
});
