/**
 * The replay player (shared/sessions/player.ts) on a fake clock: frames at the recorded times, divided by the speed,
 * pauses cut to the idle limit, input never written; and the session lookup and tamper check of a recording
 * (shared/evidence/session-recordings.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseAsciicast, type Asciicast } from '../../shared/audit/asciicast.ts';
import {
  findSessionRecording,
  recordingMismatch,
  sessionRecordings,
  sessionStart,
} from '../../shared/evidence/session-recordings.ts';
import { outputText, playFrames, replayFrames } from '../../shared/sessions/player.ts';
import { recordSession } from '../support/session-recordings.ts';

const SESSION = '01KBCDEFGHJKMNPQRSTVWXYZ00';

function cast(events: Asciicast['events'], header: Partial<Asciicast['header']> = {}): Asciicast {
  return { header: { version: 2, width: 80, height: 24, ...header }, events };
}

/** A terminal whose clock moves only when the player sleeps; it records what was written when. */
function fakeTerminal() {
  let now = 1000;
  const writes: { at: number; text: string }[] = [];
  const sleeps: number[] = [];
  return {
    writes,
    sleeps,
    terminal: {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      write: (text: string) => void writes.push({ at: now - 1000, text }),
    },
  };
}

describe('replayFrames', () => {
  const recording = cast([
    [0.5, 'o', '$ '],
    [1.0, 'i', 'ls\r'],
    [1.1, 'o', 'ls\r\n'],
    [1.1, 'o', 'a b\r\n'],
    [11.1, 'o', '$ '],
    [11.2, 'r', '100x30'],
    [12.2, 'o', 'exit\r\n'],
  ]);

  it('puts each output at its recorded time and joins outputs of the same instant; input and resizes are not written', () => {
    expect(replayFrames(recording)).toEqual([
      { atMs: 500, text: '$ ' },
      { atMs: 1100, text: 'ls\r\na b\r\n' },
      { atMs: 11_100, text: '$ ' },
      { atMs: 12_200, text: 'exit\r\n' },
    ]);
  });

  it('divides every pause by the speed', () => {
    expect(replayFrames(recording, { speed: 4 }).map((frame) => frame.atMs)).toEqual([125, 275, 2775, 3050]);
  });

  it('cuts each pause to the idle limit before the speed applies, counting gaps after input and resizes too', () => {
    // 0.5, then 0.5 (input) + 0.1, then 10 s cut to 2, then 0.1 (resize) + 1.0 cut to 1.
    expect(replayFrames(recording, { maxWaitSeconds: 1 }).map((frame) => frame.atMs)).toEqual([500, 1100, 2100, 3200]);
    expect(replayFrames(recording, { maxWaitSeconds: 1, speed: 2 }).map((frame) => frame.atMs)).toEqual([
      250, 550, 1050, 1600,
    ]);
  });

  it("takes the header's idle_time_limit when no limit is given, and a limit of 0 plays everything at once", () => {
    expect(replayFrames({ ...recording, header: { ...recording.header, idle_time_limit: 1 } }).at(-1)?.atMs).toBe(3200);
    expect(replayFrames(recording, { maxWaitSeconds: 0 })).toEqual([{ atMs: 0, text: '$ ls\r\na b\r\n$ exit\r\n' }]);
  });

  it('refuses a speed that is not a positive number', () => {
    expect(() => replayFrames(recording, { speed: 0 })).toThrow(RangeError);
    expect(() => replayFrames(recording, { speed: Number.NaN })).toThrow(RangeError);
  });
});

