import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { DuckSession } from '../duck/session.js';
import { parseActions } from '../delta/actions.js';
import { commitPath } from '../delta/log-files.js';
import { DeltaTable } from '../delta/table.js';
import { TWEETLAKE_VERSION } from '../delta/version.js';
import { TweetlakeError } from '../errors.js';
import { confusionMatrixChart } from '../analytics/charts.js';
import { renderPng } from '../analytics/render.js';
import { StreamCheckpoint } from '../engine/checkpoint.js';
import { LocalObjectStore } from '../storage/local-store.js';
import { ObjectNotFound } from '../storage/object-store.js';
import { logFor } from '../log.js';
import { binaryReport, classificationReport, type EvaluationSummary } from '../tracking/metrics.js';
import type { TrackingStore } from '../tracking/tracking-store.js';
import type { LakehousePaths } from './paths.js';
import { StateStore } from './state.js';

export const EVALUATION_EXPERIMENT = 'tweetlake-evaluation';

/** Gold has no row with both a given and a predicted label: there is nothing to measure. */
export class NothingToEvaluate extends TweetlakeError {
  constructor(goldVersion: number, rows: number) {
    super(
      'EVALUATE_NO_ROWS',
      rows === 0
        ? `nothing to evaluate: version ${goldVersion} of gold has no rows (run the pipeline on a source with tweets first)`
        : `nothing to evaluate: none of the ${rows} rows of gold version ${goldVersion} has a given sentiment ` +
            `(positive, negative or neutral) to compare the prediction with`,
      { domain: 'user' },
    );
  }
}
const LABELS = ['NEG', 'NEU', 'POS'];

/** The silver version a gold version was computed from, through gold_stream's offsets log. */
export async function silverVersionOf(
  paths: LakehousePaths,
  gold: DeltaTable,
  goldVersion: number,
): Promise<number | undefined> {
  for (let v = goldVersion; v >= 0; v--) {
    const actions = parseActions(
      new TextDecoder().decode(await gold.store.get(commitPath(v))),
      commitPath(v),
    );
    const info = actions.find(
      (a): a is { commitInfo: Record<string, unknown> } => 'commitInfo' in a,
    )?.commitInfo;
    const epoch = (info?.operationParameters as Record<string, unknown> | undefined)?.epochId;
    if (epoch === undefined) continue;
    try {
      const offsets = await new StreamCheckpoint(
        new LocalObjectStore(paths.checkpoints.gold_stream),
      ).readOffsets(Number(epoch));
      const end = offsets.sources[0] as { version?: number } | undefined;
      return end?.version;
    } catch (err) {
      if (err instanceof ObjectNotFound) return undefined; // the offsets of that batch were purged
      throw err;
    }
  }
  return undefined;
}

/**
 * Evaluates the model on gold: the given sentiment against the prediction, as a three-class report
 * and the original's binary positive/negative view; logs one MLflow run (metrics, params, the
 * confusion matrix as a PNG) and records the summary for the dashboard.
 */
