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
  ])('%s after %s fires at %s (UTC)', (expr, after, next) => {
    expect(nextRun(parseCron(expr, 'UTC'), at(after)).toISOString()).toBe(next);
  });

  /** The firing times of a schedule from `from`, `count` of them. */
  const firings = (expr: string, tz: string, from: string, count: number): string[] => {
    const s = parseCron(expr, tz);
    const out: string[] = [];
    for (let t = at(from); out.length < count;) {
      t = nextRun(s, t);
      out.push(t.toISOString());
    }
    return out;
  };

  it('a daily 02:00 job in Europe/Berlin runs once a day at 02:00 Berlin time across both DST changes', () => {
    // Clocks go 02:00 -> 03:00 on 2026-03-29 (CET+1 -> CEST+2) and 03:00 -> 02:00 on 2026-10-25.
    expect(firings('0 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 4)).toEqual([
      '2026-03-28T01:00:00.000Z', // 02:00 CET
      '2026-03-29T01:00:00.000Z', // 02:00 does not exist that day: the first minute after the gap, 03:00 CEST
      '2026-03-30T00:00:00.000Z', // 02:00 CEST
      '2026-03-31T00:00:00.000Z',
    ]);
    expect(firings('0 2 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', 4)).toEqual([
      '2026-10-24T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:00:00.000Z', // 02:00 CEST, the first of the two 02:00s: once, not twice
      '2026-10-26T01:00:00.000Z', // 02:00 CET
      '2026-10-27T01:00:00.000Z',
    ]);
  });

  it('America/New_York: 01:30, which happens twice on the autumn change, still runs once', () => {
    expect(firings('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 3)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-02T06:30:00.000Z', // 01:30 EST
      '2026-11-03T06:30:00.000Z',
    ]);
    expect(firings('0 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 2)).toEqual([
      '2026-03-08T07:00:00.000Z', // 02:00 skipped by the clocks: 03:00 EDT
      '2026-03-09T06:00:00.000Z', // 02:00 EDT
    ]);
  });

  it('reads the expression in the machine zone by default, and refuses an unknown zone', () => {
    expect(parseCron('0 2 * * *').timezone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(() => parseCron('0 2 * * *', 'Mars/Olympus')).toThrow(/'Mars\/Olympus' is not a time zone/);
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
