/**
 * Reads an evidence export directory (shared/evidence/export-layout.ts) into what `verifyEvidence` checks: the lines of
 * events.jsonl as archived objects (each keyed as the archive keys it), in the order listed, the exported digests and
 * public keys. There is no DynamoDB side. Files whose SHA-256 is not the one manifest.json records are problems too.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { archiveObjectKey, hourStart, HOUR_MS, parseDigestKey, sha256Hex } from '../../evidence/archive-layout.ts';
import type { AuditEvent } from '../../audit/event.ts';
import {
  EXPORT_EVENTS_FILE,
  EXPORT_MANIFEST_FILE,
  EvidenceExportManifestSchema,
} from '../../evidence/export-layout.ts';
import type { DigestTrust, EvidenceInput, EvidenceProblem, StoredObject } from '../../evidence/verifier.ts';

/** The export cannot be read at all (no manifest, no events file): bad input, not a failed check. */
export class EvidenceExportError extends Error {
  override name = 'EvidenceExportError';
}

/** The verifier's input for an export, and the problems with the export's own files. */
export function readEvidenceExport(
  directory: string,
  options: { pinnedPublicKey?: string } = {},
): { input: EvidenceInput; problems: EvidenceProblem[] } {
  const manifestFile = join(directory, EXPORT_MANIFEST_FILE);
  const eventsFile = join(directory, EXPORT_EVENTS_FILE);
  if (!existsSync(manifestFile) || !existsSync(eventsFile)) {
    throw new EvidenceExportError(
      `${directory} is not an evidence export (no ${EXPORT_MANIFEST_FILE} or ${EXPORT_EVENTS_FILE})`,
    );
  }
  const parsed = EvidenceExportManifestSchema.safeParse(safeJson(readFileSync(manifestFile, 'utf8')));
  if (!parsed.success) throw new EvidenceExportError(`${manifestFile} is not an export manifest`);
  const manifest = parsed.data;
  const range = { from: new Date(manifest.range.from), to: new Date(manifest.range.to) };

  const problems: EvidenceProblem[] = [];
  const present = new Set(listFiles(directory).filter((file) => file !== EXPORT_MANIFEST_FILE));
  for (const [file, sha256] of Object.entries(manifest.files)) {
    if (!present.has(file)) {
      problems.push({
        kind: 'export-file',
        location: { file },
        message: `${file} is listed in the manifest but missing`,
      });
    } else if (sha256Hex(readFileSync(join(directory, file))) !== sha256) {
      problems.push({ kind: 'export-file', location: { file }, message: `${file}: its SHA-256 is not the manifest's` });
    }
  }
  for (const file of present) {
    if (!(file in manifest.files)) {
      problems.push({ kind: 'export-file', location: { file }, message: `${file} is not listed in the manifest` });
    }
  }

  const objects: StoredObject[] = [];
  const lines = readFileSync(eventsFile).toString('utf8').split('\n');
  lines.forEach((line, index) => {
    if (line === '' && index === lines.length - 1) return;
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    objects.push({ key: objectKeyOf(line) ?? `${EXPORT_EVENTS_FILE}:${index + 1}`, bytes });
  });

  const digests: StoredObject[] = [];
  const published = new Map<string, string>();
  for (const file of present) {
    const keyMatch = /^digests\/keys\/([0-9a-f]{64})\.pem$/.exec(file);
    if (keyMatch) published.set(keyMatch[1]!, readFileSync(join(directory, file), 'utf8'));
    else if (parseDigestKey(file)) digests.push({ key: file, bytes: readFileSync(join(directory, file)) });
  }
  const trust: DigestTrust = options.pinnedPublicKey ? { pinned: options.pinnedPublicKey } : { published };

  // An export holds the digests from the hour before the range on, hour after hour, until every exported event is
  // listed (the hours after need not be there): the checked hours end with the newest exported digest.
  let to = hourStart(range.from).getTime();
  for (const { key } of digests) to = Math.max(to, parseDigestKey(key)!.getTime() + HOUR_MS);
  return {
    input: {
      range,
      digestHours: { from: hourStart(range.from), to: new Date(to) },
      digests,
      objects,
      order: 'listed',
      trust,
      now: new Date(manifest.generatedAt),
    },
    problems,
  };
}

/** The archive key of a line's event, or undefined when the line is not an event. */
function objectKeyOf(line: string): string | undefined {
  try {
    return archiveObjectKey(JSON.parse(line) as AuditEvent);
  } catch {
    return undefined;
  }
}

/** Every file under `directory`, as "/"-separated relative paths. */
function listFiles(directory: string): string[] {
  const files: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(directory, path).split(sep).join('/'));
    }
  };
  walk(directory);
  return files.sort();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
