import './../support/api.ts';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/audit-archive.ts';
import { useArchiveRuntime } from '../../functions/lib/archive-runtime.ts';
import { logger, metrics } from '../../functions/lib/observability.ts';
import { systemClock, ulidIds } from '../../shared/adapters/system.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { archiveObjectKey } from '../../shared/evidence/archive-layout.ts';
import type { ArchiveStore } from '../../shared/evidence/ports.ts';
import { lambdaContext } from '../../local/api-server.ts';
import {
  appendEvents,
  archiveDifferences,
  insertRecords,
  manifestListings,
  startArchiveFixture,
  type ArchiveFixture,
} from '../support/archive.ts';

describe('audit-archive on dynalite items and s3rver', () => {
  let fixture: ArchiveFixture;
  let events: AuditEvent[];
  let records: DynamoDBRecord[];

  const invoke = (batch: DynamoDBRecord[]) =>
    handler({ Records: batch }, lambdaContext('audit-archive') as Context, {
      signal: new AbortController().signal,
    }) as Promise<DynamoDBBatchResponse>;
  const install = (archive: ArchiveStore) => useArchiveRuntime({ archive, clock: systemClock, ids: ulidIds });

  beforeAll(async () => {
    fixture = await startArchiveFixture();
    events = await appendEvents(fixture, 12);
    records = await insertRecords(fixture);
  });

  afterEach(() => {
    useArchiveRuntime(undefined);
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    await fixture.stop();
  });

  it('archives every event of a batch once, byte for byte, and lists each in the manifest', async () => {
    install(fixture.store());
    const before = fixture.puts.length;

    expect(await invoke(records)).toEqual({ batchItemFailures: [] });

    const keys = events.map((event) => archiveObjectKey(event));
    const puts = fixture.puts.slice(before);
    expect(puts.filter((key) => key.startsWith('events/')).sort()).toEqual([...keys].sort());
    expect(puts.filter((key) => key.startsWith('manifests/'))).toHaveLength(1);
    expect(await archiveDifferences(fixture, events)).toEqual([]);
    const listed = await manifestListings(fixture);
    expect(keys.map((key) => listed.get(key))).toEqual(keys.map(() => 1));
  });

  it('writes no event object twice when the batch is replayed, and lists the events again', async () => {
    install(fixture.store());
    const before = fixture.puts.length;

    expect(await invoke(records)).toEqual({ batchItemFailures: [] });

    const puts = fixture.puts.slice(before);
    expect(puts.filter((key) => key.startsWith('events/'))).toEqual([]);
    expect(puts.filter((key) => key.startsWith('manifests/'))).toHaveLength(1);
    const listed = await manifestListings(fixture);
    expect(events.map((event) => listed.get(archiveObjectKey(event)))).toEqual(events.map(() => 2));
  });

  it('does not archive a changed item: logs its keys and counts AuditItemChanged', async () => {
    install(fixture.store());
    const warn = vi.spyOn(logger, 'warn');
    const metric = vi.spyOn(metrics, 'addMetric');
    const modify: DynamoDBRecord = {
      ...records[0]!,
      eventName: 'MODIFY',
      dynamodb: { ...records[0]!.dynamodb!, SequenceNumber: '900000000000000000001' },
    };
    const remove: DynamoDBRecord = {
      ...records[1]!,
      eventName: 'REMOVE',
      dynamodb: { Keys: records[1]!.dynamodb!.Keys, SequenceNumber: '900000000000000000002' },
    };
    const before = fixture.puts.length;

    expect(await invoke([modify, remove])).toEqual({ batchItemFailures: [] });

    expect(fixture.puts.slice(before)).toEqual([]);
    expect(metric).toHaveBeenCalledWith('AuditItemChanged', 'Count', 1);
    expect(metric.mock.calls.filter(([name]) => name === 'AuditItemChanged')).toHaveLength(2);
    expect(warn).toHaveBeenCalledWith('audit event item changed: events are append-only', {
      change: {
        eventName: 'MODIFY',
        stream: events[0]!.chain.stream,
        seq: String(events[0]!.chain.seq),
        sequenceNumber: '900000000000000000001',
      },
    });
    // The changed image itself never reaches a log.
    expect(JSON.stringify(warn.mock.calls)).not.toContain('run 0');
  });

  it('reports the sequence number of the first record it could not archive', async () => {
    const store = fixture.store();
    const failing = new Set([archiveObjectKey(events[7]!), archiveObjectKey(events[4]!)]);
    install({
      ...store,
      get: (key) => store.get(key),
      list: (prefix, after) => store.list(prefix, after),
      putIfAbsent: (key, body, sha256) =>
        failing.has(key)
          ? Promise.reject(new Error(`archive object ${key} could not be written`))
          : store.putIfAbsent(key, body, sha256),
    });
    // Records come in time order, as the events were appended.
    expect(records.map((record) => record.dynamodb!.NewImage!.id!.S)).toEqual(events.map((event) => event.id));
    const before = fixture.puts.length;

    const response = await invoke(records);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: records[4]!.dynamodb!.SequenceNumber }] });
    const written = fixture.puts.slice(before);
    expect(written.some((key) => failing.has(key))).toBe(false);
  });

  it('fails the whole batch when its manifest cannot be written, so the retry lists the events', async () => {
    const store = fixture.store();
    install({
      get: (key) => store.get(key),
      list: (prefix, after) => store.list(prefix, after),
      putIfAbsent: (key, body, sha256) =>
        key.startsWith('manifests/')
          ? Promise.reject(new Error('manifest refused'))
          : store.putIfAbsent(key, body, sha256),
    });

    expect(await invoke(records.slice(3, 6))).toEqual({
      batchItemFailures: [{ itemIdentifier: records[3]!.dynamodb!.SequenceNumber }],
    });
  });
});
