/**
 * How the relay masks a response, from the request it answers and the headers upstream sent (DESIGN.md section 7: no
 * unmasked byte of a response reaches the agent; what the relay cannot inspect is refused, never passed through).
 */
import type { RequestInfo } from '../k8s/request-info.ts';

export type ResponseFormat =
  /** A JSON document (object, list, Table, Status): read whole up to the bound, masked, written. */
  | { kind: 'json' }
  /** A watch: newline-delimited events, masked one at a time as they come. */
  | { kind: 'watch' }
  /** Text (pod logs, followed or not): masked line by line as it comes. */
  | { kind: 'text' }
  /** No body to mask (HEAD, 204, 304, an empty body). */
  | { kind: 'empty' }
  | { kind: 'refuse'; reason: string };

export function responseFormat(
  info: RequestInfo,
  method: string,
  status: number,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): ResponseFormat {
  if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'empty' };
  const encoding = String(headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    return {
      kind: 'refuse',
      reason: `the API server answered with content encoding ${encoding}, which the relay cannot inspect`,
    };
  }
  const contentType = String(headers['content-type'] ?? '').toLowerCase();
  const mediaType = contentType.split(';')[0]!.trim();
  if (mediaType === '') {
    return headers['content-length'] === '0'
      ? { kind: 'empty' }
      : { kind: 'refuse', reason: 'the API server answered without a content type' };
  }
  if (mediaType === 'application/json') {
    const isStream = /;\s*stream=watch/.test(contentType) || info.verb === 'watch';
    return isStream && status < 300 ? { kind: 'watch' } : { kind: 'json' };
  }
  if (mediaType === 'text/plain') return { kind: 'text' };
  return { kind: 'refuse', reason: `the API server answered with ${mediaType}, which the relay cannot inspect` };
}
