import type { Command } from 'commander';
import { loadConfig, type TweetlakeConfig } from '../pipeline/config.js';

/** Adds the flags every lakehouse command shares. */
export function lakehouseOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'lakehouse root (default ./lakehouse, or TWEETLAKE_ROOT)')
    .option('--config <file>', 'config file (default ./tweetlake.config.json if present)');
}

/** The effective config for a command's flags. */
export function configFor(
  opts: { root?: string; config?: string },
  extra: Partial<TweetlakeConfig> = {},
): TweetlakeConfig {
  return loadConfig({ ...(opts.root ? { root: opts.root } : {}), ...extra }, opts.config);
}

export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive whole number, got '${value}'`);
  return n;
}
