/**
 * `gatehouse replay` end to end: a session recorded as the relay records it (asciicast writer, session.started /
 * session.ended, relay.request) is stored in the local runtime's stores (dynalite + s3rver on a data directory) and in
 * an evidence export, then replayed through the CLI: the output as shown, nothing typed; a recording changed after the
 * session ended is refused (exit 1); an unknown session or bad usage exits 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../cli/commands/evidence.ts';
import { DynamoDbChainStore } from '../../shared/adapters/aws/dynamodb-chain-store.ts';
import { S3ArchiveStore } from '../../shared/adapters/aws/s3-archive-store.ts';
import { openLocalStores } from '../../local/local-stores.ts';
import { recordSession, type RecordedSession } from '../support/session-recordings.ts';
import { runCli } from '../support/cli.ts';

const SESSION = '01KBCDEFGHJKMNPQRSTVWXYZ00';
const UNKNOWN = '01KBCDEFGHJKMNPQRSTVWXYZ77';
const OUTPUT = '$ id\r\nuid=1000(app) gid=1000(app)\r\n$ cat /data/patient.txt\r\nMRN [masked:mrn]\r\n$ exit\r\n';

let work: string;
let recorded: RecordedSession;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gatehouse-replay-'));
  recorded = recordSession({
    sessionId: SESSION,
    grantId: 'grt_01KBCDEFGHJKMNPQRSTVWXYZ00',
    requestId: 'req_01KBCDEFGHJKMNPQRSTVWXYZ00',
    start: new Date('2026-03-01T10:00:00.000Z'),
    masked: 1,
    steps: [
      { atMs: 50, output: '$ ' },
      { atMs: 400, input: 'id\r' },
      { atMs: 420, output: 'id\r\nuid=1000(app) gid=1000(app)\r\n$ ' },
      { atMs: 900, input: 'cat /data/patient.txt\r' },
      { atMs: 950, output: 'cat /data/patient.txt\r\nMRN [masked:mrn]\r\n' },
      { atMs: 960, resize: [120, 40] },
      { atMs: 30_000, output: '$ ' },
      { atMs: 30_100, input: 'exit\r' },
      { atMs: 30_110, output: 'exit\r\n' },
    ],
  });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** An evidence export holding the session, as gatehouse evidence writes it. */
function writeExport(name: string): string {
  const out = join(work, name);
  const bundle = buildBundle(
    {
      range: { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' },
      events: recorded.events,
      digests: new Map(),
      publicKeys: new Map(),
      uncoveredEvents: 0,
      recordings: [
        {
          ref: {
            sessionId: SESSION,
            key: recorded.key,
            sha256: recorded.sha256,
            bytes: recorded.bytes.length,
            endedAt: recorded.events[1]!.time,
          },
          bytes: recorded.bytes,
        },
      ],
    },
    new Date('2026-03-02T00:00:00.000Z'),
  );
  for (const [path, bytes] of bundle.files) {
    const file = join(out, ...path.split('/'));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  return out;
}

describe('gatehouse replay --dir (an evidence export)', () => {
  it('plays the output as shown, without what was typed, and names the checked recording on stderr', async () => {
    const dir = writeExport('export');

    const result = await runCli(['replay', SESSION, '--dir', dir, '--speed', '50', '--max-wait', '0.5']);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(OUTPUT);
    expect(result.stderr).toContain(`${recorded.key}, SHA-256 ${recorded.sha256} as session.ended names it`);
  });

  it('--print writes the same text at once; --no-play only checks', async () => {
    const dir = writeExport('export-print');

    const printed = await runCli(['replay', SESSION, '--dir', dir, '--print']);
    const checked = await runCli(['replay', SESSION, '--dir', dir, '--no-play']);

    expect(printed).toMatchObject({ code: 0, stdout: OUTPUT });
    expect(checked).toMatchObject({ code: 0, stdout: '' });
  });

  it('refuses a recording changed after the session ended (exit 1) and writes none of it', async () => {
    const dir = writeExport('export-tampered');
    const file = join(dir, ...recorded.key.split('/'));
    writeFileSync(file, readFileSync(file, 'utf8').replace('[masked:mrn]', 'MRN-4471-22'));

    const result = await runCli(['replay', SESSION, '--dir', dir, '--print']);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/refusing to replay session .*changed after the session ended/);
  });

  it('exits 2 with one line for an unknown session, a bad id or no source', async () => {
    const dir = writeExport('export-unknown');

    const unknown = await runCli(['replay', UNKNOWN, '--dir', dir]);
    const bad = await runCli(['replay', 'not-a-session', '--dir', dir]);
    const none = await runCli(['replay', SESSION]);

    expect(unknown).toMatchObject({ code: 2, stderr: `gatehouse: no session.ended event for session ${UNKNOWN}\n` });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(none.code).toBe(2);
  });

  it('--file alone plays a recording unchecked, and says so', async () => {
    const file = join(work, 'loose.cast');
    writeFileSync(file, recorded.bytes);

    const result = await runCli(['replay', '--file', file, '--print']);

    expect(result).toMatchObject({ code: 0, stdout: OUTPUT });
    expect(result.stderr).toContain('played unchecked');
  });
});

describe('gatehouse replay --local (dynalite and s3rver on the data directory)', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = join(work, 'local-data');
    const stores = await openLocalStores(dataDir);
    try {
      const table = new DynamoDbChainStore(stores.dynamodb, stores.eventsTable);
      for (const event of recorded.events) await table.put(event);
      await new S3ArchiveStore(stores.s3, stores.bucket).putIfAbsent(recorded.key, recorded.bytes, recorded.sha256);
      const other = recordSession({
        sessionId: '01KBCDEFGHJKMNPQRSTVWXYZ11',
        grantId: 'grt_01KBCDEFGHJKMNPQRSTVWXYZ00',
        requestId: 'req_01KBCDEFGHJKMNPQRSTVWXYZ00',
        start: new Date('2026-03-01T11:00:00.000Z'),
        steps: [{ atMs: 10, output: 'the original\r\n' }],
      });
      for (const event of other.events) await table.put(event);
      // What the bucket holds is not what session.ended names: a recording replaced after the fact.
      const forged = Buffer.from(other.bytes.toString('utf8').replace('the original', 'a forgery!!!'));
      await new S3ArchiveStore(stores.s3, stores.bucket).putIfAbsent(other.key, forged, other.sha256);
    } finally {
      await stores.close();
    }
  }, 60_000);

  it('finds the session in the events table and plays its recording from the bucket', async () => {
    const result = await runCli(['replay', SESSION, '--local', '--data-dir', dataDir, '--max-wait', '0']);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(OUTPUT);
  }, 60_000);

  it('refuses a recording whose bytes are not those session.ended names (exit 1)', async () => {
    const result = await runCli(['replay', '01KBCDEFGHJKMNPQRSTVWXYZ11', '--local', '--data-dir', dataDir, '--print']);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('changed after the session ended');
  }, 60_000);

  it('exits 2 for a session the table does not know', async () => {
    const result = await runCli(['replay', UNKNOWN, '--local', '--data-dir', dataDir]);

    expect(result.code).toBe(2);
  }, 60_000);
});
