/**
 * `pods/exec` and `pods/attach` over WebSocket, the streaming protocol kubectl uses by default since 1.30 (KEP-4006,
 * https://github.com/kubernetes/enhancements/tree/master/keps/sig-api-machinery/4006-transition-spdy-to-websockets):
 * each binary message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error (a Status as JSON), 4 resize
 * (`{"Width","Height"}`) — and `v5.channel.k8s.io` adds 255, "close", whose payload names the channel closed (the client
 * half-closes stdin with `[255, 0]`). The default exec runs the real command in a per-pod sandbox directory.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { WebSocket } from 'ws';

/** Subprotocols accepted, most preferred first. */
export const STREAM_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

/** A terminal size as the client sends it on channel 4. */
export interface TerminalSize {
  Width: number;
  Height: number;
}

/** What an exec or attach handler gets: the request and the session's streams. */
export interface StreamSession {
  kind: 'exec' | 'attach';
  namespace: string;
  pod: string;
  container: string;
  /** The command (exec only; empty for attach). */
  command: string[];
  tty: boolean;
  /** The client's stdin, ended when the client closes it (v5) or leaves; null when `stdin` was not asked for. */
  stdin: Readable | null;
  /** Sends on channel 1; null when `stdout` was not asked for. */
  stdout: Writable | null;
  /** Sends on channel 2; null when `stderr` was not asked for (always with a TTY). */
  stderr: Writable | null;
  /** Emits `resize` with a TerminalSize. */
  events: EventEmitter;
  /** The pod's sandbox directory, the default exec's working directory. */
  sandbox: string;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
}

/** How a session ended: exit code 0 is Success; anything else a Failure with the code; `message` an error. */
export interface StreamResult {
  exitCode: number;
  message?: string;
}

/** Runs an exec or attach session. */
export type StreamHandler = (session: StreamSession) => Promise<StreamResult>;

/** A record of a finished or running session, for assertions. */
export interface StreamRecord {
  kind: 'exec' | 'attach';
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
  protocol: string;
  stdin: Buffer[];
  resizes: TerminalSize[];
  result?: StreamResult;
}

class ChannelWriter extends Writable {
  constructor(
    private readonly ws: WebSocket,
    private readonly channel: number,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      callback();
      return;
    }
    this.ws.send(Buffer.concat([Buffer.from([this.channel]), chunk]), { binary: true }, () => callback());
  }
}

