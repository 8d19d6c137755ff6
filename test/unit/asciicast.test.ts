import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AsciicastParseError,
  createAsciicastWriter,
  parseAsciicast,
  type MonotonicClock,
} from '../../shared/audit/asciicast.ts';

/** A clock that reads the times given, one per call, in milliseconds. */
function clockAt(...times: number[]): MonotonicClock {
  let index = 0;
  return { nowMs: () => times[Math.min(index++, times.length - 1)]! };
}
const text = (lines: Uint8Array[]) => Buffer.concat(lines).toString('utf8');
const bytes = (value: string) => new TextEncoder().encode(value);

describe('asciicast writer', () => {
  it('writes the header first, then one event per line with elapsed seconds', () => {
    const writer = createAsciicastWriter(
      { width: 80, height: 24, timestamp: 1_767_225_600, title: 'exec web-0', env: { TERM: 'xterm-256color' } },
      clockAt(1000, 1000.5, 2234.5678, 3000),
    );
    const recording = text([
      ...writer.output(bytes('$ ')),
      ...writer.input(bytes('ls\r')),
      ...writer.resize(120, 40),
      ...writer.end(),
    ]);
    expect(recording).toBe(
      '{"version":2,"width":80,"height":24,"timestamp":1767225600,"title":"exec web-0","env":{"TERM":"xterm-256color"}}\n' +
        '[0.0005,"o","$ "]\n' +
        '[1.234568,"i","ls\\r"]\n' +
        '[2,"r","120x40"]\n',
    );
  });

  it('leaves out title and env when not given', () => {
    const writer = createAsciicastWriter({ width: 80, height: 24, timestamp: 0 }, clockAt(0));
    expect(text(writer.start())).toBe('{"version":2,"width":80,"height":24,"timestamp":0}\n');
    expect(writer.start()).toEqual([]);
  });

  it('decodes a character split between two frames whole, at the time of the frame that completes it', () => {
    // The clock is read for events only: the first frame writes none.
    const writer = createAsciicastWriter({ width: 80, height: 24, timestamp: 0 }, clockAt(0, 2));
    const euro = bytes('€');
    writer.start();
    expect(writer.output(euro.subarray(0, 2))).toEqual([]);
    expect(text(writer.output(euro.subarray(2)))).toBe('[0.002,"o","€"]\n');
  });

  it('keeps input and output decoders apart', () => {
    const writer = createAsciicastWriter({ width: 80, height: 24, timestamp: 0 }, clockAt(0, 1, 2, 3));
    const e = bytes('é');
    writer.start();
    writer.output(e.subarray(0, 1));
    expect(text(writer.input(bytes('a')))).toBe('[0.001,"i","a"]\n');
    expect(text(writer.output(e.subarray(1)))).toBe('[0.002,"o","é"]\n');
  });

  it('writes an unfinished character at the end as U+FFFD', () => {
    const writer = createAsciicastWriter({ width: 80, height: 24, timestamp: 0 }, clockAt(0, 5));
    writer.start();
    writer.output(bytes('€').subarray(0, 1));
    expect(text(writer.end())).toBe('[0.005,"o","\uFFFD"]\n');
    expect(() => writer.output(bytes('x'))).toThrow(/ended/);
  });

  it('never writes an elapsed time earlier than the one before', () => {
    const writer = createAsciicastWriter({ width: 80, height: 24, timestamp: 0 }, clockAt(0, 2000, 1500));
    writer.start();
    writer.output(bytes('a'));
    expect(text(writer.output(bytes('b')))).toBe('[2,"o","b"]\n');
  });

  it('hashes and counts every line it returned', () => {
    const writer = createAsciicastWriter({ width: 80, height: 24, timestamp: 0 }, clockAt(0, 1));
    const lines = [...writer.output(bytes('hello\r\n')), ...writer.end()];
    const all = Buffer.concat(lines);
    expect(writer.byteCount).toBe(all.length);
    expect(writer.sha256Hex()).toBe(createHash('sha256').update(all).digest('hex'));
  });

  it('refuses a header with a zero width', () => {
    expect(() => createAsciicastWriter({ width: 0, height: 24, timestamp: 0 }, clockAt(0))).toThrow();
  });
});

describe('parseAsciicast', () => {
  it('reads back what the writer wrote', () => {
    const writer = createAsciicastWriter({ width: 100, height: 30, timestamp: 7 }, clockAt(0, 10, 20, 30));
    const recording = text([
      ...writer.output(bytes('[MASKED:SSN]\r\n')),
      ...writer.input(bytes('exit\r')),
      ...writer.resize(90, 20),
      ...writer.end(),
    ]);
    expect(parseAsciicast(recording)).toEqual({
      header: { version: 2, width: 100, height: 30, timestamp: 7 },
      events: [
        [0.01, 'o', '[MASKED:SSN]\r\n'],
        [0.02, 'i', 'exit\r'],
        [0.03, 'r', '90x20'],
      ],
    });
  });

  it('keeps header fields it does not know and markers', () => {
    const parsed = parseAsciicast(
      '{"version":2,"width":1,"height":1,"idle_time_limit":2,"theme":{"fg":"#fff"}}\n[1,"m","x"]\n',
    );
    expect(parsed.header).toMatchObject({ idle_time_limit: 2, theme: { fg: '#fff' } });
    expect(parsed.events).toEqual([[1, 'm', 'x']]);
  });

  it.each([
    ['an empty text', '', /line 1: no header/],
    ['a version 1 header', '{"version":1,"width":80,"height":24}\n', /line 1: not an asciicast v2 header/],
    ['an event that is not JSON', '{"version":2,"width":80,"height":24}\n[0.1,"o",\n', /line 2: not JSON/],
    [
      'an unknown event code',
      '{"version":2,"width":80,"height":24}\n[0.1,"x","a"]\n',
      /line 2: not an asciicast v2 event/,
    ],
    ['a resize that is not WxH', '{"version":2,"width":80,"height":24}\n[0.1,"r","80,24"]\n', /line 2/],
    ['a negative time', '{"version":2,"width":80,"height":24}\n[-1,"o","a"]\n', /line 2/],
    ['events out of order', '{"version":2,"width":80,"height":24}\n[2,"o","a"]\n[1,"o","b"]\n', /line 3: event at 1 s/],
  ])('refuses %s', (_name, recording, message) => {
    expect(() => parseAsciicast(recording)).toThrow(AsciicastParseError);
    expect(() => parseAsciicast(recording)).toThrow(message);
  });
});
