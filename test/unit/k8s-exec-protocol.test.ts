import { describe, expect, it } from 'vitest';
import {
  CHANNEL,
  decodeFrame,
  encodeClose,
  encodeFrame,
  encodeResize,
  ExecProtocolError,
  isKnownChannel,
  negotiateSubprotocol,
  parseClose,
  parseResize,
  parseStatus,
  SUBPROTOCOL_V4,
  SUBPROTOCOL_V5,
} from '../../shared/k8s/exec-protocol.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('negotiateSubprotocol', () => {
  it('prefers v5 over v4 whatever the order offered', () => {
    expect(negotiateSubprotocol([SUBPROTOCOL_V4, SUBPROTOCOL_V5])).toBe('v5.channel.k8s.io');
  });

  it('falls back to v4 when v5 is not offered', () => {
    expect(negotiateSubprotocol(['v3.channel.k8s.io', 'v4.channel.k8s.io'])).toBe('v4.channel.k8s.io');
  });

  it('splits a comma-separated header value', () => {
    expect(negotiateSubprotocol(['v4.channel.k8s.io, v5.channel.k8s.io'])).toBe('v5.channel.k8s.io');
  });

  it('refuses v1 to v3 and unknown protocols', () => {
    expect(
      negotiateSubprotocol(['channel.k8s.io', 'v2.channel.k8s.io', 'v3.channel.k8s.io', 'base64.channel.k8s.io']),
    ).toBe(undefined);
    expect(negotiateSubprotocol([])).toBe(undefined);
  });
});

describe('frames', () => {
  it('decodes the channel byte and the payload', () => {
    const frame = decodeFrame(Uint8Array.of(1, 0x68, 0x69));
    expect(frame.channel).toBe(CHANNEL.stdout);
    expect(Buffer.from(frame.payload).toString()).toBe('hi');
  });

  it('decodes a frame with an empty payload', () => {
    expect(decodeFrame(Uint8Array.of(0)).payload.length).toBe(0);
  });

  it('refuses an empty message', () => {
    expect(() => decodeFrame(new Uint8Array(0))).toThrow(ExecProtocolError);
  });

  it('encodes a channel byte before the payload, strings as UTF-8', () => {
    expect([...encodeFrame(CHANNEL.stdin, 'é')]).toEqual([0, 0xc3, 0xa9]);
    expect([...encodeFrame(CHANNEL.stderr, Uint8Array.of(7))]).toEqual([2, 7]);
  });

  it('round-trips a frame', () => {
    const frame = decodeFrame(encodeFrame(CHANNEL.resize, bytes('{"Width":80,"Height":24}')));
    expect(frame.channel).toBe(4);
    expect(parseResize(frame.payload)).toEqual({ width: 80, height: 24 });
  });

  it('refuses a channel that is not a byte', () => {
    expect(() => encodeFrame(256, 'x')).toThrow(ExecProtocolError);
    expect(() => encodeFrame(-1, 'x')).toThrow(ExecProtocolError);
  });

  it('encodes and parses the v5 close signal', () => {
    const frame = decodeFrame(encodeClose(CHANNEL.stdin));
    expect([...encodeClose(CHANNEL.stdin)]).toEqual([255, 0]);
    expect(frame.channel).toBe(CHANNEL.close);
    expect(parseClose(frame.payload)).toBe(0);
    expect(() => parseClose(Uint8Array.of(0, 1))).toThrow(ExecProtocolError);
  });

  it('knows channel 255 only under v5', () => {
    expect(isKnownChannel(255, SUBPROTOCOL_V5)).toBe(true);
    expect(isKnownChannel(255, SUBPROTOCOL_V4)).toBe(false);
    expect(isKnownChannel(4, SUBPROTOCOL_V4)).toBe(true);
    expect(isKnownChannel(5, SUBPROTOCOL_V5)).toBe(false);
  });
});

describe('parseResize', () => {
  it('reads Width and Height', () => {
    expect(parseResize(bytes('{"Width":120,"Height":40}'))).toEqual({ width: 120, height: 40 });
  });

  it('round-trips encodeResize', () => {
    expect(parseResize(encodeResize({ width: 65_535, height: 0 }))).toEqual({ width: 65_535, height: 0 });
  });

  it.each([
    ['not JSON', '{Width:1'],
    ['a missing height', '{"Width":80}'],
    ['a negative width', '{"Width":-1,"Height":24}'],
    ['a width beyond uint16', '{"Width":65536,"Height":24}'],
    ['a fractional height', '{"Width":80,"Height":2.5}'],
    ['a string width', '{"Width":"80","Height":24}'],
  ])('refuses %s', (_name, payload) => {
    expect(() => parseResize(bytes(payload))).toThrow(ExecProtocolError);
  });

  it('refuses a payload longer than 256 bytes before parsing it', () => {
    expect(() => parseResize(bytes(`{"Width":80,"Height":24,"x":"${'a'.repeat(300)}"}`))).toThrow(/at most 256/);
  });
});

describe('parseStatus', () => {
  it('reads Success as exit code 0', () => {
    expect(parseStatus(bytes('{"metadata":{},"status":"Success"}'))).toEqual({ status: 'Success', exitCode: 0 });
  });

  it('reads the ExitCode cause of a NonZeroExitCode failure', () => {
    const status = {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    };
    expect(parseStatus(bytes(JSON.stringify(status)))).toEqual({
      status: 'Failure',
      exitCode: 3,
      reason: 'NonZeroExitCode',
      message: status.message,
    });
  });

  it('reads a failure without an exit code (the command did not run)', () => {
    const status = { status: 'Failure', message: 'container not found ("app")', reason: 'InternalError' };
    expect(parseStatus(bytes(JSON.stringify(status)))).toEqual({
      status: 'Failure',
      exitCode: undefined,
      reason: 'InternalError',
      message: 'container not found ("app")',
    });
  });

  it.each([
    ['no ExitCode cause', { causes: [{ reason: 'Other', message: '1' }] }],
    ['an exit code beyond a byte', { causes: [{ reason: 'ExitCode', message: '256' }] }],
    ['an exit code that is not a number', { causes: [{ reason: 'ExitCode', message: '-1' }] }],
    ['no details', undefined],
  ])('refuses NonZeroExitCode with %s', (_name, details) => {
    const status = { status: 'Failure', reason: 'NonZeroExitCode', details };
    expect(() => parseStatus(bytes(JSON.stringify(status)))).toThrow(ExecProtocolError);
  });

  it('refuses a payload that is not a Status', () => {
    expect(() => parseStatus(bytes('{"status":"Maybe"}'))).toThrow(ExecProtocolError);
    expect(() => parseStatus(bytes('exit 1'))).toThrow(/not UTF-8 JSON/);
  });
});
