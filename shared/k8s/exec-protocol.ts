/**
 * The Kubernetes remote-command WebSocket protocol (`kubectl exec`, `kubectl attach`), as the relay speaks it on both
 * sides (DESIGN.md section 2.4). Every WebSocket message is binary: one channel byte, then the channel's payload.
 *
 * Versions (k8s.io/apimachinery/pkg/util/remotecommand/constants.go): `channel.k8s.io` (v1) to `v3.channel.k8s.io` have
 * known bugs or no exit codes; `v4.channel.k8s.io` carries the exit code as a metav1.Status on the error channel;
 * `v5.channel.k8s.io` adds the CLOSE signal (channel 255, one byte naming the channel the sender is done with), which
 * kubectl needs to half-close stdin. Gatehouse accepts v5 and v4 only, so every session it relays has an exit status.
 */
import { z } from 'zod';

export const SUBPROTOCOL_V5 = 'v5.channel.k8s.io';
export const SUBPROTOCOL_V4 = 'v4.channel.k8s.io';
/** The subprotocols the relay accepts, preferred first. */
export const SUPPORTED_SUBPROTOCOLS = [SUBPROTOCOL_V5, SUBPROTOCOL_V4] as const;
export type ExecSubprotocol = (typeof SUPPORTED_SUBPROTOCOLS)[number];

/** Channel numbers; stdin, stdout and stderr are their file descriptors. */
export const CHANNEL = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  /** metav1.Status from the server when the command ends (v4 and later). */
  error: 3,
  /** `{"Width": .., "Height": ..}` from the client when its terminal changes size. */
  resize: 4,
  /** v5 only: the payload is the one channel number the sender closes. */
  close: 255,
} as const;
export type ChannelName = keyof typeof CHANNEL;

/** A frame or payload that does not follow the protocol. Its message names the problem, never the payload's content. */
export class ExecProtocolError extends Error {
  override name = 'ExecProtocolError';
}

export interface ExecFrame {
  channel: number;
  /** A view into the message's bytes (no copy). */
  payload: Uint8Array;
}

/**
 * Picks the subprotocol to answer with from those the client offered (the `Sec-WebSocket-Protocol` values; a value
 * holding several comma-separated names is split): v5 when offered, else v4, else undefined (the upgrade is refused).
 */
export function negotiateSubprotocol(offered: readonly string[]): ExecSubprotocol | undefined {
  const names = new Set(offered.flatMap((value) => value.split(',')).map((name) => name.trim()));
  return SUPPORTED_SUBPROTOCOLS.find((name) => names.has(name));
}

/** True when `channel` may appear under `subprotocol`: 0 to 4 in both, 255 in v5 only. */
export function isKnownChannel(channel: number, subprotocol: ExecSubprotocol): boolean {
  if (channel === CHANNEL.close) return subprotocol === SUBPROTOCOL_V5;
  return Number.isInteger(channel) && channel >= CHANNEL.stdin && channel <= CHANNEL.resize;
}

/** Splits a binary message into its channel byte and payload. Throws ExecProtocolError for an empty message. */
export function decodeFrame(data: Uint8Array): ExecFrame {
  if (data.length === 0) throw new ExecProtocolError('empty message: no channel byte');
  return { channel: data[0]!, payload: data.subarray(1) };
}

/** One binary message: the channel byte, then the payload (a string is written as UTF-8). */
export function encodeFrame(channel: number, payload: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
    throw new ExecProtocolError(`channel ${channel} is not a byte`);
  }
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const frame = new Uint8Array(bytes.length + 1);
  frame[0] = channel;
  frame.set(bytes, 1);
  return frame;
}

/** The v5 CLOSE signal for `channel` (`[255, channel]`), as client-go sends when a stream's writer closes. */
export function encodeClose(channel: number): Uint8Array {
  return encodeFrame(CHANNEL.close, Uint8Array.of(channel));
}

