import { readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { ensureBundledModelRegistered } from '../model/bundled.js';
import type { Classifier } from '../model/classifier.js';
import { openRegistry } from '../model/registry-factory.js';
import { loadClassifier, openModelServer } from '../model/load.js';
import { isModelServerUri } from '../model/model-server-uri.js';
import { resolveModel } from '../model/resolve.js';
import type { TweetlakeConfig } from '../pipeline/config.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { lakehousePaths, STREAM_NAMES, TABLE_NAMES, type StreamName } from '../pipeline/paths.js';
import { renderTable } from './format.js';
import { configFor, lakehouseOptions, positiveInt } from './options.js';
import { ProgressView } from './progress-view.js';
import { evaluate, mlflowUiUrl } from './ui-commands.js';
import { DashboardServer } from '../ui/server.js';

function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter(
      (e) => e.isFile() && !e.name.startsWith('.'),
    ).length;
  } catch {
    return 0;
  }
}

/** Loads the configured model on first use (the gold stage), registering the bundled one if needed. */
export function lazyClassifier(
  config: TweetlakeConfig,
  log: (line: string) => void,
): { get: () => Promise<Classifier>; close: () => Promise<void>; loaded: () => Classifier | undefined } {
  let loading: Promise<Classifier> | undefined;
  let ready: Classifier | undefined;
  return {
    loaded: () => ready,
    get: () => {
      loading ??= (async () => {
        if (isModelServerUri(config.model.uri)) {
          const remote = await openModelServer(config.model.uri, config.model.server);
          log(
            `model server ${remote.info.uri}${remote.info.version ? ` (version ${remote.info.version})` : ''}: ` +
              `scoring there, ${config.model.server?.concurrency ?? 4} request(s) in flight`,
          );
          ready = remote;
          return remote;
        }
        const paths = lakehousePaths(config.root);
        const registry = openRegistry({ lakehouseMlflowDir: paths.mlflow });
        const registered = await ensureBundledModelRegistered(registry);
        if (registered)
          log(
            `registered the bundled model as ${registered.name} version ${registered.version} (Production, @production)`,
          );
        const model = await resolveModel(config.model.uri, registry, paths.modelCache);
        const t0 = performance.now();
        const classifier = await loadClassifier(model, {
          ...(config.model.workers ? { workers: config.model.workers } : {}),
          ...(config.model.threadsPerWorker ? { threadsPerWorker: config.model.threadsPerWorker } : {}),
          batchSize: config.model.batchSize,
        });
        log(
          `model ${model.uri} -> ${model.name}${model.version ? ` version ${model.version}` : ''} loaded in ` +
            `${Math.round(performance.now() - t0)} ms (${(classifier as { workerCount?: number }).workerCount ?? 1} worker(s))`,
        );
        ready = classifier;
        return classifier;
      })();
      return loading;
    },
    close: async () => {
      if (loading) await (await loading.catch(() => undefined))?.close();
    },
  };
}

/** `tweetlake run`: the whole pipeline, with progress and a summary. */
export function registerRunCommand(program: Command, out: NodeJS.WriteStream): void {
  lakehouseOptions(
    program
      .command('run')
      .description('run the pipeline: source files -> bronze -> silver -> gold (model) -> application'),
  )
    .option('--source <dir>', 'folder of source JSON files (default: the bundled sample)')
    .option('--orchestration <mode>', 'sequential | concurrent')
    .option('--trigger <mode>', 'available-now | continuous')
    .option('--max-files-per-trigger <n>', 'source files per micro-batch')
    .option(
      '--model <uri>',
      'model URI (default models:/HF_TWEET_SENTIMENT/Production), a folder, or a model server: ' +
        'mlflow+http(s)://HOST[/PATH] (MLflow scoring protocol) or oip+http(s)://HOST/v2/models/NAME (Open Inference Protocol)',
    )
    .option('--clear', 'delete the tables and checkpoints of a previous run first')
    .option('--dashboard [port]', 'serve the live dashboard while the streams run (default port 4040)')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const config = configFor(opts as { root?: string; config?: string }, {
        ...(opts.source ? { source: String(opts.source) } : {}),
        ...(opts.orchestration
          ? { orchestration: opts.orchestration as TweetlakeConfig['orchestration'] }
          : {}),
        ...(opts.trigger ? { trigger: opts.trigger as TweetlakeConfig['trigger'] } : {}),
        ...(opts.maxFilesPerTrigger
          ? { maxFilesPerTrigger: positiveInt(String(opts.maxFilesPerTrigger), '--max-files-per-trigger') }
          : {}),
      });
      if (opts.model) config.model.uri = String(opts.model);
      const dashboardPort =
        opts.dashboard === undefined
          ? undefined
          : opts.dashboard === true
            ? 4040
            : positiveInt(String(opts.dashboard), '--dashboard');
      await runPipeline(config, { clear: !!opts.clear, out, ...(dashboardPort ? { dashboardPort } : {}) });
    });
}

