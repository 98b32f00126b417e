import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { dashboardState } from '../ui/dashboard-state.js';
import { staticReport } from '../ui/report.js';
import { DashboardServer } from '../ui/server.js';
import { configFor, defaultDashboardPort, lakehouseOptions, tableVersion, tcpPort } from './options.js';
import { renderTable } from './format.js';
import { ensureBundledModelRegistered } from '../model/bundled.js';
import { openRegistry } from '../model/registry-factory.js';
import { resolveModel } from '../model/resolve.js';
import type { TweetlakeConfig } from '../pipeline/config.js';
import { evaluateGold } from '../analytics/evaluate.js';
import { lakehousePaths } from '../pipeline/paths.js';
import { openTrackingStore } from '../tracking/tracking-factory.js';
import { withoutUserInfo } from '../redact.js';
import type { EvaluationSummary } from '../tracking/metrics.js';

/** The MLflow UI address, when a server is configured. */
export function mlflowUiUrl(): string | undefined {
  const uri = process.env.MLFLOW_TRACKING_URI;
  return uri && /^https?:\/\//.test(uri) ? withoutUserInfo(uri) : undefined;
}

/** Evaluates gold and logs the MLflow run (to the server when MLFLOW_TRACKING_URI is set). */
export async function evaluate(
  session: DuckSession,
  config: TweetlakeConfig,
  model: { name: string; version?: string; uri: string },
  goldVersion?: number,
): Promise<EvaluationSummary> {
  const paths = lakehousePaths(config.root);
  const tracking = openTrackingStore({ lakehouseMlflowDir: paths.mlflow });
  const ui = mlflowUiUrl();
  return evaluateGold(session, paths, tracking, model, {
    ...(goldVersion !== undefined ? { goldVersion } : {}),
    runUrl: (runId, experimentId) =>
      ui ? `${ui.replace(/\/$/, '')}/#/experiments/${experimentId}/runs/${runId}` : undefined,
  });
}

/** `tweetlake dashboard | report | evaluate`. */
export function registerUiCommands(program: Command, out: NodeJS.WritableStream): void {
  lakehouseOptions(program.command('dashboard').description('serve the live dashboard of a lakehouse'))
    .option('--port <n>', 'port (default TWEETLAKE_DASHBOARD_PORT, else 4040)')
    .option('--host <host>', 'interface to listen on (beyond loopback, a token is required)', '127.0.0.1')
    .option(
      '--token <token>',
      'the token to require (default: TWEETLAKE_DASHBOARD_TOKEN, or a new one off loopback)',
    )
    .action((opts) => uiDashboardCommand(opts, out));

  lakehouseOptions(
    program
      .command('evaluate')
      .description(
        'log an MLflow run of the model on gold: precision, recall, F1, accuracy, confusion matrix',
      ),
  )
    .option('--version <v>', 'gold table version to evaluate (default: latest)')
    .option('--model <uri>', 'model URI the gold table was scored with (default: the configured one)')
    .action((opts) => uiEvaluateCommand(opts, out));

  lakehouseOptions(
    program
      .command('report')
      .description("write a static HTML report (PNG charts, evaluation, the five S's)"),
  )
    .option('--out <file>', 'output file', 'tweetlake-report.html')
    .action((opts) => uiReportCommand(opts, out));
}

async function uiDashboardCommand(
  opts: { root?: string; config?: string; port?: string; host: string; token?: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = configFor(opts);
  const mlflowUrl = mlflowUiUrl();
  const token = opts.token ?? process.env.TWEETLAKE_DASHBOARD_TOKEN;
  const server = new DashboardServer({
    root: config.root,
    source: config.source,
    port: opts.port ? tcpPort(opts.port, '--port') : defaultDashboardPort(),
    host: opts.host,
    ...(token ? { token } : {}),
    ...(mlflowUrl ? { mlflowUrl } : {}),
  });
  const url = await server.start();
  out.write(`dashboard of ${config.root} at ${url} (Ctrl-C to stop)\n`);
  if (server.token)
    out.write(
      `it asks for its token: open the address above once, or send "Authorization: Bearer <token>"\n`,
    );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.stop();
}

async function uiEvaluateCommand(
  opts: { root?: string; config?: string; version?: string; model?: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = configFor(opts);
  const paths = lakehousePaths(config.root);
  const uri = opts.model ?? config.model.uri;
  const registry = openRegistry({ lakehouseMlflowDir: paths.mlflow });
  await ensureBundledModelRegistered(registry);
  const resolved = await resolveModel(uri, registry, paths.modelCache);
  const session = await DuckSession.create({ threads: 1 });
  try {
    const e = await evaluate(
      session,
      config,
      { name: resolved.name, ...(resolved.version ? { version: resolved.version } : {}), uri },
      opts.version === undefined ? undefined : tableVersion(opts.version, '--version'),
    );
    out.write(
      `MLflow run ${e.runId} (experiment ${e.experimentName}) in ${e.trackingUri}${e.runUrl ? `\n${e.runUrl}` : ''}\n`,
    );
    out.write(
      renderTable(
        Object.entries(e.metrics).map(([metric, value]) => ({ metric, value: Number(value.toFixed(4)) })),
      ),
    );
  } finally {
    session.close();
  }
}

async function uiReportCommand(
  opts: { root?: string; config?: string; out: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = configFor(opts);
  const session = await DuckSession.create({ threads: 1 });
  try {
    const state = await dashboardState(session, config.root, { source: config.source });
    await writeFile(opts.out, await staticReport(state));
    out.write(`wrote ${opts.out}\n`);
  } finally {
    session.close();
  }
}
