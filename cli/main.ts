import { Command, CommanderError } from 'commander';
import { UsageError } from './errors.ts';
import { eksTokenCommand } from './commands/eks-token.ts';
import { localCommand } from './commands/local.ts';
import { tokenCommand } from './commands/token.ts';
import { kubeconfigCommand } from './commands/kubeconfig.ts';
import { configCommand } from './commands/config.ts';
import { requestsCommand } from './commands/requests.ts';
import { evidenceCommand } from './commands/evidence.ts';
import { auditCommand } from './commands/audit.ts';
import { maskCommand } from './commands/mask.ts';
import { replayCommand } from './commands/replay.ts';

/** Builds the `gatehouse` program. Each command lives in cli/commands/<name>.ts. */
export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('Just-in-time, audited access to Amazon EKS')
    .version('0.1.0')
    // Options belong to the command they follow, so `local dev-token --data-dir D` is not taken by `local` itself.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.addCommand(eksTokenCommand());
  program.addCommand(localCommand());
  program.addCommand(tokenCommand());
  program.addCommand(kubeconfigCommand());
  program.addCommand(configCommand());
  program.addCommand(requestsCommand());
  program.addCommand(evidenceCommand());
  program.addCommand(auditCommand());
  program.addCommand(maskCommand());
  program.addCommand(replayCommand());
  return program;
}

const BAD_INPUT_ERRORS = new Set(['ConfigError', 'PolicyLoadError']);

/** Runs the CLI and returns its exit code: 0 ok, 1 denied or failed, 2 bad usage or input. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    // A bad configuration or policy file is bad input: every problem is in the message.
    if (error instanceof UsageError || (error instanceof Error && BAD_INPUT_ERRORS.has(error.name))) {
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
