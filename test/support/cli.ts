import { vi } from 'vitest';
import { main } from '../../cli/main.ts';

/**
 * Sends what the code under test writes to this process's stdout and stderr to the given sinks instead of the
 * terminal, until the returned function (or `vi.restoreAllMocks`) restores them.
 */
export function captureOutput(onStdout: (text: string) => void, onStderr: (text: string) => void): () => void {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    onStdout(text(chunk));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    onStderr(text(chunk));
    return true;
  });
  return () => {
    out.mockRestore();
    err.mockRestore();
  };
}

/** A chunk as the terminal would show it: strings as they are, bytes (`Buffer`, `Uint8Array`) decoded as UTF-8. */
function text(chunk: string | Uint8Array): string {
  return typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
}

/** Runs `gatehouse ...args` in this process: its exit code and what it printed. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const restoreOutput = captureOutput(
    (text) => (stdout += text),
    (text) => (stderr += text),
  );
  try {
    const code = await main(['node', 'gatehouse', ...args]);
    return { code, stdout, stderr };
  } finally {
    restoreOutput();
  }
}
