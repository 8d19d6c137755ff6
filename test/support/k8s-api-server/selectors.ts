/**
 * Label and field selectors as `?labelSelector=` and `?fieldSelector=` carry them
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors,
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/).
 */
import { badRequest } from './status.ts';

type Obj = Record<string, unknown>;
/** True when the object matches. */
export type Selector = (object: Obj) => boolean;

/** Split on commas that are not inside `( … )`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function labelsOf(object: Obj): Record<string, string> {
  const metadata = (object.metadata ?? {}) as Obj;
  return (metadata.labels ?? {}) as Record<string, string>;
}

/** `a=b,c!=d,e in (f,g),h notin (i),j,!k` */
export function parseLabelSelector(text: string | null): Selector {
  if (!text) return () => true;
  const requirements: Selector[] = splitTopLevel(text).map((term) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      return op === 'in'
        ? (o: Obj) => values.includes(labelsOf(o)[key] as string)
        : (o: Obj) => !values.includes(labelsOf(o)[key] as string);
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (o: Obj) => labelsOf(o)[key] !== value : (o: Obj) => labelsOf(o)[key] === value;
    }
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) {
      const [, not, key] = m as unknown as [string, string, string];
      return not ? (o: Obj) => !(key in labelsOf(o)) : (o: Obj) => key in labelsOf(o);
    }
    throw badRequest(`unable to parse requirement: found '${term}', expected: valid label selector`);
  });
  return (o) => requirements.every((r) => r(o));
}

/** The value of a dotted path (`metadata.name`, `status.phase`) as the string a field selector compares. */
function fieldValue(object: Obj, path: string): string {
  let value: unknown = object;
  for (const part of path.split('.')) {
    value = value && typeof value === 'object' ? (value as Obj)[part] : undefined;
  }
  return value === undefined || value === null ? '' : String(value);
}

/**
 * `metadata.name=x,metadata.namespace!=y`. The apiserver accepts only the fields each kind indexes; this one accepts
 * `metadata.name` and `metadata.namespace` for every kind and any other dotted path, which is looser but never wrong for
 * the fields real clients send.
 */
export function parseFieldSelector(text: string | null): Selector {
  if (!text) return () => true;
  const requirements: Selector[] = splitTopLevel(text).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === '!=' ? (o: Obj) => fieldValue(o, path) !== value : (o: Obj) => fieldValue(o, path) === value;
  });
  return (o) => requirements.every((r) => r(o));
}
