import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { DeadLetter, DeadLetters } from '../../evidence/ports.ts';

/** The local runtime's dead-letter file in its data directory. */
export const LOCAL_DEAD_LETTER_FILE = 'archive-dead-letters.jsonl';

type Line = { messageId: string; body: string } | { deleted: string };

/**
 * The local runtime's dead-letter queue: a JSONL file that is only ever appended to, so the local stream (in
 * `gatehouse local`) and a redrive (in the CLI) can share it without locks. A message is a line
 * `{"messageId", "body"}` whose body is the on-failure record SQS would carry; deleting it appends `{"deleted": id}`.
 */
export class LocalDeadLetters implements DeadLetters {
  constructor(private readonly file: string) {}

  /** Sends an on-failure record, as Lambda does to the SQS destination. */
  send(record: unknown): void {
    this.append({ messageId: randomUUID(), body: JSON.stringify(record) });
  }

  async receive(): Promise<DeadLetter[]> {
    return this.pending();
  }

  async delete(letter: DeadLetter): Promise<void> {
    this.append({ deleted: letter.receipt });
  }

  /** The messages not deleted, oldest first. */
  pending(): DeadLetter[] {
    if (!existsSync(this.file)) return [];
    const messages = new Map<string, DeadLetter>();
    for (const text of readFileSync(this.file, 'utf8').split('\n')) {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        continue; // empty, or torn by a process that died mid-write
      }
      if ('deleted' in line) messages.delete(line.deleted);
      else messages.set(line.messageId, { id: line.messageId, receipt: line.messageId, body: line.body });
    }
    return [...messages.values()];
  }

  private append(line: Line): void {
    // One write per line with O_APPEND: writers in two processes never interleave within a line.
    appendFileSync(this.file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  }
}
