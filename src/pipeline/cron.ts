import { Cron } from 'croner';
import { TweetlakeError, errorMessage } from '../errors.js';

/**
 * A cron schedule in a time zone, computed by croner: `0 2 * * *` in Europe/Berlin fires at 02:00
 * Berlin time every day, also across daylight-saving changes (on the day the clocks skip 02:00 it
 * fires at the first minute after the gap, 03:00; on the day 02:00 comes twice it fires once).
 */
export interface CronSchedule {
  expression: string;
  /** IANA time zone the expression's hours and days are read in. */
  timezone: string;
  cron: Cron;
}

/** The machine's IANA time zone (TZ, else the system's), the default of `--tz`/`schedule.timezone`. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** An unknown zone name: the IANA database has no such zone. */
export function checkTimeZone(timezone: string, where = '--tz'): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch (err) {
    throw new TweetlakeError(
      'TIMEZONE_INVALID',
      `${where}: '${timezone}' is not a time zone; give an IANA name such as Europe/Berlin, America/New_York or UTC`,
      { domain: 'user', cause: err },
    );
  }
  return timezone;
}

/**
 * Parses `m h dom mon dow` (numbers, names, `*`, ranges, lists, steps, L, W, #) or
 * @hourly/@daily/@midnight/@weekly/@monthly/@yearly, read in `timezone` (default: the machine's).
 * As in cron, when both day fields are restricted a day matching either fires.
 */
export function parseCron(
  expression: string,
  timezone: string = localTimeZone(),
  where = '--tz',
): CronSchedule {
  const text = expression.trim();
  checkTimeZone(timezone, where);
  if (!text.startsWith('@') && text.split(/\s+/).length !== 5)
    throw new TweetlakeError(
      'CRON_INVALID',
      `cron '${expression}' needs 5 fields: minute hour day-of-month month day-of-week`,
      { domain: 'user' },
    );
  try {
    return { expression, timezone, cron: new Cron(text, { timezone, paused: true }) };
  } catch (err) {
    throw new TweetlakeError('CRON_INVALID', `cron '${expression}': ${errorMessage(err)}`, {
      domain: 'user',
      cause: err,
    });
  }
}

/** The first time strictly after `after` that the schedule fires (minute precision). */
export function nextRun(s: CronSchedule, after: Date): Date {
  const next = s.cron.nextRun(after);
  if (!next) throw new TweetlakeError('CRON_NEVER', `cron '${s.expression}' never fires`, { domain: 'user' });
  return next;
}

/** `2026-03-29 03:00 Europe/Berlin`: a firing time as the schedule's zone reads it. */
export function localTime(at: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${timezone}`;
}
