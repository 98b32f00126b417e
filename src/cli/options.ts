import type { Command } from 'commander';
import { loadConfig, type TweetlakeConfig } from '../pipeline/config.js';
import { configureStorage } from '../storage/locations.js';
import { UsageError } from './errors.js';

/** Adds the flags every lakehouse command shares. */
export function lakehouseOptions(cmd: Command): Command {
  return cmd
    .option(
      '--root <dir>',
      'lakehouse root: a folder or s3://bucket/prefix (default ./lakehouse, or TWEETLAKE_ROOT)',
    )
    .option('--config <file>', 'config file (default ./tweetlake.config.json if present)');
}

/** The effective config for a command's flags. */
export function configFor(
  opts: { root?: string; config?: string },
  extra: Partial<TweetlakeConfig> = {},
): TweetlakeConfig {
  const config = loadConfig({ ...(opts.root ? { root: opts.root } : {}), ...extra }, opts.config);
  configureStorage(config.storage);
  return config;
}

export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${name} must be a positive whole number, got '${value}'`);
  return n;
}

/** The dashboard's port unless one is given: TWEETLAKE_DASHBOARD_PORT, else 4040. */
export function defaultDashboardPort(): number {
  const env = process.env.TWEETLAKE_DASHBOARD_PORT;
  return env ? tcpPort(env, 'TWEETLAKE_DASHBOARD_PORT') : 4040;
}

/** A TCP port number (1–65535). */
export function tcpPort(value: string, name: string): number {
  const n = positiveInt(value, name);
  if (n > 65535) throw new UsageError(`${name} must be a port number from 1 to 65535, got '${value}'`);
  return n;
}

/** A table version or other count from 0 up. */
export function tableVersion(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new UsageError(`${name} must be a whole number, got '${value}'`);
  return n;
}
