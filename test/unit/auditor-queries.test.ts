/**
 * The auditor's queries as pure domain: pages bounded by count, bytes and events scanned; cursors bound to their query;
 * the evidence digest walk (the hour before the range on, a key listed twice counted once, the current hour looked
 * at); and the report's escaping and policy.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RequestValidationError } from '../../shared/access/errors.ts';
import { buildEvent, type ChainHead } from '../../shared/audit/chain.ts';
import type { AuditEvent, AuditEventInput } from '../../shared/audit/event.ts';
import { GatehouseConfigSchema } from '../../shared/config/schema.ts';
import {
  HOUR_MS,
  archivedObjectEntry,
  digestKey,
  publicKeyKey,
  sha256Hex,
} from '../../shared/evidence/archive-layout.ts';
import { AuditorService } from '../../shared/evidence/auditor-service.ts';
import {
  buildDigestBody,
  digestSigningInput,
  publicKeySha256,
  signedDigestBytes,
} from '../../shared/evidence/digest.ts';
import { decodeCursor, parseEventQuery, queryId, readEventPage } from '../../shared/evidence/event-query.ts';
import type { ArchiveStore, AuditEventTimeline, EventPosition } from '../../shared/evidence/ports.ts';
import { renderEvidenceReport } from '../../shared/evidence/report.ts';
import type { Principal } from '../../shared/model.ts';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** Events of one stream `request/<n>`, one per minute from T0, with ids that sort in time order. */
function makeEvents(count: number, input: Partial<AuditEventInput> = {}): AuditEvent[] {
  const heads = new Map<string, ChainHead>();
  return Array.from({ length: count }, (_, index) => {
    const stream = `request/req_${index % 3}`;
    const event = buildEvent(
      {
        type: 'access.requested',
        stream,
        actor: { id: `local:ci:${index % 2 === 0 ? 'even' : 'odd'}` },
        subject: { cluster: index % 4 === 0 ? 'tight' : 'dev', namespaces: ['app'] },
        ...input,
      },
      heads.get(stream),
      `01J${String(index).padStart(23, '0')}`,
      new Date(T0 + index * 60_000),
    );
    heads.set(stream, { seq: event.chain.seq, hash: event.chain.hash });
    return event;
  });
}

/** The byTime index in memory: events in (time, id) order after a position, counting what was read. */
class MemoryTimeline implements AuditEventTimeline {
  read = 0;
  constructor(private readonly events: AuditEvent[]) {}
  async *eventsBetween(from: Date, to: Date, after?: EventPosition): AsyncIterable<AuditEvent> {
    for (const event of this.events) {
      if (event.time < from.toISOString() || event.time >= to.toISOString()) continue;
      if (after && (event.time < after.time || (event.time === after.time && event.id <= after.id))) continue;
      this.read += 1;
      yield event;
    }
  }
}

class MemoryArchive implements ArchiveStore {
  readonly objects = new Map<string, Uint8Array>();
  gets = 0;
  async putIfAbsent(key: string, body: Uint8Array): Promise<'written' | 'exists'> {
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, body);
    return 'written';
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    this.gets += 1;
    return this.objects.get(key);
  }
  async *list(): AsyncIterable<{ key: string; lastModified: Date }> {}
}

const RANGE = { from: new Date(T0), to: new Date(T0 + 10 * HOUR_MS) };

async function walkPages(
  timeline: AuditEventTimeline,
  options: { limit: number; maxBytes: number; maxScanned?: number },
) {
  const pages: AuditEvent[][] = [];
  let after: EventPosition | undefined;
  do {
    const page = await readEventPage(timeline, {
      range: RANGE,
      filters: { cluster: 'dev' },
      ...options,
      ...(after ? { after } : {}),
    });
    pages.push(page.events);
    after = page.next;
  } while (after && pages.length < 1000);
  return pages;
}

