/**
 * `audit verify` throughput: events checked per second on an evidence export of 100,000 events (1,000 streams of 100
 * events over 24 archive hours, 24 signed digests), read from disk with the export reader and checked by the verifier
 * (SHA-256 of every line against its digest entry, every digest's signature and link, every stream's chain). The export
 * path is measured: it is the verifier's whole work without S3's per-object GETs, which `--bucket` adds (parallel, 32
 * at a time). Run alone with `npx tsx bench/verify.ts`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readEvidenceExport } from '#shared/adapters/fs/evidence-export.ts';
import { FileDigestSigner } from '#shared/adapters/local/file-digest-signer.ts';
import { buildEvent, type ChainHead } from '#shared/audit/chain.ts';
import type { AuditEvent } from '#shared/audit/event.ts';
import {
  HOUR_MS,
  archiveObjectBody,
  archivedObjectEntry,
  digestKey,
  hourStart,
  publicKeyKey,
  sha256Hex,
} from '#shared/evidence/archive-layout.ts';
import { buildDigestBody, digestSigningInput, publicKeySha256, signedDigestBytes } from '#shared/evidence/digest.ts';
import {
  EXPORT_EVENTS_FILE,
  EXPORT_MANIFEST_FILE,
  type EvidenceExportManifest,
} from '#shared/evidence/export-layout.ts';
import { verifyEvidence } from '#shared/evidence/verifier.ts';

export interface VerifyBenchReport {
  events: number;
  streams: number;
  digests: number;
  /** Reading the export (files, lines, digests) and verifying it, ms: the median of the runs. */
  totalMs: number;
  readMs: number;
  verifyMs: number;
  eventsPerSecond: number;
  problems: number;
  runs: number;
}

export async function runVerifyBench(
  work: string,
  options: { streams?: number; eventsPerStream?: number; runs?: number } = {},
): Promise<VerifyBenchReport> {
  const streams = options.streams ?? 1000;
  const perStream = options.eventsPerStream ?? 100;
  const runs = options.runs ?? 3;
  const directory = join(work, 'export');
  const total = streams * perStream;
  const hours = 24;
  const from = new Date(hourStart(new Date()).getTime() - (hours + 2) * HOUR_MS);
  const spacingMs = (hours * HOUR_MS) / total;

  // Events in time order, each stream's seqs ascending: event i of the export is stream i mod streams.
  const heads = new Map<string, ChainHead>();
  const events: AuditEvent[] = [];
  for (let index = 0; index < total; index += 1) {
    const stream = `grant/grt_${String(index % streams).padStart(4, '0')}`;
    const event = buildEvent(
      {
        type: 'token.issued',
        stream,
        actor: { id: 'github-actions:repo:acme/app:ref:refs/heads/main', groups: ['ci'] },
        subject: { cluster: 'prod', namespaces: ['app'] },
        grantId: stream.slice(6),
        details: { tokenFingerprint: sha256Hex(String(index)).slice(0, 16), expiresInSeconds: 900 },
      },
      heads.get(stream),
      ulid(index),
      new Date(from.getTime() + Math.floor(index * spacingMs)),
    );
    heads.set(stream, { seq: event.chain.seq, hash: event.chain.hash });
    events.push(event);
  }

  const files = new Map<string, Uint8Array>();
  files.set(EXPORT_EVENTS_FILE, Buffer.concat(events.map((event) => archiveObjectBody(event))));
  const signer = FileDigestSigner.open(join(work, 'digest-key.pem'));
  const pem = await signer.publicKeyPem();
  files.set(publicKeyKey(publicKeySha256(pem)), Buffer.from(pem));
  let previous: { hour: Date; bytes: Uint8Array } | undefined;
  for (let hour = 0; hour < hours; hour += 1) {
    const start = new Date(from.getTime() + hour * HOUR_MS);
    const inHour = events.filter((event) => hourStart(new Date(event.time)).getTime() === start.getTime());
    const body = buildDigestBody({
      hour: start,
      previous,
      objects: inHour.map((event) => archivedObjectEntry(event)),
      signedAt: new Date(start.getTime() + HOUR_MS + 10 * 60_000),
      keyId: signer.keyId,
      publicKeySha256: publicKeySha256(pem),
    });
    const signature = Buffer.from(await signer.sign(digestSigningInput(body))).toString('base64');
    const bytes = signedDigestBytes({ digest: body, signature });
    files.set(digestKey(start), bytes);
    previous = { hour: start, bytes };
  }
  const manifest: EvidenceExportManifest = {
    range: { from: from.toISOString(), to: new Date(from.getTime() + hours * HOUR_MS).toISOString() },
    generatedAt: new Date(from.getTime() + (hours + 1) * HOUR_MS).toISOString(),
    counts: { events: total },
    files: Object.fromEntries([...files].map(([file, bytes]) => [file, sha256Hex(bytes)])),
  };
  for (const [file, bytes] of files) {
    mkdirSync(dirname(join(directory, file)), { recursive: true });
    writeFileSync(join(directory, file), bytes);
  }
  writeFileSync(join(directory, EXPORT_MANIFEST_FILE), JSON.stringify(manifest));

  const timings: { readMs: number; verifyMs: number; problems: number }[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const { input, problems } = readEvidenceExport(directory);
    const read = performance.now();
    const report = verifyEvidence(input);
    const verified = performance.now();
    timings.push({
      readMs: read - started,
      verifyMs: verified - read,
      problems: problems.length + report.problems.length,
    });
  }
  const median = timings.sort((a, b) => a.readMs + a.verifyMs - (b.readMs + b.verifyMs))[Math.floor(runs / 2)]!;
  const totalMs = median.readMs + median.verifyMs;
  return {
    events: total,
    streams,
    digests: hours,
    totalMs,
    readMs: median.readMs,
    verifyMs: median.verifyMs,
    eventsPerSecond: total / (totalMs / 1000),
    problems: median.problems,
    runs,
  };
}

/** A valid, distinct ULID for event `index` (ids are not what is measured). */
function ulid(index: number): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let suffix = '';
  for (let rest = index, digit = 0; digit < 14; digit += 1, rest = Math.floor(rest / 32)) {
    suffix = alphabet[rest % 32]! + suffix;
  }
  return `01JBENCH0000${suffix}`;
}

if (process.argv[1]?.endsWith('bench/verify.ts')) {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-verify-'));
  try {
    console.log(JSON.stringify(await runVerifyBench(work), null, 2));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
