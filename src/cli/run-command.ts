import { readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { ensureBundledModelRegistered } from '../model/bundled.js';
import type { Classifier } from '../model/classifier.js';
import { openRegistry } from '../model/registry-factory.js';
import { loadClassifier, openModelServer } from '../model/load.js';
import { isModelServerUri } from '../model/model-server-uri.js';
import { resolveModel } from '../model/resolve.js';
import { kafkaSourceOptions, type TweetlakeConfig } from '../pipeline/config.js';
import { NothingToEvaluate } from '../analytics/evaluate.js';
import { checkGroupSource, GroupWorker } from '../pipeline/group-worker.js';
import { Pipeline, type PipelineSummary } from '../pipeline/pipeline.js';
import { lakehousePaths, STREAM_NAMES, TABLE_NAMES, type StreamName } from '../pipeline/paths.js';
import { redactSecrets } from '../redact.js';
import { Interrupted, UsageError } from './errors.js';
import { renderTable } from './format.js';
import { InterruptHandler } from './interrupts.js';
import { configFor, defaultDashboardPort, lakehouseOptions, positiveInt, tcpPort } from './options.js';
import { ProgressView } from './progress-view.js';
import { evaluate, mlflowUiUrl } from './ui-commands.js';
import { DashboardServer } from '../ui/server.js';
import { isNotFound } from '../errors.js';
import { logFor } from '../log.js';

function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter(
      (e) => e.isFile() && !e.name.startsWith('.'),
    ).length;
  } catch (err) {
    // A source that is missing or not a folder: the file source says so (SOURCE_PATH) when it starts.
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw err;
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
        const ms = Math.round(performance.now() - t0);
        const workers = (classifier as { workerCount?: number }).workerCount ?? 1;
        log(
          `model ${model.uri} -> ${model.name}${model.version ? ` version ${model.version}` : ''} loaded in ` +
            `${ms} ms (${workers} worker(s))`,
        );
        logFor('model').info(
          { uri: model.uri, name: model.name, version: model.version ?? null, ms, workers },
          'model loaded',
        );
        ready = classifier;
        return classifier;
      })();
      return loading;
    },
    close: async () => {
      // A failed load was thrown to the gold stage already; there is nothing to close then.
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
    .option(
      '--source <dir>',
      'folder or s3://bucket/prefix of source JSON files, or kafka://host:port/topic (default: the bundled sample)',
    )
    .option(
      '--group <name>',
      "run one worker of a consumer group on a kafka:// source: the workers of a group share the topic's partitions",
    )
    .option('--orchestration <mode>', 'sequential | concurrent')
    .option('--trigger <mode>', 'available-now | continuous')
    .option('--max-files-per-trigger <n>', 'source files per micro-batch')
    .option('--max-bytes-per-trigger <n>', 'source bytes per micro-batch (large files are read in ranges)')
    .option('--allow-overwrites', 'read a source file again, whole, when it changes after it was read')
    .option('--retry-failed', 'try again a batch that failed too many times (once its cause is fixed)')
    .option(
      '--model <uri>',
      'model URI (default models:/HF_TWEET_SENTIMENT/Production), a folder, or a model server: ' +
        'mlflow+http(s)://HOST[/PATH] (MLflow scoring protocol) or oip+http(s)://HOST/v2/models/NAME (Open Inference Protocol)',
    )
    .option('--clear', 'delete the tables and checkpoints of a previous run first')
    .option(
      '--no-cache',
      'score every text with the model, neither reading nor adding to the prediction cache',
    )
    .option(
      '--dashboard [port]',
      'serve the live dashboard while the streams run (default port TWEETLAKE_DASHBOARD_PORT, else 4040)',
    )
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
        ...(opts.maxBytesPerTrigger
          ? { maxBytesPerTrigger: positiveInt(String(opts.maxBytesPerTrigger), '--max-bytes-per-trigger') }
          : {}),
        ...(opts.allowOverwrites ? { allowOverwrites: true } : {}),
      });
      if (opts.model) config.model.uri = String(opts.model);
      if (opts.cache === false) config.model.cache = false;
      const dashboardPort =
        opts.dashboard === undefined
          ? undefined
          : opts.dashboard === true
            ? defaultDashboardPort()
            : tcpPort(String(opts.dashboard), '--dashboard');
      if (opts.group !== undefined) {
        if (opts.clear)
          throw new UsageError(
            '--clear cannot be given to a worker of a group (the others are writing): clear the lakehouse once with `tweetlake clear` before starting the workers',
          );
        if (dashboardPort)
          throw new UsageError(
            '--dashboard cannot be given to a worker: start `tweetlake dashboard` on the lakehouse',
          );
        await runGroupWorker(config, { group: String(opts.group), out });
        return;
      }
      await runPipeline(config, {
        clear: !!opts.clear,
        out,
        ...(dashboardPort ? { dashboardPort } : {}),
        ...(opts.retryFailed ? { retryFailedBatches: true } : {}),
      });
    });
}