export async function evaluateGold(
  session: DuckSession,
  paths: LakehousePaths,
  tracking: TrackingStore,
  model: { name: string; version?: string; uri: string },
  options: {
    goldVersion?: number;
    runUrl?: (runId: string, experimentId: string) => string | undefined;
  } = {},
): Promise<EvaluationSummary> {
  const gold = await DeltaTable.forPath(paths.tables.gold, session);
  if (!(await gold.exists()))
    throw new TweetlakeError(
      'EVALUATE_NO_GOLD',
      `no gold table at ${paths.tables.gold}: run the pipeline first`,
      { domain: 'user' },
    );
  const snapshot = await gold.snapshot(
    options.goldVersion === undefined ? {} : { version: options.goldVersion },
  );
  const plan = await gold.scan(snapshot);
  let rows;
  try {
    rows =
      await session.all(`SELECT CASE lower(sentiment) WHEN 'negative' THEN 'NEG' WHEN 'neutral' THEN 'NEU' WHEN 'positive' THEN 'POS' END AS given,
        predicted_sentiment AS predicted, count(*) AS n
      FROM (${plan.sql}) GROUP BY ALL`);
  } finally {
    await plan.dispose();
  }
  const matrix = LABELS.map(() => LABELS.map(() => 0));
  let unlabelled = 0;
  for (const r of rows) {
    const i = LABELS.indexOf(String(r.given));
    const j = LABELS.indexOf(String(r.predicted));
    if (i < 0 || j < 0) unlabelled += Number(r.n);
    else matrix[i]![j]! += Number(r.n);
  }
  if (matrix.flat().every((n) => n === 0)) throw new NothingToEvaluate(snapshot.version, unlabelled);
  const report = classificationReport(LABELS, matrix);
  const binary = binaryReport(LABELS, matrix);
  const silverVersion = (await silverVersionOf(paths, gold, snapshot.version)) ?? -1;
  const metrics: Record<string, number> = {
    accuracy: report.accuracy,
    precision_macro: report.macro.precision,
    recall_macro: report.macro.recall,
    f1_macro: report.macro.f1,
    precision_weighted: report.weighted.precision,
    recall_weighted: report.weighted.recall,
    f1_weighted: report.weighted.f1,
    precision: binary.precision,
    recall: binary.recall,
    f1: binary.f1,
    binary_accuracy: binary.accuracy,
    binary_support: binary.support,
    ...Object.fromEntries(
      report.perClass.flatMap((c) => [
        [`precision_class_${c.label}`, c.precision],
        [`recall_class_${c.label}`, c.recall],
        [`f1_class_${c.label}`, c.f1],
      ]),
    ),
  };
  const params: Record<string, string> = {
    model_name: model.name,
    model_version: model.version ?? 'n/a',
    model_uri: model.uri,
    tweetlake_version: TWEETLAKE_VERSION,
    mlflow_client: `tweetlake-ts/${TWEETLAKE_VERSION} (MLflow REST API 2.0 / file store)`,
    silver_table_version: String(silverVersion),
    gold_table_version: String(snapshot.version),
    rows_evaluated: String(report.total),
    rows_without_label: String(unlabelled),
    labels: LABELS.join(','),
    binary_positive_label: 'POS',
    binary_neutral_policy: binary.neutralPolicy,
    metrics_precision_recall_f1: 'precision/recall/f1 = binary POS vs NEG view; *_macro = three classes',
  };
  const experiment = await tracking.getOrCreateExperiment(EVALUATION_EXPERIMENT);
  const run = await tracking.createRun(experiment.experimentId, {
    runName: `evaluate-gold-v${snapshot.version}`,
  });
  const now = Date.now();
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'tweetlake-eval-'));
  try {
    await tracking.logBatch(run.runId, {
      params,
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: now, step: 0 })),
      tags: { 'tweetlake.table': paths.tables.gold },
    });
    const png = nodePath.join(dir, 'confusion_matrix.png');
    await writeFile(
      png,
      await renderPng(confusionMatrixChart(LABELS, matrix, `Confusion matrix (gold v${snapshot.version})`)),
    );
    await tracking.logArtifact(run.runId, png);
    const json = nodePath.join(dir, 'classification_report.json');
    await writeFile(json, JSON.stringify({ report, binary }, null, 2));
    await tracking.logArtifact(run.runId, json);
    await tracking.endRun(run.runId, 'FINISHED');
  } catch (err) {
    // The evaluation's own failure is what the user must see; a failure to mark the run is logged.
    await tracking
      .endRun(run.runId, 'FAILED')
      .catch((endErr: unknown) =>
        logFor('evaluate').warn(
          { runId: run.runId, err: endErr },
          'could not mark the evaluation run FAILED',
        ),
      );
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const runUrl = options.runUrl?.(run.runId, experiment.experimentId);
  const summary: EvaluationSummary = {
    runId: run.runId,
    experimentName: EVALUATION_EXPERIMENT,
    trackingUri: tracking.location,
    ...(runUrl ? { runUrl } : {}),
    timestamp: new Date(now).toISOString(),
    model,
    silverVersion,
    goldVersion: snapshot.version,
    rows: report.total,
    labels: LABELS,
    matrix,
    metrics,
    params,
  };
  await new StateStore(paths.state).putDocument('evaluation', summary);
  return summary;
}