describe('readEventPage', () => {
  const events = makeEvents(40);
  const dev = events.filter((event) => event.subject?.cluster === 'dev').map((event) => event.id);

  it('pages by count: every match once, in order, and no cursor after the last', async () => {
    const pages = await walkPages(new MemoryTimeline(events), { limit: 4, maxBytes: 1e9 });

    expect(pages.flat().map((event) => event.id)).toEqual(dev);
    expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);
  });

  it('pages by bytes: a page stops before the event that would pass the bound, but holds at least one', async () => {
    const size = Buffer.byteLength(JSON.stringify(events[1]));

    const pages = await walkPages(new MemoryTimeline(events), { limit: 1000, maxBytes: size * 2.5 });

    expect(pages.flat().map((event) => event.id)).toEqual(dev);
    expect(Math.max(...pages.map((page) => page.length))).toBe(2);
    const tiny = await walkPages(new MemoryTimeline(events), { limit: 1000, maxBytes: 1 });
    expect(tiny.every((page) => page.length === 1)).toBe(true);
  });

  it('stops after scanning the bound and goes on from the last event read, even with a page short of matches', async () => {
    const timeline = new MemoryTimeline(events);

    const pages = await walkPages(timeline, { limit: 1000, maxBytes: 1e9, maxScanned: 5 });

    expect(pages.flat().map((event) => event.id)).toEqual(dev);
    expect(pages.length).toBe(8);
  });
});

describe('event query parameters and cursors', () => {
  const now = new Date(T0);

  it('defaults to the last day, 100 a page, and keeps only the filters given', () => {
    const query = parseEventQuery({ cluster: 'dev' }, now);

    expect(query).toEqual({
      range: { from: new Date(T0 - 86_400_000), to: now },
      filters: { cluster: 'dev' },
      limit: 100,
    });
  });

  it('refuses a cursor made for another query, or one that is not JSON of the right shape', () => {
    const id = queryId('events', RANGE, { cluster: 'dev' });
    const cursor = Buffer.from(
      JSON.stringify({
        v: 1,
        q: id,
        phase: 'events',
        after: { time: RANGE.from.toISOString(), id: events0().id },
        returned: 3,
      }),
    ).toString('base64url');

    expect(decodeCursor(cursor, id)).toMatchObject({ phase: 'events', returned: 3 });
    expect(() => decodeCursor(cursor, queryId('events', RANGE, { cluster: 'tight' }))).toThrow(RequestValidationError);
    expect(() => decodeCursor(cursor, queryId('evidence', RANGE))).toThrow(/another query/);
    expect(() => decodeCursor('%%%', id)).toThrow(/not a cursor/);
    expect(() => decodeCursor(Buffer.from('{"v":1}').toString('base64url'), id)).toThrow(/not a cursor/);
  });
});

function events0(): AuditEvent {
  return makeEvents(1)[0]!;
}