/**
 * One worker of a consumer group (`run --group`): prints its assignment and batches; Ctrl-C or
 * SIGTERM gives its partitions and the application lease back after the current batch, and the
 * worker ends normally (the others, or the next worker, go on from the tables).
 */
export async function runGroupWorker(
  config: TweetlakeConfig,
  options: { group: string; out: NodeJS.WriteStream },
): Promise<void> {
  const { out } = options;
  checkGroupSource(config.source);
  const session = await DuckSession.create({
    ...(config.duckdb.memoryLimit ? { memoryLimit: config.duckdb.memoryLimit } : {}),
    ...(config.duckdb.threads ? { threads: config.duckdb.threads } : {}),
  });
  const log = (line: string) => out.write(`${redactSecrets(line)}\n`);
  const classifier = lazyClassifier(config, log);
  const worker = new GroupWorker({
    ...stageOptionsOf(config, session, classifier),
    group: options.group,
    trigger: config.trigger,
    onLine: log,
  });
  log(`tweetlake run --group ${options.group}: ${config.source} -> ${config.root} (${config.trigger})`);
  const interrupts = new InterruptHandler(out, () => worker.stop());
  try {
    const s = await worker.run();
    log(
      `worker ${s.worker}: ${s.batches} batch(es), ${s.records} records -> bronze ${s.rows.bronze}, ` +
        `quarantine ${s.rows.quarantine}, silver ${s.rows.silver}, gold ${s.rows.gold}; ` +
        `${s.applicationBatches} application batch(es); ${(s.elapsedMs / 1000).toFixed(1)} s` +
        (interrupts.signal ? ` (stopped by ${interrupts.signal})` : ''),
    );
  } finally {
    interrupts.dispose();
    await classifier.close();
    session.close();
  }
}

/** Prints the tables after a run and the input accounting (every record in bronze or quarantine). */
function printSummary(summary: PipelineSummary, out: NodeJS.WriteStream): void {
  const rows = TABLE_NAMES.map((t) => ({
    table: t,
    version: summary.tables[t].version,
    rows: summary.tables[t].rows,
    files: summary.tables[t].files,
  }));
  out.write('\n' + renderTable(rows));
  const { inputRecords, bronzeRows, quarantinedRows } = summary.ingest;
  const unaccounted = inputRecords - bronzeRows - quarantinedRows;
  out.write(
    `\ninput records: ${inputRecords} = ${bronzeRows} in bronze + ${quarantinedRows} quarantined (read in this run)` +
      (unaccounted === 0 ? '' : `; does not balance: ${unaccounted} unaccounted for`) +
      '\n',
  );
  out.write(
    `tables in all: ${summary.tables.bronze.rows ?? 0} bronze rows, ${summary.tables.quarantine.rows ?? 0} quarantined\n`,
  );
  out.write(`elapsed: ${(summary.elapsedMs / 1000).toFixed(1)} s\n`);
}

/** Logs the MLflow evaluation run of gold after a run, or says why there is nothing to evaluate. */
async function reportEvaluation(
  session: DuckSession,
  config: TweetlakeConfig,
  model: Classifier,
  log: (line: string) => void,
): Promise<void> {
  let evaluation;
  try {
    evaluation = await evaluate(session, config, model.info);
  } catch (err) {
    if (!(err instanceof NothingToEvaluate)) throw err;
    log(`\n${err.message}`);
    return;
  }
  const m = evaluation.metrics;
  log(
    `\nevaluation (MLflow run ${evaluation.runId} in ${evaluation.trackingUri}${evaluation.runUrl ? `, ${evaluation.runUrl}` : ''}):\n` +
      `  given vs predicted sentiment on ${evaluation.rows} gold rows: accuracy ${m.accuracy!.toFixed(3)}, ` +
      `macro F1 ${m.f1_macro!.toFixed(3)}; positive-vs-negative precision ${m.precision!.toFixed(3)}, ` +
      `recall ${m.recall!.toFixed(3)}, F1 ${m.f1!.toFixed(3)}`,
  );
}

/**
 * Runs the pipeline for a config; prints progress and the summary to `out`. Ctrl-C stops after the
 * current batch and rejects with `Interrupted` (no evaluation of a partial run); a second aborts.
 */
