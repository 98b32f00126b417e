#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { TWEETLAKE_VERSION } from '../delta/version.js';
import { configureLogging, DEFAULT_LOG_LEVEL, LOG_LEVELS } from '../log.js';
import { redactSecrets } from '../redact.js';
import { presentError } from './errors.js';
import { registerKafkaCommands } from './kafka-commands.js';
import { registerLakehouseCommands } from './lakehouse-commands.js';
import { registerModelCommands } from './model-commands.js';
import { registerRunCommand } from './run-command.js';
import { registerTableCommands } from './table-commands.js';
import { registerScheduleCommands } from './schedule-commands.js';
import { registerSqlCommand } from './sql-command.js';
import { registerUiCommands } from './ui-commands.js';

/** Builds the command tree; `out` receives what commands print. */
export function buildProgram(out: NodeJS.WriteStream = process.stdout): Command {
  const program = new Command('tweetlake')
    .description('a streaming lakehouse for tweet sentiment: Delta tables, streams, models, dashboard')
    .version(TWEETLAKE_VERSION, '-V, --version', 'print the version of tweetlake')
    // Options of the program are read only before the subcommand, so that a subcommand's own
    // --version (a table or model version) is never taken for the program's.
    .enablePositionalOptions()
    .option(
      '--log-level <level>',
      `logs on stderr: ${LOG_LEVELS.join(', ')} (default TWEETLAKE_LOG_LEVEL, else ${DEFAULT_LOG_LEVEL}); JSON lines when stderr is not a terminal`,
    )
    .showHelpAfterError()
    .exitOverride()
    // Before any command runs: the level from --log-level, else TWEETLAKE_LOG_LEVEL (a bad value is a usage error).
    .hook('preAction', () => {
      configureLogging({ level: program.opts<{ logLevel?: string }>().logLevel });
    });
  registerRunCommand(program, out);
  registerLakehouseCommands(program, out);
  registerSqlCommand(program, out);
  registerTableCommands(program, out);
  registerModelCommands(program, out);
  registerUiCommands(program, out);
  registerScheduleCommands(program, out);
  registerKafkaCommands(program, out);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0; // --help, --version
    const shown = presentError(err);
    // Commander has printed its own message (and the help) already.
    if (!(err instanceof CommanderError)) process.stderr.write(`error [${shown.code}]: ${shown.message}\n`);
    if (process.env.TWEETLAKE_DEBUG && err instanceof Error && err.stack)
      process.stderr.write(`${redactSecrets(err.stack)}\n`);
    return shown.exitCode;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // The AWS SDK warns on Node 20 about its releases from 2027 on; the version pinned here runs on Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`fatal: ${redactSecrets(String(err))}\n`);
      process.exitCode = 70;
    },
  );
}
