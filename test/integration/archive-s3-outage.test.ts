/**
 * Fault tests: S3 failing for a while loses no event. A proxy in front of s3rver answers 500 InternalError while
 * `failing` is set; the real audit-archive handler runs on the local events stream (dynalite) through it. A short
 * outage is ridden out by the stream's retries; a longer one ends in the dead-letter file, which `gatehouse audit
 * redrive --local` empties back into the archive. Completeness is checked event by event against DynamoDB, bytes
 * included (checkCompleteness, as `audit verify` and the reconciliation run it).
 */
import { writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../support/api.ts';
import { LocalDeadLetters, LOCAL_DEAD_LETTER_FILE } from '../../shared/adapters/local/local-dead-letters.ts';
import { archiveObjectKey } from '../../shared/evidence/archive-layout.ts';
import { checkCompleteness, type StoredObject } from '../../shared/evidence/verifier.ts';
import { redriveCommand } from '../../cli/commands/audit-redrive.ts';
import { startLocalArchiving, type LocalArchiving } from '../../local/event-stream.ts';
import type { LocalState } from '../../local/start.ts';
import {
  appendEvents,
  manifestListings,
  startArchiveFixture,
  tableEvents,
  type ArchiveFixture,
} from '../support/archive.ts';

/** s3rver behind a switch: while `failing`, every request gets a 500; PUTs that reach s3rver and succeed are counted. */
async function faultyProxy(upstream: string) {
  const target = new URL(upstream);
  const state = { failing: false, storedPuts: new Map<string, number>() };
  const server: Server = createServer((incoming, outgoing) => {
    if (state.failing) {
      incoming.resume();
      outgoing.writeHead(500, { 'content-type': 'application/xml' });
      outgoing.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>',
      );
      return;
    }
    const forwarded = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        if (incoming.method === 'PUT' && (answer.statusCode ?? 500) < 300) {
          const key = decodeURIComponent(new URL(incoming.url!, upstream).pathname.split('/').slice(2).join('/'));
          state.storedPuts.set(key, (state.storedPuts.get(key) ?? 0) + 1);
        }
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('the archive through an S3 outage', () => {
  let fixture: ArchiveFixture;
  let proxy: Awaited<ReturnType<typeof faultyProxy>>;
  let archiving: LocalArchiving;

  beforeAll(async () => {
    fixture = await startArchiveFixture();
    proxy = await faultyProxy(fixture.s3.endpoint);
    archiving = await startLocalArchiving({
      dynamo: { ...fixture.dynamo, tables: fixture.dynamo.names },
      archive: fixture.store(proxy.url),
      dataDir: fixture.directory,
      persistent: false,
      settings: {
        batchSize: 10,
        maxRetryAttempts: 3,
        initialBackoffMs: 50,
        maxBackoffMs: 400,
        pollIntervalMs: 3_600_000,
      },
    });
  });

  afterAll(async () => {
    await archiving.stop();
    await proxy.close();
    await fixture.stop();
  });

  /** Every event of dynalite against the archive's objects: problems by location, and events not archived yet. */
  async function completeness() {
    const store = fixture.store();
    const objects: StoredObject[] = [];
    for await (const { key } of store.list('events/')) objects.push({ key, bytes: (await store.get(key))! });
    const events = await tableEvents(fixture);
    const listed = await manifestListings(fixture);
    return {
      events,
      ...checkCompleteness(events, objects),
      unlisted: events.filter((event) => !listed.has(archiveObjectKey(event))).map((event) => event.id),
      storedMoreThanOnce: [...proxy.state.storedPuts].filter(([key, count]) => key.startsWith('events/') && count > 1),
    };
  }

  it('archives every event exactly once, with its bytes, after a short outage', async () => {
    proxy.state.failing = true;
    await appendEvents(fixture, 25, 4);

    const flushed = archiving.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    proxy.state.failing = false;
    await flushed;

    const result = await completeness();
    expect(result.events).toHaveLength(25);
    expect(result.problems.map((problem) => problem.message)).toEqual([]);
    expect(result.unlisted).toEqual([]);
    expect(result.storedMoreThanOnce).toEqual([]);
    expect(archiving.deadLetters.pending()).toEqual([]);
    expect(archiving.stream.stats.invocations).toBeGreaterThan(3);
  });

  it('dead-letters what an outage longer than the retries holds back, and the redrive completes the archive', async () => {
    proxy.state.failing = true;
    await appendEvents(fixture, 15, 3);

    await archiving.flush();
    proxy.state.failing = false;

    const during = await completeness();
    expect(during.problems.filter((problem) => problem.kind === 'not-archived')).toHaveLength(15);
    const deadLetters = new LocalDeadLetters(join(fixture.directory, LOCAL_DEAD_LETTER_FILE));
    expect(deadLetters.pending()).toHaveLength(2);

    // `audit redrive --local` finds the running stores through the state file, as with `gatehouse local`.
    const state: LocalState = {
      apiUrl: 'http://127.0.0.1:9',
      issuerUrl: 'http://127.0.0.1:9',
      audience: 'gatehouse',
      stores: { dynamodb: fixture.dynamo.endpoint, s3: fixture.s3.endpoint },
    };
    writeFileSync(join(fixture.directory, 'local.json'), JSON.stringify(state));
    const output: string[] = [];
    await redriveCommand({ stdout: (text) => output.push(text) }).parseAsync(
      ['--local', '--data-dir', fixture.directory],
      {
        from: 'user',
      },
    );

    expect(output.join('')).toMatch(/2 of 2 dead letters redriven\n$/);
    expect(deadLetters.pending()).toEqual([]);
    const after = await completeness();
    expect(after.events).toHaveLength(40);
    expect(after.problems.map((problem) => problem.message)).toEqual([]);
    expect(after.unlisted).toEqual([]);
    expect(after.storedMoreThanOnce).toEqual([]);
  });
});