describe('AuditorService.exportEvidence digest walk', () => {
  const auditor: Principal = {
    id: 'local:auditor',
    issuer: 'x',
    issuerName: 'local',
    subject: 'auditor',
    groups: ['auditors'],
  };
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keySha = publicKeySha256(pem);

  /** Stores a signed digest of `hour` listing `events`, chained to the previous hour's if stored. */
  function storeDigest(archive: MemoryArchive, hour: number, listed: AuditEvent[]) {
    const previous = archive.objects.get(digestKey(new Date(hour - HOUR_MS)));
    const body = buildDigestBody({
      hour: new Date(hour),
      previous: previous ? { hour: new Date(hour - HOUR_MS), bytes: previous } : undefined,
      objects: listed.map(archivedObjectEntry),
      signedAt: new Date(hour + HOUR_MS + 600_000),
      keyId: 'local:test',
      publicKeySha256: keySha,
    });
    const signature = sign('sha256', digestSigningInput(body), { key: privateKey, dsaEncoding: 'der' });
    archive.objects.set(
      digestKey(new Date(hour)),
      signedDigestBytes({ digest: body, signature: signature.toString('base64') }),
    );
  }

  function service(events: AuditEvent[], archive: MemoryArchive, now: number) {
    const appended: AuditEventInput[] = [];
    const config = GatehouseConfigSchema.parse({
      version: 1,
      issuers: [{ name: 'local', issuer: 'http://127.0.0.1:1', audience: 'gatehouse' }],
      clusters: [
        {
          name: 'dev',
          region: 'eu-west-1',
          account: '111122223333',
          accessLevels: { view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy' },
        },
      ],
      policies: { files: ['a.cedar'] },
      auditors: { groups: ['auditors'] },
    });
    const auditors = new AuditorService({
      config,
      timeline: new MemoryTimeline(events),
      archive,
      audit: { append: async (input) => (appended.push(input), {} as AuditEvent) },
      clock: { now: () => new Date(now) },
    });
    return { auditors, appended };
  }

  it('returns the digests from the hour before the range until the one that lists the last event, counting a re-listed key once', async () => {
    // Six events from 10:00, one a minute; archived: 10:00–10:03 in hour 10, the rest in hour 12 (late), and a replayed
    // batch lists two of hour 10's again in hour 11. Hour 13 exists but is not needed.
    const events = makeEvents(6);
    const archive = new MemoryArchive();
    archive.objects.set(publicKeyKey(keySha), Buffer.from(pem));
    storeDigest(archive, T0 - HOUR_MS, []);
    storeDigest(archive, T0, events.slice(0, 4));
    storeDigest(archive, T0 + HOUR_MS, events.slice(0, 2));
    storeDigest(archive, T0 + 2 * HOUR_MS, events.slice(4));
    storeDigest(archive, T0 + 3 * HOUR_MS, []);
    const { auditors, appended } = service(events, archive, T0 + 5 * HOUR_MS);

    const answer = await auditors.exportEvidence(auditor, {
      from: RANGE.from.toISOString(),
      to: RANGE.to.toISOString(),
    });

    expect(answer.events.map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(answer.digests.map((digest) => digest.hour)).toEqual(
      [-1, 0, 1, 2].map((h) => new Date(T0 + h * HOUR_MS).toISOString()),
    );
    for (const digest of answer.digests)
      expect(digest.body).toBe(Buffer.from(archive.objects.get(digest.key)!).toString('utf8'));
    expect(answer.publicKeys).toEqual([{ sha256: keySha, key: publicKeyKey(keySha), pem }]);
    expect(answer.coverage).toEqual({ exportedEvents: 6, uncoveredEvents: 0 });
    expect(answer.nextCursor).toBeNull();
    expect(appended.at(-1)).toMatchObject({ type: 'evidence.exported', details: { events: 6, more: false } });
  });

  it('stops at the current hour and says how many events no digest lists yet', async () => {
    const events = makeEvents(3);
    const archive = new MemoryArchive();
    storeDigest(archive, T0, events.slice(0, 1));
    const { auditors } = service(events, archive, T0 + HOUR_MS + 60_000);

    const answer = await auditors.exportEvidence(auditor, {
      from: RANGE.from.toISOString(),
      to: RANGE.to.toISOString(),
    });

    expect(answer.digests.map((digest) => digest.hour)).toEqual([new Date(T0).toISOString()]);
    expect(answer.coverage).toEqual({ exportedEvents: 3, uncoveredEvents: 2 });
    expect(sha256Hex(answer.digests[0]!.body)).toBe(sha256Hex(archive.objects.get(digestKey(new Date(T0)))!));
  });

  it('refuses a non-auditor and records the refusal before anything is read', async () => {
    const archive = new MemoryArchive();
    const { auditors, appended } = service(makeEvents(2), archive, T0 + HOUR_MS);

    await expect(auditors.exportEvidence({ ...auditor, id: 'local:ci:x', groups: ['ci'] }, {})).rejects.toThrow(
      /only auditors/,
    );

    expect(appended).toMatchObject([{ type: 'audit.read.refused', details: { route: 'evidence' } }]);
    expect(archive.gets).toBe(0);
  });
});

describe('renderEvidenceReport', () => {
  it('escapes every value and loads nothing: no script, no external URL, a CSP that admits only its own style', () => {
    const hostile = '"><script>alert(1)</script><img src=https://evil.example/x>';
    const events = makeEvents(1, {
      actor: { id: `local:${hostile}` },
      subject: { cluster: hostile, namespaces: [hostile] },
      requestId: 'req_1',
      details: { purpose: hostile, ticket: hostile, access: hostile },
    });

    const html = renderEvidenceReport({
      range: { from: RANGE.from.toISOString(), to: RANGE.to.toISOString() },
      generatedAt: RANGE.to.toISOString(),
      events,
      digests: [],
      uncoveredEvents: 0,
    });

    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/\s(?:src|href)\s*=\s*["']/);
    expect(html).toContain('&#34;&#62;&#60;script&#62;');
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-[A-Za-z0-9+/=]+&#39;/,
    );
  });
});
