#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { TweetlakeError } from '../errors.js';
import { TWEETLAKE_VERSION } from '../delta/version.js';
import { registerLakehouseCommands } from './lakehouse-commands.js';
import { registerModelCommands } from './model-commands.js';
import { registerRunCommand } from './run-command.js';
import { registerTableCommands } from './table-commands.js';
import { registerScheduleCommands } from './schedule-commands.js';
import { registerUiCommands } from './ui-commands.js';

/** Builds the command tree; `out` receives what commands print. */
export function buildProgram(out: NodeJS.WriteStream = process.stdout): Command {
  const program = new Command('tweetlake')
    .description('a streaming lakehouse for tweet sentiment: Delta tables, streams, models, dashboard')
    .version(TWEETLAKE_VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerRunCommand(program, out);
  registerLakehouseCommands(program, out);
  registerTableCommands(program, out);
  registerModelCommands(program, out);
  registerUiCommands(program, out);
  registerScheduleCommands(program, out);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof TweetlakeError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.TWEETLAKE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
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
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`fatal: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
