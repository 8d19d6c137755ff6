/**
 * A session recorded as the relay records one (relay/session-proxy.ts): an asciicast v2 recording written through
 * createAsciicastWriter on a fake monotonic clock, its `session.started` / `session.ended` events on the stream
 * `session/<id>`, and the relay.request (status 101) the relay writes after it, chained as the audit log chains them.
 */
import { createAsciicastWriter } from '../../shared/audit/asciicast.ts';
import { buildEvent, type ChainHead } from '../../shared/audit/chain.ts';
import type { AuditEvent, AuditEventInput } from '../../shared/audit/event.ts';

/** What happens in the session: at `atMs` after its start, output shown, input typed, or a resize. */
export type SessionStep =
  { atMs: number; output: string } | { atMs: number; input: string } | { atMs: number; resize: [number, number] };

export interface RecordedSession {
  sessionId: string;
  key: string;
  bytes: Buffer;
  sha256: string;
  /** session.started, session.ended, then the relay.request of the exec: in time order. */
  events: AuditEvent[];
}

let eventCounter = 0;

/** A ULID-shaped event id, increasing, with the time's millisecond prefix so ids sort with time. */
function eventId(): string {
  eventCounter += 1;
  return `01KB${String(eventCounter).padStart(22, '0')}`;
}

export function recordSession(input: {
  sessionId: string;
  grantId: string;
  requestId: string;
  start: Date;
  steps: SessionStep[];
  masked?: number;
}): RecordedSession {
  let nowMs = 0;
  const writer = createAsciicastWriter(
    { width: 80, height: 24, timestamp: Math.floor(input.start.getTime() / 1000), title: 'exec app/web-0' },
    { nowMs: () => nowMs },
  );
  const encoder = new TextEncoder();
  const lines: Uint8Array[] = [...writer.start()];
  for (const step of input.steps) {
    nowMs = step.atMs;
    if ('output' in step) lines.push(...writer.output(encoder.encode(step.output)));
    else if ('input' in step) lines.push(...writer.input(encoder.encode(step.input)));
    else lines.push(...writer.resize(...step.resize));
  }
  lines.push(...writer.end());
  const bytes = Buffer.concat(lines);
  const key = `sessions/${input.start.toISOString().slice(0, 10)}/${input.sessionId}.cast`;
  const endedAt = new Date(input.start.getTime() + nowMs + 5);
  const masked = input.masked ?? 0;
  const masking = { total: masked, entries: masked ? [{ path: 'line', by: 'detector:mrn', count: masked }] : [] };
  const base = {
    actor: { id: 'local:agent:claude', issuer: 'local' },
    subject: { cluster: 'dev', namespace: 'app', resource: 'pods/web-0/exec' },
    requestId: input.requestId,
    grantId: input.grantId,
  };
  const heads = new Map<string, ChainHead>();
  const chained = (event: AuditEventInput, time: Date): AuditEvent => {
    const built = buildEvent(event, heads.get(event.stream), eventId(), time);
    heads.set(event.stream, { seq: built.chain.seq, hash: built.chain.hash });
    return built;
  };
  const sha256 = writer.sha256Hex();
  const events = [
    chained(
      {
        ...base,
        type: 'session.started',
        stream: `session/${input.sessionId}`,
        sessionId: input.sessionId,
        details: { subresource: 'exec', pod: 'web-0', container: 'web', command: ['sh'], arguments: 0, tty: true },
      },
      input.start,
    ),
    chained(
      {
        ...base,
        type: 'session.ended',
        stream: `session/${input.sessionId}`,
        sessionId: input.sessionId,
        details: { recording: { key, sha256, bytes: bytes.length }, ended: 'exit 0', durationMs: nowMs, masking },
      },
      endedAt,
    ),
    chained(
      {
        ...base,
        type: 'relay.request',
        stream: `relay/${input.grantId}/test/${input.sessionId}`,
        details: {
          method: 'GET',
          verb: 'create',
          apiGroup: '',
          resource: 'pods',
          subresource: 'exec',
          name: 'web-0',
          path: '/api/v1/namespaces/app/pods/web-0/exec',
          status: 101,
          bytes: bytes.length,
          ...(masked ? { masking } : {}),
        },
      },
      new Date(endedAt.getTime() + 1),
    ),
  ];
  return { sessionId: input.sessionId, key, bytes, sha256, events };
}
