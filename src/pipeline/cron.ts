import { TweetlakeError } from '../errors.js';

/** A parsed 5-field cron expression (minute hour day-of-month month day-of-week), in UTC. */
export interface CronSchedule {
  expression: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** cron's rule: when both day fields are restricted, a time matches either. */
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
}

const FIELDS: [string, number, number][] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 7],
];

const ALIASES: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
};

function field(text: string, [name, lo, hi]: [string, number, number], expression: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!m)
      throw new TweetlakeError('CRON_INVALID', `cron '${expression}': cannot read ${name} '${part}'`, {
        domain: 'user',
      });
    const from = m[1] === '*' ? lo : Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : m[1] === '*' || m[3] ? hi : from;
    const step = m[3] ? Number(m[3]) : 1;
    if (from < lo || to > hi || from > to || step < 1) {
      throw new TweetlakeError(
        'CRON_INVALID',
        `cron '${expression}': ${name} '${part}' is outside ${lo}-${hi}`,
        { domain: 'user' },
      );
    }
    for (let v = from; v <= to; v += step) out.add(name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses `m h dom mon dow` (numbers, `*`, ranges, lists, steps) or @hourly/@daily/@weekly/@monthly. */
export function parseCron(expression: string): CronSchedule {
  const text = ALIASES[expression.trim()] ?? expression.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5)
    throw new TweetlakeError(
      'CRON_INVALID',
      `cron '${expression}' needs 5 fields: minute hour day-of-month month day-of-week`,
      { domain: 'user' },
    );
  const [mi, h, d, mo, w] = parts.map((p, i) => field(p, FIELDS[i]!, expression)) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  return {
    expression,
    minutes: mi,
    hours: h,
    days: d,
    months: mo,
    weekdays: w,
    daysRestricted: parts[2] !== '*',
    weekdaysRestricted: parts[4] !== '*',
  };
}

function matches(s: CronSchedule, t: Date): boolean {
  if (
    !s.minutes.has(t.getUTCMinutes()) ||
    !s.hours.has(t.getUTCHours()) ||
    !s.months.has(t.getUTCMonth() + 1)
  )
    return false;
  const dom = s.days.has(t.getUTCDate());
  const dow = s.weekdays.has(t.getUTCDay());
  if (s.daysRestricted && s.weekdaysRestricted) return dom || dow;
  return dom && dow;
}

/** The first time strictly after `after` that the schedule fires (minute precision, UTC). */
export function nextRun(s: CronSchedule, after: Date): Date {
  const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  for (let i = 0; i < 60 * 24 * 366 * 5; i++) {
    if (matches(s, t)) return t;
    t.setTime(t.getTime() + 60_000);
  }
  throw new TweetlakeError('CRON_NEVER', `cron '${s.expression}' never fires`, { domain: 'user' });
}