function finalStatus(result: StreamResult): Record<string, unknown> {
  if (result.exitCode === 0 && result.message === undefined) return { metadata: {}, status: 'Success' };
  if (result.message !== undefined && result.exitCode === 0) {
    return { metadata: {}, status: 'Failure', message: result.message, reason: 'InternalError', code: 500 };
  }
  return {
    metadata: {},
    status: 'Failure',
    message:
      result.message ??
      `command terminated with non-zero exit code: error executing command, exit code ${result.exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
  };
}

/** Serves one upgraded WebSocket as an exec or attach session, then sends the final Status and closes. */
export async function serveStream(
  ws: WebSocket,
  params: URLSearchParams,
  base: Omit<StreamSession, 'stdin' | 'stdout' | 'stderr' | 'events' | 'signal' | 'tty'>,
  handler: StreamHandler,
  record: StreamRecord,
  serverSignal: AbortSignal,
): Promise<void> {
  const flag = (name: string): boolean => params.get(name) === 'true' || params.get(name) === '1';
  const tty = flag('tty');
  const abort = new AbortController();
  const onServerAbort = (): void => abort.abort();
  serverSignal.addEventListener('abort', onServerAbort);
  const stdin = flag('stdin') ? new PassThrough() : null;
  const events = new EventEmitter();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const bytes = isBinary ? data : Buffer.from(data);
    if (bytes.length === 0) return;
    const channel = bytes[0];
    const payload = bytes.subarray(1);
    if (channel === STDIN) {
      if (payload.length > 0) record.stdin.push(Buffer.from(payload));
      if (stdin && !stdin.writableEnded) stdin.write(payload);
    } else if (channel === RESIZE) {
      try {
        const size = JSON.parse(payload.toString('utf8')) as TerminalSize;
        record.resizes.push(size);
        events.emit('resize', size);
      } catch {
        // A malformed resize is ignored, as the kubelet logs and ignores it.
      }
    } else if (channel === CLOSE && payload[0] === STDIN) {
      stdin?.end();
    }
  });
  ws.on('close', () => {
    stdin?.end();
    abort.abort();
  });
  const session: StreamSession = {
    ...base,
    tty,
    stdin,
    stdout: flag('stdout') ? new ChannelWriter(ws, STDOUT) : null,
    stderr: flag('stderr') && !tty ? new ChannelWriter(ws, STDERR) : null,
    events,
    signal: abort.signal,
  };
  let result: StreamResult;
  try {
    result = await handler(session);
  } catch (error) {
    result = { exitCode: 0, message: (error as Error).message };
  }
  record.result = result;
  serverSignal.removeEventListener('abort', onServerAbort);
  await Promise.all(
    [session.stdout, session.stderr].map(
      (w) => new Promise<void>((resolve) => (w && !w.writableEnded ? w.end(resolve) : resolve())),
    ),
  );
  if (ws.readyState === ws.OPEN) {
    const status = Buffer.from(JSON.stringify(finalStatus(result)));
    ws.send(Buffer.concat([Buffer.from([ERROR]), status]), { binary: true });
    ws.close(1000);
  }
}

/** `'a b'` → `'\'a b\''`, for `script -c`. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Absolute paths in the arguments are made relative to the sandbox (the process's working directory), so
 * `tar cf - /tmp/f` archives `tmp/f` exactly as tar names `/tmp/f` in a container, and `-C /tmp` lands in the sandbox.
 */
export function sandboxArguments(command: string[]): string[] {
  return command.map((arg, i) => {
    if (i === 0 || !arg.startsWith('/')) return arg;
    const relative = arg.replace(/^\/+/, '');
    return relative === '' ? '.' : relative;
  });
}

/**
 * The default exec: spawn the real command with the sandbox as working directory and HOME. With a TTY the command runs
 * under `script(1)` so it gets a real pseudo-terminal (an interactive `sh` prompts and echoes as in a container).
 */
export const spawnExec: StreamHandler = (session) =>
  new Promise<StreamResult>((resolve) => {
    const args = sandboxArguments(session.command);
    const [file, ...rest] = session.tty
      ? ['script', '-qfec', args.map(shellQuote).join(' '), '/dev/null']
      : (args as [string, ...string[]]);
    if (!file) {
      resolve({ exitCode: 0, message: 'you must specify at least one command for the container' });
      return;
    }
    const child = spawn(file, rest, {
      cwd: session.sandbox,
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: session.sandbox,
        HOSTNAME: session.pod,
        ...(session.tty ? { TERM: 'xterm' } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    session.signal.addEventListener('abort', onAbort);
    if (session.stdin) {
      session.stdin.pipe(child.stdin);
    } else {
      child.stdin.end();
    }
    child.stdin.on('error', () => undefined);
    const drains: Promise<void>[] = [];
    const forward = (from: Readable, to: Writable | null): void => {
      drains.push(
        new Promise((done) => {
          from.on('data', (chunk: Buffer) => to?.write(chunk));
          from.on('end', done);
          from.on('error', () => done());
        }),
      );
    };
    forward(child.stdout, session.stdout);
    // Without a TTY stderr is its own channel; with one the terminal merges them, as the container runtime does.
    forward(child.stderr, session.tty ? session.stdout : session.stderr);
    child.on('error', (error: NodeJS.ErrnoException) => {
      session.signal.removeEventListener('abort', onAbort);
      resolve({
        exitCode: 0,
        message:
          error.code === 'ENOENT'
            ? `exec: "${file}": executable file not found in $PATH`
            : `failed to exec in container: ${error.message}`,
      });
    });
    child.on('exit', (code, signal) => {
      session.signal.removeEventListener('abort', onAbort);
      void Promise.all(drains).then(() =>
        resolve({ exitCode: code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1) }),
      );
    });
  });
