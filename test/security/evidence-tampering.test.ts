/**
 * Tampering with the evidence: each tamper is named by `gatehouse audit verify` with its exact location, and makes it
 * exit 1. Real parts: dynalite and s3rver on a local data directory, the real archiver and digester, the CLI.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HOUR_MS,
  archiveObjectBody,
  archiveObjectKey,
  digestKey,
  hourStart,
  publicKeyKey,
  sha256Hex,
} from '#shared/evidence/archive-layout.ts';
import { digestSigningInput, publicKeySha256, signedDigestBytes, type SignedDigest } from '#shared/evidence/digest.ts';
import { EXPORT_EVENTS_FILE, EXPORT_MANIFEST_FILE } from '#shared/evidence/export-layout.ts';
import type { EvidenceProblem, EvidenceSummary } from '#shared/evidence/verifier.ts';
import { LOCAL_TABLES } from '../../local/embedded-stores.ts';
import { runCli } from '../support/cli.ts';
import { buildEvidenceFixture, writeEvidenceExport, type EvidenceFixture } from '../support/evidence.ts';

let fixture: EvidenceFixture;
let exportDir: string;

beforeEach(async () => {
  fixture = await buildEvidenceFixture({ hours: 3 });
  exportDir = mkdtempSync(join(tmpdir(), 'gatehouse-export-'));
});
afterEach(async () => {
  await fixture.remove();
  rmSync(exportDir, { recursive: true, force: true });
});

interface VerifyOutput {
  code: number;
  ok: boolean;
  summary: EvidenceSummary;
  problems: EvidenceProblem[];
}

async function verify(...args: string[]): Promise<VerifyOutput> {
  const { code, stdout, stderr } = await runCli(['audit', 'verify', ...args, '--json']);
  if (code === 2) throw new Error(`bad usage: ${stderr}`);
  return { code, ...(JSON.parse(stdout) as Omit<VerifyOutput, 'code'>) };
}

const verifyLocal = () => verify('--local', '--data-dir', fixture.dataDir);

function eventOf(stream: string, seq: number) {
  return fixture.events.find((event) => event.chain.stream === stream && event.chain.seq === seq)!;
}

async function putRaw(key: string, body: Uint8Array): Promise<void> {
  await fixture.s3.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: key, Body: body }));
}

async function exportAll(): Promise<void> {
  const range = { from: new Date(fixture.events[0]!.time), to: new Date(fixture.now.getTime() - HOUR_MS) };
  await writeEvidenceExport(fixture.store, fixture.events, range, exportDir, fixture.now);
}

describe('audit verify on untouched evidence', () => {
  it('exits 0 and counts every digest, object, event and stream (--local, stores running)', async () => {
    const result = await verifyLocal();
    expect(result.problems).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.summary).toMatchObject({ digests: 3, objects: 9, events: 9, streams: 3, pending: 0 });
    expect(result.summary.keys).toEqual([
      { sha256: publicKeySha256(await fixture.signer.publicKeyPem()), keyIds: [fixture.signer.keyId], digests: 3 },
    ]);
  });

  it('exits 0 with --local when no runtime runs: it opens the data directory itself', async () => {
    await fixture.stopStores();
    const result = await verifyLocal();
    expect(result.problems).toEqual([]);
    expect(result.summary).toMatchObject({ digests: 3, objects: 9, events: 9, streams: 3 });
  });

  it('exits 0 on an export (--dir) pinned to the signing key', async () => {
    await exportAll();
    const keyFile = join(exportDir, '..', `${publicKeySha256(await fixture.signer.publicKeyPem())}.pem`);
    writeFileSync(keyFile, await fixture.signer.publicKeyPem());
    try {
      const result = await verify('--dir', exportDir, '--public-key', keyFile);
      expect(result.problems).toEqual([]);
      expect(result.summary).toMatchObject({ objects: 9, events: 0, streams: 3, pending: 0 });
    } finally {
      rmSync(keyFile);
    }
  });
});

describe('audit verify names each tamper and exits 1', () => {
  it('an altered archived object: its SHA-256 is not its digest entry', async () => {
    const event = eventOf('grant/grt_B', 2);
    const key = archiveObjectKey(event);
    await putRaw(key, archiveObjectBody({ ...event, details: { purpose: 'nothing to see' } }));

    const result = await verifyLocal();
    expect(result.code).toBe(1);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'object-altered',
        location: expect.objectContaining({
          objectKey: key,
          digestKey: digestKey(hourOf(event)),
          eventId: event.id,
        }),
      }),
    );
    expect(result.problems).toContainEqual(
      expect.objectContaining({ kind: 'archive-differs', location: expect.objectContaining({ objectKey: key }) }),
    );
  });

  it('a deleted archived object: listed in its digest, missing from the archive and from the completeness check', async () => {
    const event = eventOf('session/ses_C', 1);
    const key = archiveObjectKey(event);
    await fixture.s3.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: key }));

    const result = await verifyLocal();
    expect(result.code).toBe(1);
    expect(result.problems).toContainEqual({
      kind: 'object-missing',
      location: {
        source: 'archive',
        digestKey: digestKey(hourOf(event)),
        objectKey: key,
        stream: 'session/ses_C',
        seq: 1,
        eventId: event.id,
      },
      message: expect.stringContaining('missing from the archive'),
    });
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'not-archived',
        location: expect.objectContaining({ source: 'dynamodb', eventId: event.id, objectKey: key }),
      }),
    );
  });

  it("a reordered stream in an export's events.jsonl: an order problem at the event out of place", async () => {
    await exportAll();
    const file = join(exportDir, EXPORT_EVENTS_FILE);
    const lines = readFileSync(file, 'utf8').split('\n');
    const first = lines.findIndex((line) => line.includes('"seq":1,') && line.includes('request/req_A'));
    const second = lines.findIndex((line) => line.includes('"seq":2,') && line.includes('request/req_A'));
    [lines[first], lines[second]] = [lines[second]!, lines[first]!];
    writeFileSync(file, lines.join('\n'));
    // The tamperer updates the export's manifest too: only the chain can tell.
    const manifest = JSON.parse(readFileSync(join(exportDir, EXPORT_MANIFEST_FILE), 'utf8'));
    manifest.files[EXPORT_EVENTS_FILE] = sha256Hex(readFileSync(file));
    writeFileSync(join(exportDir, EXPORT_MANIFEST_FILE), JSON.stringify(manifest));

    const result = await verify('--dir', exportDir);
    expect(result.code).toBe(1);
    const moved = eventOf('request/req_A', 1);
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'chain-order',
        location: {
          source: 'archive',
          stream: 'request/req_A',
          seq: 1,
          eventId: moved.id,
          objectKey: archiveObjectKey(moved),
        },
      }),
    ]);
  });

  it("two objects' contents swapped in the bucket: order, misplaced content and altered checksums", async () => {
    const [one, two] = [eventOf('grant/grt_B', 1), eventOf('grant/grt_B', 2)];
    await putRaw(archiveObjectKey(one), archiveObjectBody(two));
    await putRaw(archiveObjectKey(two), archiveObjectBody(one));

    const result = await verifyLocal();
    expect(result.code).toBe(1);
    const kinds = (kind: string) => result.problems.filter((found) => found.kind === kind);
    expect(kinds('chain-order')).toEqual([
      expect.objectContaining({
        location: expect.objectContaining({ source: 'archive', stream: 'grant/grt_B', seq: 1, eventId: one.id }),
      }),
    ]);
    expect(kinds('object-misplaced').map((found) => found.location.objectKey)).toEqual(
      expect.arrayContaining([archiveObjectKey(one), archiveObjectKey(two)]),
    );
    expect(kinds('object-altered').map((found) => found.location.objectKey)).toEqual(
      expect.arrayContaining([archiveObjectKey(one), archiveObjectKey(two)]),
    );
  });

  it("a dropped hour's digest: that hour is named missing", async () => {
    const middle = eventOf('request/req_A', 2);
    const hour = hourOf(middle);
    await fixture.s3.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: digestKey(hour) }));

    const result = await verifyLocal();
    expect(result.code).toBe(1);
    expect(result.problems).toContainEqual({
      kind: 'digest-missing',
      location: { digestKey: digestKey(hour) },
      message: `digest of hour ${hour.toISOString()} is missing (${digestKey(hour)})`,
    });
  });

  it('a forged digest signature (signed with another key, naming the real one): forged, and the next link breaks', async () => {
    const hour = hourOf(eventOf('request/req_A', 2));
    const key = digestKey(hour);
    const stored = JSON.parse(Buffer.from((await fixture.store.get(key))!).toString('utf8')) as SignedDigest;
    // The forger drops an object from the list and signs with a key of their own.
    const body = { ...stored.digest, objects: stored.digest.objects.slice(1) };
    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const signature = sign('sha256', digestSigningInput(body), { key: forger, dsaEncoding: 'der' }).toString('base64');
    await putRaw(key, signedDigestBytes({ digest: body, signature }));

    const result = await verifyLocal();
    expect(result.code).toBe(1);
    expect(result.problems).toContainEqual(
      expect.objectContaining({ kind: 'digest-forged', location: { digestKey: key } }),
    );
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'digest-link',
        location: { digestKey: digestKey(new Date(hour.getTime() + HOUR_MS)) },
      }),
    );
  });

  it("a digest signed with the forger's own published key: an unknown key once the real key is pinned", async () => {
    const hour = hourOf(eventOf('request/req_A', 3));
    const key = digestKey(hour);
    const stored = JSON.parse(Buffer.from((await fixture.store.get(key))!).toString('utf8')) as SignedDigest;
    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forgerPem = forger.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const body = { ...stored.digest, publicKeySha256: publicKeySha256(forgerPem), keyId: 'forger' };
    const signature = sign('sha256', digestSigningInput(body), { key: forger.privateKey, dsaEncoding: 'der' });
    await putRaw(key, signedDigestBytes({ digest: body, signature: signature.toString('base64') }));
    await putRaw(publicKeyKey(publicKeySha256(forgerPem)), Buffer.from(forgerPem));
    const pinned = join(fixture.dataDir, 'pinned.pem');
    writeFileSync(pinned, await fixture.signer.publicKeyPem());

    const result = await verify('--local', '--data-dir', fixture.dataDir, '--public-key', pinned);
    expect(result.code).toBe(1);
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'digest-unknown-key', location: { digestKey: key } }),
    ]);
  });

  it('a chain cut in DynamoDB (an event item deleted): a gap in the table and an archived event missing from it', async () => {
    const cut = eventOf('request/req_A', 2);
    await fixture.dynamoClient.send(
      new DeleteItemCommand({
        TableName: LOCAL_TABLES.events,
        Key: { stream: { S: 'request/req_A' }, seq: { N: '2' } },
      }),
    );

    const result = await verifyLocal();
    expect(result.code).toBe(1);
    const next = eventOf('request/req_A', 3);
    expect(result.problems).toEqual([
      {
        kind: 'chain-gap',
        location: { source: 'dynamodb', stream: 'request/req_A', seq: 3, eventId: next.id },
        message: `dynamodb: stream request/req_A, seq 3, event ${next.id}: seq 2 is missing`,
      },
      expect.objectContaining({
        kind: 'not-in-dynamodb',
        location: expect.objectContaining({ objectKey: archiveObjectKey(cut), eventId: cut.id }),
      }),
    ]);
  });
});

/** The fixture archives each event in its own hour, so that hour's digest lists it. */
function hourOf(event: { time: string }): Date {
  return hourStart(new Date(event.time));
}
