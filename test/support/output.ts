import { vi } from 'vitest';

/**
 * Sends what the code under test writes to this process's stdout and stderr to the given sinks instead of the
 * terminal, until the returned function (or `vi.restoreAllMocks`) restores them.
 */
export function captureOutput(onStdout: (text: string) => void, onStderr: (text: string) => void): () => void {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    onStdout(String(chunk));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    onStderr(String(chunk));
    return true;
  });
  return () => {
    out.mockRestore();
    err.mockRestore();
  };
}