describe('playFrames', () => {
  it('writes each frame when the clock reaches its time, sleeping only the difference', async () => {
    const { terminal, writes, sleeps } = fakeTerminal();

    await playFrames(
      [
        { atMs: 0, text: 'a' },
        { atMs: 250, text: 'b' },
        { atMs: 1000, text: 'c' },
      ],
      terminal,
    );

    expect(writes).toEqual([
      { at: 0, text: 'a' },
      { at: 250, text: 'b' },
      { at: 1000, text: 'c' },
    ]);
    expect(sleeps).toEqual([250, 750]);
  });

  it('measures from the start, so time spent writing is not added to the next pause', async () => {
    const { terminal, sleeps } = fakeTerminal();
    const slow = {
      ...terminal,
      write: () => void terminal.sleep(40),
    };

    await playFrames(
      [
        { atMs: 100, text: 'a' },
        { atMs: 200, text: 'b' },
        { atMs: 210, text: 'c' },
      ],
      slow,
    );

    // 100, then 40 written + 60 slept, then 40 written puts the clock past 210: no sleep.
    expect(sleeps).toEqual([100, 40, 60, 40, 40]);
  });

  it('stops before the next frame once asked to', async () => {
    const { terminal, writes } = fakeTerminal();
    let stop = false;

    await playFrames(
      [
        { atMs: 0, text: 'a' },
        { atMs: 10, text: 'b' },
      ],
      { ...terminal, write: (text) => ((stop = true), terminal.write(text)), stopped: () => stop },
    );

    expect(writes.map((write) => write.text)).toEqual(['a']);
  });
});

describe('outputText', () => {
  it('is every output event in order, without input', () => {
    expect(
      outputText(
        cast([
          [0, 'o', 'hello '],
          [0.1, 'i', 'typed'],
          [0.2, 'o', 'world'],
        ]),
      ),
    ).toBe('hello world');
  });
});

describe('session recordings', () => {
  const recorded = recordSession({
    sessionId: SESSION,
    grantId: 'grt_01KBCDEFGHJKMNPQRSTVWXYZ00',
    requestId: 'req_1',
    start: new Date('2026-03-01T10:00:00.000Z'),
    steps: [
      { atMs: 100, output: '$ ' },
      { atMs: 900, input: 'id\r' },
      { atMs: 1000, output: 'id\r\nuid=0\r\n' },
    ],
  });

  it('finds the recording session.ended names, and plays what the writer recorded', () => {
    const lookup = findSessionRecording(recorded.events, SESSION);

    expect(lookup).toMatchObject({ found: true, recording: { key: recorded.key, sha256: recorded.sha256 } });
    expect(recordingMismatch(sessionRecordings(recorded.events)[0]!, recorded.bytes)).toBeUndefined();
    const frames = replayFrames(parseAsciicast(recorded.bytes.toString('utf8')));
    expect(frames).toEqual([
      { atMs: 100, text: '$ ' },
      { atMs: 1000, text: 'id\r\nuid=0\r\n' },
    ]);
  });

  it('names a recording changed after the session ended, even by one byte of the same length', () => {
    const tampered = Buffer.from(recorded.bytes);
    tampered[tampered.indexOf('uid=0')! + 4] = '1'.charCodeAt(0);
    const ref = sessionRecordings(recorded.events)[0]!;

    expect(recordingMismatch(ref, tampered)).toMatch(/is not the one session\.ended names: SHA-256 [0-9a-f]{64}/);
  });

  it('says why there is no recording: unknown session, not ended, or lost by the relay', () => {
    const other = '01KBCDEFGHJKMNPQRSTVWXYZ99';
    const lost = recorded.events.map((event) =>
      event.type === 'session.ended'
        ? { ...event, details: { recording: { lost: true, sha256: 'x', bytes: 1 } } }
        : event,
    );

    expect(findSessionRecording(recorded.events, other)).toEqual({
      found: false,
      reason: `no session.ended event for session ${other}`,
    });
    expect(findSessionRecording(recorded.events.slice(0, 1), SESSION)).toMatchObject({
      reason: expect.stringContaining('has started but not ended'),
    });
    expect(findSessionRecording(lost, SESSION)).toMatchObject({ reason: expect.stringContaining('could not store') });
  });

  it("does not take an event at its word when it names another session's key or a path", () => {
    const forged = recorded.events.map((event) =>
      event.type === 'session.ended'
        ? { ...event, details: { recording: { key: '../../etc/passwd', sha256: recorded.sha256, bytes: 1 } } }
        : event,
    );

    expect(sessionRecordings(forged)).toEqual([]);
  });

  it("reads a session's start from its ULID", () => {
    expect(sessionStart('01ARZ3NDEKTSV4RRFFQ69G5FAV').toISOString()).toBe('2016-07-30T23:54:10.259Z');
  });
});
