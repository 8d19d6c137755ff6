/**
 * An evidence export's layout (`gatehouse evidence --out DIR`, read by `gatehouse audit verify --dir DIR`):
 *
 *   events.jsonl                    one archived object per line, byte for byte (canonical JSON), by event time, then
 *                                   stream and seq: within a stream, seq ascending
 *   digests/<YYYY-MM-DD>/<HH>.json  the stored digests, at the same relative keys as in the bucket: from the hour before
 *                                   the range through the hours that list the range's events (late archives included)
 *   digests/keys/<sha>.pem          the public keys that signed them
 *   sessions/<YYYY-MM-DD>/<id>.cast the recordings that the range's session.ended events name, byte for byte as stored
 *                                   (shared/evidence/session-recordings.ts); manifest.json's `recordings` says of
 *                                   each whether its SHA-256 is the event's
 *   manifest.json                   the range, when it was made, counts, and the SHA-256 of every other file
 *   report.html                     the auditor's report
 */
import * as z from 'zod';

export const EXPORT_EVENTS_FILE = 'events.jsonl';
export const EXPORT_MANIFEST_FILE = 'manifest.json';
export const EXPORT_REPORT_FILE = 'report.html';

const isoTime = z.iso.datetime({ offset: true });

/** manifest.json. Extra members are allowed, so the export can say more without breaking older verifiers. */
export const EvidenceExportManifestSchema = z.looseObject({
  range: z.object({ from: isoTime, to: isoTime }),
  generatedAt: isoTime,
  counts: z.record(z.string(), z.number()).optional(),
  /** Every file of the export but manifest.json, by its path relative to the directory ("/"-separated): hex SHA-256. */
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});

export type EvidenceExportManifest = z.infer<typeof EvidenceExportManifestSchema>;
