import { storeAt } from '../storage/locations.js';
import { ObjectNotFound, type ObjectStore } from '../storage/object-store.js';
import { withoutSqlExcerpt } from '../duck/error-text.js';
import { TweetlakeError, errorMessage } from '../errors.js';
import { redactSecrets } from '../redact.js';
import { nextRun, type CronSchedule } from './cron.js';

/** One run of a scheduled job, as kept in the schedule's history. */
export interface ScheduledRun {
  job: string;
  scheduledFor: string;
  startedAt: string;
  endedAt: string;
  status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  /** Tasks in order; a task runs only if the one before it succeeded (dependsOn). */
  tasks: { name: string; status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED'; seconds: number; error?: string }[];
}

export interface ScheduleTask {
  name: string;
  run: () => Promise<void>;
}

/** A line of the schedule history that is not a run tweetlake wrote. */
export class ScheduleHistoryCorrupt extends TweetlakeError {
  constructor(file: string, line: number, cause: unknown) {
    super(
      'SCHEDULE_HISTORY_CORRUPT',
      `${file}:${line} is not a scheduled run (${errorMessage(cause)}); fix or delete that line (the other runs stay)`,
      { domain: 'external', cause },
    );
  }
}

const HISTORY = 'history.jsonl';

/** History of a lakehouse's scheduled runs (`_schedules/history.jsonl`). */
export class ScheduleHistory {
  private readonly store: ObjectStore;

  constructor(dir: string) {
    this.store = storeAt(dir);
  }

  get file(): string {
    return this.store.location(HISTORY);
  }

  /** Adds a run: the history is rewritten whole (one scheduler per lakehouse; object stores cannot append). */
  async append(run: ScheduledRun): Promise<void> {
    await this.store.put(HISTORY, `${(await this.text()) ?? ''}${JSON.stringify(run)}\n`);
  }

  private async text(): Promise<string | undefined> {
    try {
      return new TextDecoder().decode(await this.store.get(HISTORY));
    } catch (err) {
      if (err instanceof ObjectNotFound) return undefined;
      throw err;
    }
  }

  /** Every recorded run, oldest first; [] before the first run. A damaged line is an error naming it. */
  async list(): Promise<ScheduledRun[]> {
    const text = await this.text();
    if (text === undefined) return [];
    const runs: ScheduledRun[] = [];
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let run: unknown;
      try {
        run = JSON.parse(line);
      } catch (err) {
        throw new ScheduleHistoryCorrupt(this.file, i + 1, err);
      }
      if (!isRun(run)) throw new ScheduleHistoryCorrupt(this.file, i + 1, 'not a run record');
      runs.push(run);
    });
    return runs;
  }
}

function isRun(value: unknown): value is ScheduledRun {
  const r = value as Partial<ScheduledRun> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.job === 'string' &&
    typeof r.scheduledFor === 'string' &&
    typeof r.status === 'string' &&
    Array.isArray(r.tasks)
  );
}

/** Runs the tasks in order, each only if the previous one succeeded, and records the run. */
export async function runJob(
  job: string,
  scheduledFor: Date,
  tasks: ScheduleTask[],
  history: ScheduleHistory,
): Promise<ScheduledRun> {
  const startedAt = new Date().toISOString();
  const done: ScheduledRun['tasks'] = [];
  let failed = false;
  for (const task of tasks) {
    if (failed) {
      done.push({ name: task.name, status: 'SKIPPED', seconds: 0 });
      continue;
    }
    const t0 = performance.now();
    try {
      await task.run();
      done.push({ name: task.name, status: 'SUCCEEDED', seconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      failed = true;
      done.push({
        name: task.name,
        status: 'FAILED',
        seconds: (performance.now() - t0) / 1000,
        // The history is a file others read: no quote of our SQL, no secrets.
        error: redactSecrets(withoutSqlExcerpt(errorMessage(err))),
      });
    }
  }
  const run: ScheduledRun = {
    job,
    scheduledFor: scheduledFor.toISOString(),
    startedAt,
    endedAt: new Date().toISOString(),
    status: failed ? 'FAILED' : 'SUCCEEDED',
    tasks: done,
  };
  await history.append(run);
  return run;
}

/**
 * Fires the job on a cron schedule until `signal` aborts. Runs never overlap: the next firing time
 * is computed after a run ends, so firings that fall inside a long run are not made up for.
 */
export async function runSchedule(
  schedule: CronSchedule,
  job: string,
  tasks: ScheduleTask[],
  history: ScheduleHistory,
  options: {
    signal: AbortSignal;
    onRun?: (r: ScheduledRun) => void;
    onWait?: (next: Date) => void;
    now?: () => Date;
  },
): Promise<void> {
  const now = options.now ?? (() => new Date());
  while (!options.signal.aborted) {
    const next = nextRun(schedule, now());
    options.onWait?.(next);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, next.getTime() - now().getTime()));
      options.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    if (options.signal.aborted) break;
    options.onRun?.(await runJob(job, next, tasks, history));
  }
}
