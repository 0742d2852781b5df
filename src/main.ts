#!/usr/bin/env node
// The `audit-gateway` command. The only module with side effects at import: it reads the
// environment (and a .env file) once, then runs one subcommand (`serve` when none is given); the
// commands live in src/cli/. Everything heavy (database drivers, the GraphQL schema) is imported
// by the command that needs it, so `--help` and `secrets` start at once.
import { readFileSync } from 'node:fs';
import module from 'node:module';
import { Command } from 'commander';
import { registerAdminCommands } from './cli/admin.ts';
import { registerChainCommands } from './cli/chain.ts';
import { cliResources, environmentHelp, GATEWAY_VARIABLES } from './cli/resources.ts';
import { registerRetentionCommands } from './cli/retention.ts';
import { registerServeCommands } from './cli/serve.ts';
import { registerStreamCommands } from './cli/streams.ts';

// Node 22.1 and later keep the compiled code of the modules a command loads (the lazy imports
// below) in a cache, so the next start parses less; Node 20 has no such cache and skips this.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('audit-gateway')
  .description('GraphQL audit gateway with MadKudu, Mural, Wasabi AiR and Replicated REST compatibility')
  .version(version, '-V, --version')
  // Not --env-file: Node 20 takes that flag for itself wherever it appears on the command line.
  .option('--dotenv <path>', 'read settings from this file (default: $DOTENV_FILE, else ./.env if it exists)')
  .option('--no-dotenv', 'read no env file, only the environment')
  .showHelpAfterError()
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES));

const cli = cliResources(() => program.opts<{ dotenv?: string | false }>());
registerServeCommands(program, cli);
registerAdminCommands(program, cli);
registerChainCommands(program, cli);
registerRetentionCommands(program, cli);
registerStreamCommands(program, cli);

/**
 * `serve` is what runs when no command is given (`audit-gateway`, `audit-gateway --dotenv x`).
 * It is not commander's default command, because then a mistyped command would be taken as an
 * argument to `serve` instead of being reported as unknown.
 */
function withDefaultCommand(args: string[]): string[] {
  const valueOptions = new Set(['--dotenv']);
  const informational = new Set(['-h', '--help', '-V', '--version']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (informational.has(arg)) return args;
    if (valueOptions.has(arg)) i++;
    else if (!arg.startsWith('-')) return args;
  }
  return ['serve', ...args];
}

program.parseAsync(withDefaultCommand(process.argv.slice(2)), { from: 'user' }).catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
