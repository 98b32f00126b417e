import { writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { parseCron } from '../pipeline/cron.js';
import { lakehousePaths } from '../pipeline/paths.js';
import { runJob, runSchedule, ScheduleHistory, type ScheduleTask } from '../pipeline/schedule.js';
import { dashboardState } from '../ui/dashboard-state.js';
import { staticReport } from '../ui/report.js';
import { renderTable } from './format.js';
import { configFor, lakehouseOptions } from './options.js';
import { runPipeline } from './run-command.js';

/** `tweetlake schedule <cron>` and `tweetlake schedule-history`. */
export function registerScheduleCommands(program: Command, out: NodeJS.WriteStream): void {
  lakehouseOptions(
    program
      .command('schedule <cron>')
      .description(
        'run the pipeline, then refresh the report, on a cron schedule (UTC; e.g. "0 2 * * *" or @daily)',
      ),
  )
    .option('--run-now', 'run once immediately, then follow the schedule')
    .action(async (cron: string, opts: { root?: string; config?: string; runNow?: boolean }) => {
      const config = configFor(opts);
      const paths = lakehousePaths(config.root);
      const history = new ScheduleHistory(paths.schedules);
      const report = nodePath.join(paths.root, 'report.html');
      const tasks: ScheduleTask[] = [
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
      parseCron(cron); // fail early on a bad expression
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const show = (r: { status: string; tasks: { name: string; status: string; seconds: number }[] }) =>
        out.write(
          `run ${r.status}: ${r.tasks.map((t) => `${t.name} ${t.status} (${t.seconds.toFixed(1)} s)`).join(', ')}; report: ${report}\n`,
        );
      if (opts.runNow) show(await runJob('tweetlake', new Date(), tasks, history));
      await runSchedule(cron, 'tweetlake', tasks, history, {
        signal: abort.signal,
        onRun: show,
        onWait: (next) => out.write(`next run at ${next.toISOString()} (${cron}); Ctrl-C to stop\n`),
      });
    });

  lakehouseOptions(
    program.command('schedule-history').description('past scheduled runs and their tasks'),
  ).action(async (opts: { root?: string; config?: string }) => {
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
  });
}
