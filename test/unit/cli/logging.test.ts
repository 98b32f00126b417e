import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import {
  configureLogging,
  DEFAULT_LOG_LEVEL,
  InvalidLogLevel,
  logFor,
  logger,
  resetLogOutput,
  setLogLevel,
  setLogOutput,
} from '../../../src/log.js';
import { tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-logging-');

function capture(human?: boolean): string[] {
  const lines: string[] = [];
  setLogOutput({ write: (t: string) => lines.push(t) }, human);
  return lines;
}

afterEach(() => {
  resetLogOutput();
  setLogLevel(DEFAULT_LOG_LEVEL);
  dirs.cleanup();
});

describe('logs (src/log.ts)', () => {
  it('writes one JSON object a line with level, time, component and fields when not a terminal', () => {
    const lines = capture(false);
    setLogLevel('info');
    logFor('pipeline').info(
      { stream: 'bronze_stream', batchId: 3, inputRows: 12, ms: 40 },
      'batch committed',
    );
    logFor('pipeline').debug({ stream: 'bronze_stream' }, 'below the level');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 30,
      component: 'pipeline',
      msg: 'batch committed',
      stream: 'bronze_stream',
      batchId: 3,
      inputRows: 12,
      ms: 40,
    });
    expect(typeof entry.time).toBe('string');
  });

  it('writes a short human line on a terminal', () => {
    const lines = capture(true);
    logFor('mlflow').warn({ status: 503, attempt: 1 }, 'retrying');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN \[mlflow\] retrying status=503 attempt=1\n$/);
  });

  it('masks secrets in every line: URL user info, tokens in URLs, bearer headers', () => {
    const lines = capture(false);
    logFor('mlflow').warn(
      { url: 'https://bob:hunter2@mlflow.example/api?token=abc123', header: 'Bearer abcdefghijkl' },
      'unreachable',
    );
    expect(lines[0]).not.toMatch(/hunter2|abc123|abcdefghijkl/);
    expect(lines[0]).toContain('https://***@mlflow.example/api?token=***');
  });

  it('takes the level from the flag, else TWEETLAKE_LOG_LEVEL, else warn; refuses an unknown level', () => {
    expect(configureLogging({ env: {} })).toBe('warn');
    expect(configureLogging({ env: { TWEETLAKE_LOG_LEVEL: 'DEBUG' } })).toBe('debug');
    expect(logFor('pipeline').level).toBe('debug');
    expect(configureLogging({ level: 'error', env: { TWEETLAKE_LOG_LEVEL: 'debug' } })).toBe('error');
    expect(logger.level).toBe('error');
    expect(() => configureLogging({ level: 'loud' })).toThrow(InvalidLogLevel);
    expect(() => configureLogging({ env: { TWEETLAKE_LOG_LEVEL: 'loud' } })).toThrow(
      /TWEETLAKE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/,
    );
  });

  it('the CLI sets the level from --log-level, and an unknown level is a usage error (exit 2)', async () => {
    const root = dirs.make();
    expect(await main(['--log-level', 'debug', 'schedule-history', '--root', root])).toBe(0);
    expect(logger.level).toBe('debug');
    expect(logFor('pipeline').level).toBe('debug');
    expect(await main(['--log-level', 'loud', 'schedule-history', '--root', root])).toBe(2);
  });
});
