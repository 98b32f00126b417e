import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { dashboardState } from '../ui/dashboard-state.js';
import { staticReport } from '../ui/report.js';
import { DashboardServer } from '../ui/server.js';
import { configFor, lakehouseOptions, positiveInt } from './options.js';

/** The MLflow UI address, when a server is configured. */
export function mlflowUiUrl(): string | undefined {
  const uri = process.env.MLFLOW_TRACKING_URI;
  return uri && /^https?:\/\//.test(uri) ? uri : undefined;
}

/** `tweetlake dashboard | report`. */
export function registerUiCommands(program: Command, out: NodeJS.WritableStream): void {
  lakehouseOptions(program.command('dashboard').description('serve the live dashboard of a lakehouse'))
    .option('--port <n>', 'port', '4040')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (opts: { root?: string; config?: string; port: string; host: string }) => {
      const config = configFor(opts);
      const mlflowUrl = mlflowUiUrl();
      const server = new DashboardServer({
        root: config.root,
        source: config.source,
        port: positiveInt(opts.port, '--port'),
        host: opts.host,
        ...(mlflowUrl ? { mlflowUrl } : {}),
      });
      const url = await server.start();
      out.write(`dashboard of ${config.root} at ${url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
    });

  lakehouseOptions(program.command('report').description('write a static HTML report (PNG charts, evaluation, the five S\'s)'))
    .option('--out <file>', 'output file', 'tweetlake-report.html')
    .action(async (opts: { root?: string; config?: string; out: string }) => {
      const config = configFor(opts);
      const session = await DuckSession.create({ threads: 1 });
      try {
        const state = await dashboardState(session, config.root, { source: config.source });
        await writeFile(opts.out, await staticReport(state));
        out.write(`wrote ${opts.out}\n`);
      } finally {
        session.close();
      }
    });
}