/** Runs the pipeline for a config; prints progress and the summary to `out`. */
export async function runPipeline(
  config: TweetlakeConfig,
  options: { clear: boolean; out: NodeJS.WriteStream; dashboardPort?: number },
): Promise<void> {
  const { out } = options;
  const session = await DuckSession.create({
    ...(config.duckdb.memoryLimit ? { memoryLimit: config.duckdb.memoryLimit } : {}),
    ...(config.duckdb.threads ? { threads: config.duckdb.threads } : {}),
  });
  const log = (line: string) => out.write(`${line}\n`);
  const classifier = lazyClassifier(config, log);
  const view = new ProgressView(out, { sourceFiles: countFiles(config.source) });
  const pipeline = new Pipeline({
    root: config.root,
    source: config.source,
    session,
    orchestration: config.orchestration,
    trigger: config.trigger,
    pollIntervalMs: config.pollIntervalMs,
    maxFilesPerTrigger: config.maxFilesPerTrigger,
    maxBytesPerTrigger: config.maxBytesPerTrigger,
    dropTweetsWithoutMentions: config.dropTweetsWithoutMentions,
    schemaEvolution: config.schemaEvolution,
    inferenceBatchSize: 1024,
    classifier: classifier.get,
    onStreamStart: (s) => view.start(s),
    onInference: (done, total) => view.inference(done, total),
    onProgress: (s, p) => {
      produced.set(s, (produced.get(s) ?? 0) + p.sink.numOutputRows);
      const upstream = STREAM_NAMES[STREAM_NAMES.indexOf(s) - 1];
      view.update(s, p, pipeline.sourceFilesAdmitted(), upstream ? produced.get(upstream) : undefined);
    },
  });
  const produced = new Map<StreamName, number>();
  if (options.clear) {
    await pipeline.clear();
    log(`cleared ${config.root}`);
  }
  log(`tweetlake run: ${config.source} -> ${config.root} (${config.orchestration}, ${config.trigger})`);
  let dashboard: DashboardServer | undefined;
  if (options.dashboardPort) {
    const mlflowUrl = mlflowUiUrl();
    dashboard = new DashboardServer({
      root: config.root,
      source: config.source,
      port: options.dashboardPort,
      ...(mlflowUrl ? { mlflowUrl } : {}),
    });
    log(`dashboard: ${await dashboard.start()}`);
  }
  const stopOnSignal = () => void pipeline.state.requestStop();
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const summary = await pipeline.run();
    view.stop();
    const rows = TABLE_NAMES.map((t) => ({
      table: t,
      version: summary.tables[t].version,
      rows: summary.tables[t].rows,
      files: summary.tables[t].files,
    }));
    out.write('\n' + renderTable(rows));
    const bronze = summary.tables.bronze.rows ?? 0;
    const quarantined = summary.tables.quarantine.rows ?? 0;
    log(`\ninput records: ${bronze + quarantined} = ${bronze} in bronze + ${quarantined} quarantined`);
    log(`elapsed: ${(summary.elapsedMs / 1000).toFixed(1)} s`);
    const model = classifier.loaded();
    if (model && summary.tables.gold.version !== null) {
      const evaluation = await evaluate(session, config, model.info);
      log(
        `\nevaluation (MLflow run ${evaluation.runId} in ${evaluation.trackingUri}${evaluation.runUrl ? `, ${evaluation.runUrl}` : ''}):\n` +
          `  given vs predicted sentiment on ${evaluation.rows} gold rows: accuracy ${evaluation.metrics.accuracy!.toFixed(3)}, ` +
          `macro F1 ${evaluation.metrics.f1_macro!.toFixed(3)}; positive-vs-negative precision ${evaluation.metrics.precision!.toFixed(3)}, ` +
          `recall ${evaluation.metrics.recall!.toFixed(3)}, F1 ${evaluation.metrics.f1!.toFixed(3)}`,
      );
    }
    if (dashboard && out.isTTY) {
      log(`the dashboard stays up at ${dashboard.url}: Ctrl-C to stop`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    }
  } finally {
    view.stop();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await classifier.close();
    await dashboard?.stop();
    session.close();
  }
}
