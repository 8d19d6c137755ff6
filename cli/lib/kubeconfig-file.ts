/**
 * Merging one cluster, user and context into a kubeconfig file with the `yaml` package: entries with other names,
 * comments and unknown keys are kept as they were; an entry with the same name is replaced. Written atomically, 0600.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { UsageError } from '../errors.ts';

export interface NamedEntry {
  name: string;
  [key: string]: unknown;
}

export interface KubeconfigEntries {
  cluster: NamedEntry;
  user: NamedEntry;
  context: NamedEntry;
  /** Make the context the current one, as `aws eks update-kubeconfig` does. */
  setCurrent: boolean;
}

/** `--kubeconfig`, else the first file in KUBECONFIG, else ~/.kube/config (kubectl's own order for writes). */
export function kubeconfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return resolve(flag);
  const first = (env.KUBECONFIG ?? '').split(delimiter).find((part) => part.trim() !== '');
  return resolve(first ?? join(homedir(), '.kube', 'config'));
}

/** Reads (or starts) the kubeconfig at `file`, merges the entries, and writes it back with mode 0600. */
export function mergeKubeconfig(file: string, entries: KubeconfigEntries): void {
  const target = existsSync(file) ? realpathSync(file) : file;
  const doc = existsSync(target) ? parseExisting(target) : new Document({ apiVersion: 'v1', kind: 'Config' });
  if (doc.contents === null) doc.contents = doc.createNode({ apiVersion: 'v1', kind: 'Config' });
  if (!isMap(doc.contents)) throw new UsageError(`${file} is not a kubeconfig: its top level is not a mapping`);
  if (!doc.has('apiVersion')) doc.set('apiVersion', 'v1');
  if (!doc.has('kind')) doc.set('kind', 'Config');

  upsert(doc, 'clusters', entries.cluster, file);
  upsert(doc, 'users', entries.user, file);
  upsert(doc, 'contexts', entries.context, file);
  if (entries.setCurrent) doc.set('current-context', entries.context.name);

  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, doc.toString(), { mode: 0o600, flag: 'wx' });
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

function parseExisting(file: string): Document {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length > 0) {
    throw new UsageError(`${file} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  }
  return doc;
}

function upsert(doc: Document, section: string, entry: NamedEntry, file: string): void {
  let seq = doc.get(section, true);
  if (seq === undefined || seq === null || (isScalar(seq) && seq.value === null)) {
    seq = doc.createNode([]);
    doc.set(section, seq);
  }
  if (!isSeq(seq)) throw new UsageError(`${file}: ${section} is not a list`);
  const node = doc.createNode(entry);
  const index = seq.items.findIndex((item) => isMap(item) && item.get('name') === entry.name);
  if (index >= 0) seq.items[index] = node;
  else seq.items.push(node);
}