export async function runPipeline(
  config: TweetlakeConfig,
  options: { clear: boolean; out: NodeJS.WriteStream; dashboardPort?: number; retryFailedBatches?: boolean },
): Promise<void> {
  const { out } = options;
  const session = await DuckSession.create({
    ...(config.duckdb.memoryLimit ? { memoryLimit: config.duckdb.memoryLimit } : {}),
    ...(config.duckdb.threads ? { threads: config.duckdb.threads } : {}),
  });
  const log = (line: string) => out.write(`${redactSecrets(line)}\n`);
  const classifier = lazyClassifier(config, log);
  const view = new ProgressView(out, { sourceFiles: countFiles(config.source) });
  const pipeline = buildPipeline(config, session, classifier, view, log, options.retryFailedBatches);
  if (options.clear) log(`clearing the tables and checkpoints of ${config.root} first`);
  log(`tweetlake run: ${config.source} -> ${config.root} (${config.orchestration}, ${config.trigger})`);
  let dashboard: DashboardServer | undefined;
  const interrupts = new InterruptHandler(out, () => void pipeline.stop());
  try {
    if (options.dashboardPort) dashboard = await startDashboard(config, options.dashboardPort, log);
    const summary = await pipeline.run({ clear: options.clear });
    view.stop();
    printSummary(summary, out);
    if (interrupts.signal) {
      log(
        `stopped by ${interrupts.signal} after the current batch: \`tweetlake run\` again continues from there`,
      );
      throw new Interrupted(interrupts.signal, `interrupted by ${interrupts.signal}: the run did not finish`);
    }
    await evaluateFinishedRun(session, config, summary, classifier, log);
    if (dashboard && out.isTTY) {
      interrupts.dispose();
      log(`the dashboard stays up at ${dashboard.url}: Ctrl-C to stop`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    }
  } finally {
    view.stop();
    interrupts.dispose();
    await classifier.close();
    await dashboard?.stop();
    session.close();
  }
}

/** What a run and a group worker both take from the config: the lakehouse, source, stages and retries. */
function stageOptionsOf(
  config: TweetlakeConfig,
  session: DuckSession,
  classifier: ReturnType<typeof lazyClassifier>,
) {
  return {
    root: config.root,
    source: config.source,
    session,
    pollIntervalMs: config.pollIntervalMs,
    maxRecordBytes: config.maxRecordBytes,
    kafka: kafkaSourceOptions(config.kafka),
    maxBatchAttempts: config.maxBatchAttempts,
    retryBackoffMs: config.retryBackoffMs,
    dropTweetsWithoutMentions: config.dropTweetsWithoutMentions,
    schemaEvolution: config.schemaEvolution,
    inferenceBatchSize: 1024,
    predictionCache: config.model.cache,
    classifier: classifier.get,
    command: ['tweetlake', ...process.argv.slice(2)].join(' '),
  };
}

/** The pipeline of a `tweetlake run`, its progress shown in `view`. */
function buildPipeline(
  config: TweetlakeConfig,
  session: DuckSession,
  classifier: ReturnType<typeof lazyClassifier>,
  view: ProgressView,
  log: (line: string) => void,
  retryFailedBatches: boolean | undefined,
): Pipeline {
  const produced = new Map<StreamName, number>();
  const pipeline: Pipeline = new Pipeline({
    ...stageOptionsOf(config, session, classifier),
    orchestration: config.orchestration,
    trigger: config.trigger,
    maxFilesPerTrigger: config.maxFilesPerTrigger,
    maxBytesPerTrigger: config.maxBytesPerTrigger,
    fileSettleMs: config.fileSettleMs,
    allowOverwrites: config.allowOverwrites,
    ...(retryFailedBatches ? { retryFailedBatches: true } : {}),
    onStreamStart: (s) => view.start(s),
    onWarning: (s, message) => log(`warning: ${s}: ${message}`),
    onInference: (done, total) => view.inference(done, total),
    onProgress: (s, p) => {
      produced.set(s, (produced.get(s) ?? 0) + p.sink.numOutputRows);
      const upstream = STREAM_NAMES[STREAM_NAMES.indexOf(s) - 1];
      view.update(s, p, pipeline.sourceFilesAdmitted(), upstream ? produced.get(upstream) : undefined);
    },
  });
  return pipeline;
}

/** Starts the live dashboard of a run (`--dashboard`) and prints its address. */
async function startDashboard(
  config: TweetlakeConfig,
  port: number,
  log: (line: string) => void,
): Promise<DashboardServer> {
  const mlflowUrl = mlflowUiUrl();
  const dashboard = new DashboardServer({
    root: config.root,
    source: config.source,
    port,
    ...(mlflowUrl ? { mlflowUrl } : {}),
  });
  log(`dashboard: ${await dashboard.start()}`);
  return dashboard;
}

/** Evaluates gold after a run that read its source to the end with the model loaded. */
async function evaluateFinishedRun(
  session: DuckSession,
  config: TweetlakeConfig,
  summary: PipelineSummary,
  classifier: ReturnType<typeof lazyClassifier>,
  log: (line: string) => void,
): Promise<void> {
  const model = classifier.loaded();
  const partial = summary.stopped && config.trigger !== 'continuous';
  if (partial) log('stopped on request before the source was done: no evaluation of a partial run');
  else if (model && summary.tables.gold.version !== null) await reportEvaluation(session, config, model, log);
}
