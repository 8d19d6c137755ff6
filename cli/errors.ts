/** Bad usage or unreadable input: the CLI exits 2 with the message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A denial or failed check: the CLI exits 1 with the message. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
}
