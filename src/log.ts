import { pino, type Logger } from 'pino';
import { TweetlakeError } from './errors.js';
import { redactSecrets } from './redact.js';

/**
 * The one logger of tweetlake (pino). Logs go to stderr, so what commands print on stdout stays as
 * it is: one JSON object a line when stderr is not a terminal (for log collectors), a short human
 * line when it is. Every line passes through `redactSecrets` (URLs with user info, tokens). The
 * level comes from `--log-level`, else `TWEETLAKE_LOG_LEVEL`, else `warn`: an interactive command
 * shows only what went wrong; `info` adds stream start/stop, committed batches, retries, recovery
 * decisions and model loads.
 */

/** The levels `--log-level` and `TWEETLAKE_LOG_LEVEL` accept. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Level used when neither the flag nor the environment sets one. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';

/** A level that is not one of LOG_LEVELS. */
export class InvalidLogLevel extends TweetlakeError {
  constructor(value: string, where: string) {
    super('LOG_LEVEL_INVALID', `${where} must be one of ${LOG_LEVELS.join(', ')}, got '${value}'`, {
      domain: 'user',
    });
  }
}

interface LogOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

let output: LogOutput = process.stderr;
let humanLines: boolean | undefined;

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** `12:00:01 WARN [pipeline] message key=value ...` from one pino JSON line. */
export function humanLine(jsonLine: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine; // not a pino line: shown as it came
  }
  const { level, time, msg, component, pid: _pid, hostname: _host, ...rest } = entry;
  const clock = typeof time === 'string' ? time.slice(11, 19) : new Date().toISOString().slice(11, 19);
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const where = component ? ` [${String(component)}]` : '';
  return `${clock} ${LEVEL_NAMES[Number(level)] ?? String(level)}${where} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}

const destination = {
  write(line: string): void {
    const safe = redactSecrets(line);
    output.write((humanLines ?? output.isTTY === true) ? humanLine(safe) : safe);
  },
};

function parseLevel(value: string, where: string): LogLevel {
  const level = value.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new InvalidLogLevel(value, where);
  return level as LogLevel;
}

function initialLevel(): LogLevel {
  const env = process.env.TWEETLAKE_LOG_LEVEL;
  // A bad value is reported by configureLogging, which the CLI calls first.
  return env && (LOG_LEVELS as readonly string[]).includes(env.trim().toLowerCase())
    ? (env.trim().toLowerCase() as LogLevel)
    : DEFAULT_LOG_LEVEL;
}

/** The root logger; modules take a child with `logFor(component)`. */
export const logger: Logger = pino(
  {
    level: initialLevel(),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (_label, number) => ({ level: number }) },
  },
  destination,
);

const children = new Map<string, Logger>();

/** The logger of one part of tweetlake (`component` in every line): `logFor('pipeline').info(...)`. */
export function logFor(component: string): Logger {
  let child = children.get(component);
  if (!child) {
    child = logger.child({ component });
    children.set(component, child);
  }
  return child;
}

/** Sets the level from the `--log-level` flag, else `TWEETLAKE_LOG_LEVEL`, else the default. */
export function configureLogging(options: { level?: string; env?: NodeJS.ProcessEnv } = {}): LogLevel {
  const env = (options.env ?? process.env).TWEETLAKE_LOG_LEVEL;
  const level =
    options.level !== undefined
      ? parseLevel(options.level, '--log-level')
      : env
        ? parseLevel(env, 'TWEETLAKE_LOG_LEVEL')
        : DEFAULT_LOG_LEVEL;
  setLogLevel(level);
  return level;
}

/** Changes the level of the root logger and of every component's logger. */
export function setLogLevel(level: LogLevel): void {
  logger.level = level;
  for (const child of children.values()) child.level = level;
}

/** Sends logs elsewhere (tests); `human` forces or forbids human lines (default: when a TTY). */
export function setLogOutput(out: LogOutput, human?: boolean): void {
  output = out;
  humanLines = human;
}

/** Logs back to stderr, human lines on a terminal. */
export function resetLogOutput(): void {
  output = process.stderr;
  humanLines = undefined;
}