/** The channel a v5 CLOSE payload closes. Throws ExecProtocolError unless the payload is exactly one byte. */
export function parseClose(payload: Uint8Array): number {
  if (payload.length !== 1) throw new ExecProtocolError(`close signal of ${payload.length} bytes, expected 1`);
  return payload[0]!;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** A resize message is a few dozen bytes; anything much longer is refused before it is parsed. */
const MAX_RESIZE_BYTES = 256;
/** remotecommand.TerminalSize holds uint16 columns and rows. */
const Dimension = z.number().int().min(0).max(65_535);
const ResizeSchema = z.object({ Width: Dimension, Height: Dimension });

/**
 * The terminal size of a resize payload (`{"Width":80,"Height":24}`). Throws ExecProtocolError when it is too long,
 * not JSON, or its dimensions are not integers from 0 to 65,535.
 */
export function parseResize(payload: Uint8Array): TerminalSize {
  if (payload.length > MAX_RESIZE_BYTES) {
    throw new ExecProtocolError(`resize message of ${payload.length} bytes, at most ${MAX_RESIZE_BYTES} accepted`);
  }
  const parsed = ResizeSchema.safeParse(parseJson(payload, 'resize message'));
  if (!parsed.success) throw new ExecProtocolError('resize message is not {"Width": uint16, "Height": uint16}');
  return { width: parsed.data.Width, height: parsed.data.Height };
}

/** The resize payload for `size`, as kubectl writes it. */
export function encodeResize(size: TerminalSize): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ Width: size.width, Height: size.height }));
}

/** How the command ended, from the error channel. */
export type ExecStatus =
  | { status: 'Success'; exitCode: 0 }
  | {
      status: 'Failure';
      /** The command's exit code when it ran and exited non-zero (reason `NonZeroExitCode`), else undefined. */
      exitCode: number | undefined;
      reason: string | undefined;
      /**
       * The server's message: it may quote the command or the container's output, so it is for the agent's terminal,
       * not for audit events (DESIGN.md section 5).
       */
      message: string | undefined;
    };

/** A status is a few hundred bytes; a longer one is refused before it is parsed. */
const MAX_STATUS_BYTES = 64 * 1024;
const StatusSchema = z.object({
  status: z.enum(['Success', 'Failure']),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z
    .object({
      causes: z.array(z.object({ reason: z.string().optional(), message: z.string().optional() })).optional(),
    })
    .nullish(),
});
/** Exit codes are one byte: client-go parses the cause's message with strconv.ParseUint(message, 10, 8). */
const EXIT_CODE = /^\d{1,3}$/;

/**
 * The metav1.Status of the error channel (v4 and later): `Success` (exit code 0), or `Failure` with the exit code from
 * the `ExitCode` cause when the reason is `NonZeroExitCode`, as client-go's errorDecoderV4 reads it. Throws
 * ExecProtocolError when the payload is not a status, or says NonZeroExitCode without a valid exit code.
 */
export function parseStatus(payload: Uint8Array): ExecStatus {
  if (payload.length > MAX_STATUS_BYTES) {
    throw new ExecProtocolError(`status message of ${payload.length} bytes, at most ${MAX_STATUS_BYTES} accepted`);
  }
  const parsed = StatusSchema.safeParse(parseJson(payload, 'status message'));
  if (!parsed.success) throw new ExecProtocolError('status message is not a metav1.Status');
  const status = parsed.data;
  if (status.status === 'Success') return { status: 'Success', exitCode: 0 };
  let exitCode: number | undefined;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((candidate) => candidate.reason === 'ExitCode');
    const code = cause?.message !== undefined && EXIT_CODE.test(cause.message) ? Number(cause.message) : NaN;
    if (!(code >= 0 && code <= 255)) throw new ExecProtocolError('NonZeroExitCode status without an ExitCode 0-255');
    exitCode = code;
  }
  return { status: 'Failure', exitCode, reason: status.reason, message: status.message };
}

function parseJson(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new ExecProtocolError(`${what} is not UTF-8 JSON`);
  }
}
