import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nextRun, parseCron } from '../../../src/pipeline/cron.js';
import { runJob, ScheduleHistory } from '../../../src/pipeline/schedule.js';

const at = (iso: string) => new Date(iso);

describe('cron', () => {
  it.each([
    ['0 2 * * *', '2026-11-25T13:36:00Z', '2026-11-26T02:00:00.000Z'],
    ['@daily', '2026-11-25T00:00:00Z', '2026-11-26T00:00:00.000Z'],
    ['*/15 * * * *', '2026-11-25T13:36:10Z', '2026-11-25T13:45:00.000Z'],
    ['30 9 * * 1-5', '2026-11-27T10:00:00Z', '2026-11-30T09:30:00.000Z'], // Friday after 9:30 -> Monday
    ['0 0 1 * *', '2026-12-15T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['0 12 13 * 5', '2026-11-01T00:00:00Z', '2026-11-06T12:00:00.000Z'], // day 13 OR Friday (cron's rule)
    ['0 0 * * 7', '2026-11-25T00:00:00Z', '2026-11-29T00:00:00.000Z'], // 7 is Sunday too
  ])('%s after %s fires at %s', (expr, after, next) => {
    expect(nextRun(parseCron(expr), at(after)).toISOString()).toBe(next);
  });

  it.each(['* * *', '61 * * * *', '5-1 * * * *', 'x * * * *', '* * * 13 *'])('refuses %j', (expr) => {
    expect(() => parseCron(expr)).toThrow(/cron/);
  });
});

describe('scheduled job', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-schedule-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the refresh task only after the pipeline task succeeded, and keeps a history', async () => {
    const history = new ScheduleHistory(dir);
    const order: string[] = [];
    const ok = await runJob(
      'j',
      at('2026-11-25T02:00:00Z'),
      [
        { name: 'pipeline', run: async () => void order.push('pipeline') },
        { name: 'dashboard-refresh', run: async () => void order.push('refresh') },
      ],
      history,
    );
    expect(ok.status).toBe('SUCCEEDED');
    expect(order).toEqual(['pipeline', 'refresh']);
    const failed = await runJob(
      'j',
      at('2026-11-26T02:00:00Z'),
      [
        {
          name: 'pipeline',
          run: async () => {
            throw new Error('source folder missing');
          },
        },
        { name: 'dashboard-refresh', run: async () => void order.push('refresh again') },
      ],
      history,
    );
    expect(failed.status).toBe('FAILED');
    expect(failed.tasks.map((t) => t.status)).toEqual(['FAILED', 'SKIPPED']);
    expect(failed.tasks[0]!.error).toBe('source folder missing');
    expect(order).toEqual(['pipeline', 'refresh']);
    const runs = await history.list();
    expect(runs.map((r) => [r.scheduledFor, r.status])).toEqual([
      ['2026-11-25T02:00:00.000Z', 'SUCCEEDED'],
      ['2026-11-26T02:00:00.000Z', 'FAILED'],
    ]);
  });
});
