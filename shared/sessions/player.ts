/**
 * Replays an asciicast v2 recording (shared/audit/asciicast.ts) in a terminal, as `asciinema play` does: the output
 * events (`o`) are written with the recorded pauses between them, divided by a speed factor, and a pause longer than
 * the idle limit is cut down to it. Input (`i`) is not written: a terminal's echo already put what the agent typed in
 * the output, so writing it again would show it twice. Resizes (`r`) and markers (`m`) are not terminal output either.
 * Pure: time comes through `now` and `sleep`, so a test plays a recording at a fixed instant.
 */
import type { Asciicast } from '../audit/asciicast.ts';

export interface ReplayTiming {
  /** How much faster than recorded: 2 halves every pause. @default 1 */
  speed?: number;
  /**
   * The longest pause, in recorded seconds, before `speed` applies (asciinema's idle time limit). Defaults to the
   * recording header's `idle_time_limit`, or no limit.
   */
  maxWaitSeconds?: number;
}

/** Output to write after a pause. */
export interface ReplayFrame {
  /** When to write it, in milliseconds from the start of the replay. */
  atMs: number;
  text: string;
}

/**
 * The output of a recording as frames on the replay's own time line: each output event's recorded gap to the one
 * before, capped at the idle limit, divided by the speed. Output events at the same instant of that time line are
 * joined into one frame.
 */
export function replayFrames(cast: Asciicast, timing: ReplayTiming = {}): ReplayFrame[] {
  const speed = timing.speed ?? 1;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, not ${speed}`);
  const limit = timing.maxWaitSeconds ?? cast.header.idle_time_limit ?? Infinity;
  if (!(limit >= 0)) throw new RangeError(`the idle limit must be zero or more seconds, not ${limit}`);
  const frames: ReplayFrame[] = [];
  let recordedBefore = 0;
  let atSeconds = 0;
  for (const [time, code, data] of cast.events) {
    // The gap counts from the event before, whatever its code: input and resizes take time in the session too.
    atSeconds += Math.min(time - recordedBefore, limit);
    recordedBefore = time;
    if (code !== 'o' || data === '') continue;
    // Milliseconds to the microsecond, as the recording's times are: no drift from summing floats.
    const atMs = Math.round((atSeconds / speed) * 1e6) / 1e3;
    const last = frames[frames.length - 1];
    if (last && last.atMs === atMs) last.text += data;
    else frames.push({ atMs, text: data });
  }
  return frames;
}

export interface ReplayTerminal {
  write(text: string): void | Promise<void>;
  /** Milliseconds from any origin that never goes back. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Asked before each frame: true stops the replay (Ctrl-C). */
  stopped?(): boolean;
}

/**
 * Writes the frames at their times. Each pause is measured against the replay's start, not the frame before, so time
 * spent writing does not add up over a long session.
 */
export async function playFrames(frames: readonly ReplayFrame[], terminal: ReplayTerminal): Promise<void> {
  const start = terminal.now();
  for (const frame of frames) {
    if (terminal.stopped?.()) return;
    const wait = start + frame.atMs - terminal.now();
    if (wait > 0) await terminal.sleep(wait);
    if (terminal.stopped?.()) return;
    await terminal.write(frame.text);
  }
}

/** The recording's output without its timing, as `asciinema cat` prints it: every output event's text in order. */
export function outputText(cast: Asciicast): string {
  return cast.events
    .filter(([, code]) => code === 'o')
    .map(([, , data]) => data)
    .join('');
}
