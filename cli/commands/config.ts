/**
 * `gatehouse config validate [FILE]`: checks gatehouse.config.yaml and the Cedar policies it names, listing every
 * problem with its line (exit 2) or printing a one-line summary (exit 0).
 * `gatehouse config schema`: prints the JSON Schema editors use for the file (`npm run schema` commits it).
 */
import { Command } from 'commander';
import { loadConfigFile } from '#shared/adapters/fs/config-file.ts';
import { configJsonSchema } from '#shared/config/json-schema.ts';
import { loadPolicyEngine } from '#shared/policy/policy-engine.ts';

export interface ConfigCommandDeps {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default writes to process.stdout */
  stdout?: (text: string) => void;
  /** @default writes to process.stderr */
  stderr?: (text: string) => void;
}

/** Builds the `config` command and its subcommands. */
export function configCommand(deps: ConfigCommandDeps = {}): Command {
  const write = (text: string) => (deps.stdout ?? ((t: string) => void process.stdout.write(t)))(text);
  const writeErr = (text: string) => (deps.stderr ?? ((t: string) => void process.stderr.write(t)))(text);
  const config = new Command('config').description('check the configuration, or print its JSON Schema').exitOverride();

  config
    .command('validate')
    .description('validate gatehouse.config.yaml and its Cedar policies; every problem is listed with its line')
    .argument('[file]', 'configuration file (default: GATEHOUSE_CONFIG or gatehouse.config.yaml)')
    .exitOverride()
    .action((file: string | undefined) => {
      const env = deps.env ?? process.env;
      const path = file ?? env.GATEHOUSE_CONFIG ?? 'gatehouse.config.yaml';
      // ConfigError and PolicyLoadError carry every problem in their message; main() prints it and exits 2.
      const loaded = loadConfigFile(path);
      const engine = loadPolicyEngine({ files: loaded.policyFiles });
      for (const warning of engine.warnings) {
        writeErr(
          `gatehouse: warning: ${warning.file}${warning.line ? `:${warning.line}:${warning.column ?? 1}` : ''} ${warning.message}\n`,
        );
      }
      const { config: parsed, versions } = loaded;
      const count = (n: number, noun: string, plural = `${noun}s`) => `${n} ${n === 1 ? noun : plural}`;
      write(
        `${path}: ok (${count(parsed.issuers.length, 'issuer')}, ${count(parsed.clusters.length, 'cluster')}, ` +
          `${count(engine.policyIds.length, 'policy', 'policies')} in ${count(loaded.policyFiles.length, 'file')}; ` +
          `config ${versions.config}, policies ${engine.version})\n`,
      );
    });

  config
    .command('schema')
    .description('print the JSON Schema of gatehouse.config.yaml')
    .exitOverride()
    .action(() => {
      write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });

  return config;
}
