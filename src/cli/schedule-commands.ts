import { writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { localTime, localTimeZone, parseCron } from '../pipeline/cron.js';
import type { TweetlakeConfig } from '../pipeline/config.js';
import { lakehousePaths } from '../pipeline/paths.js';
import {
  runJob,
  runSchedule,
  ScheduleHistory,
  type ScheduledRun,
  type ScheduleTask,
} from '../pipeline/schedule.js';
import { dashboardState } from '../ui/dashboard-state.js';
import { staticReport } from '../ui/report.js';
import { renderTable } from './format.js';
import { configFor, lakehouseOptions } from './options.js';
import { runPipeline } from './run-command.js';

interface ScheduleOptions {
  root?: string;
  config?: string;
  runNow?: boolean;
  tz?: string;
}

/** `tweetlake schedule <cron>` and `tweetlake schedule-history`. */
export function registerScheduleCommands(program: Command, out: NodeJS.WriteStream): void {
  lakehouseOptions(
    program
      .command('schedule <cron>')
      .description(
        'run the pipeline, then refresh the report, on a cron schedule (e.g. "0 2 * * *" or @daily) in a time zone',
      ),
  )
    .option('--run-now', 'run once immediately, then follow the schedule')
    .option(
      '--tz <zone>',
      "IANA time zone of the schedule (default: config schedule.timezone, else the machine's)",
    )
    .action((cron: string, opts: ScheduleOptions) => scheduleCommand(cron, opts, out));

  lakehouseOptions(
    program.command('schedule-history').description('past scheduled runs and their tasks'),
  ).action((opts: { root?: string; config?: string }) => scheduleHistoryCommand(opts, out));
}

/** The scheduled job's tasks: the pipeline, then the static report (only if the pipeline succeeded). */
function scheduledTasks(config: TweetlakeConfig, report: string, out: NodeJS.WriteStream): ScheduleTask[] {
  return [
    { name: 'pipeline', run: () => runPipeline(config, { clear: false, out }) },
    {
      name: 'dashboard-refresh',
      run: async () => {
        const session = await DuckSession.create({ threads: 1 });
        try {
          await writeFile(
            report,
            await staticReport(await dashboardState(session, config.root, { source: config.source })),
          );
        } finally {
          session.close();
        }
      },
    },
  ];
}

/** Runs the job on the schedule until Ctrl-C (or SIGTERM). */
async function scheduleCommand(cron: string, opts: ScheduleOptions, out: NodeJS.WriteStream): Promise<void> {
  const config = configFor(opts);
  const timezone = opts.tz ?? config.schedule.timezone ?? localTimeZone();
  const schedule = parseCron(cron, timezone, opts.tz ? '--tz' : 'schedule.timezone'); // fail early
  const paths = lakehousePaths(config.root);
  const history = new ScheduleHistory(paths.schedules);
  const report = nodePath.join(paths.root, 'report.html');
  const tasks = scheduledTasks(config, report, out);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const show = (r: ScheduledRun) =>
    out.write(
      `run ${r.status}: ${r.tasks.map((t) => `${t.name} ${t.status} (${t.seconds.toFixed(1)} s)`).join(', ')}; report: ${report}\n`,
    );
  if (opts.runNow) show(await runJob('tweetlake', new Date(), tasks, history));
  await runSchedule(schedule, 'tweetlake', tasks, history, {
    signal: abort.signal,
    onRun: show,
    onWait: (next) =>
      out.write(
        `next run at ${localTime(next, timezone)} (${next.toISOString()}; ${cron}); Ctrl-C to stop\n`,
      ),
  });
}

/** Prints the past scheduled runs. */
async function scheduleHistoryCommand(
  opts: { root?: string; config?: string },
  out: NodeJS.WriteStream,
): Promise<void> {
  const config = configFor(opts);
  const runs = await new ScheduleHistory(lakehousePaths(config.root).schedules).list();
  if (runs.length === 0) {
    out.write(
      `no scheduled runs yet in ${config.root}: \`tweetlake schedule "0 2 * * *" --run-now\` starts one\n`,
    );
    return;
  }
  out.write(
    renderTable(
      runs.map((r) => ({
        scheduled: r.scheduledFor,
        started: r.startedAt,
        ended: r.endedAt,
        status: r.status,
        tasks: r.tasks.map((t) => `${t.name}:${t.status}`).join(' '),
      })),
    ),
  );
}
