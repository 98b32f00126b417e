import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { DuckSession } from '../duck/session.js';
import type { Snapshot } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import { commitInfoOf, logReaderOf } from '../delta/log-reader.js';
import { TWEETLAKE_VERSION } from '../delta/version.js';
import { TweetlakeError } from '../errors.js';
import { confusionMatrixChart } from './charts.js';
import { renderPng } from './render.js';
import { StreamCheckpoint } from '../engine/checkpoint.js';
import { storeAt } from '../storage/locations.js';
import { ObjectNotFound } from '../storage/object-store.js';
import { logFor } from '../log.js';
import {
  binaryReport,
  classificationReport,
  type ClassificationReport,
  type EvaluationSummary,
} from '../tracking/metrics.js';
import type { TrackingStore } from '../tracking/tracking-store.js';
import type { LakehousePaths } from '../pipeline/paths.js';
import { StateStore } from '../pipeline/state.js';

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
    const info = commitInfoOf((await logReaderOf(gold.store).requireCommit(v)).actions);
    const epoch = (info?.operationParameters as Record<string, unknown> | undefined)?.epochId;
    if (epoch === undefined) continue;
    try {
      const offsets = await new StreamCheckpoint(storeAt(paths.checkpoints.gold_stream)).readOffsets(
        Number(epoch),
      );
      const end = offsets.sources[0] as { version?: number } | undefined;
      return end?.version;
    } catch (err) {
      if (err instanceof ObjectNotFound) return undefined; // the offsets of that batch were purged
      throw err;
    }
  }
  return undefined;
}

type BinaryReport = ReturnType<typeof binaryReport>;
type ModelRef = { name: string; version?: string; uri: string };

/**
 * Evaluates the model on gold: the given sentiment against the prediction, as a three-class report
 * and the original's binary positive/negative view; logs one MLflow run (metrics, params, the
 * confusion matrix as a PNG) and records the summary for the dashboard.
 */
export async function evaluateGold(
  session: DuckSession,
  paths: LakehousePaths,
  tracking: TrackingStore,
  model: ModelRef,
  options: {
    goldVersion?: number;
    runUrl?: (runId: string, experimentId: string) => string | undefined;
  } = {},
): Promise<EvaluationSummary> {
  const { gold, snapshot } = await goldSnapshot(session, paths, options.goldVersion);
  const { matrix, unlabelled } = await confusionMatrix(session, gold, snapshot);
  if (matrix.flat().every((n) => n === 0)) throw new NothingToEvaluate(snapshot.version, unlabelled);
  const report = classificationReport(LABELS, matrix);
  const binary = binaryReport(LABELS, matrix);
  const silverVersion = (await silverVersionOf(paths, gold, snapshot.version)) ?? -1;
  const metrics = evaluationMetrics(report, binary);
  const params = evaluationParams(model, {
    silverVersion,
    goldVersion: snapshot.version,
    unlabelled,
    report,
    binary,
  });
  const experiment = await tracking.getOrCreateExperiment(EVALUATION_EXPERIMENT);
  const run = await tracking.createRun(experiment.experimentId, {
    runName: `evaluate-gold-v${snapshot.version}`,
  });
  const now = Date.now();
  await logEvaluationRun(tracking, run.runId, {
    params,
    metrics,
    timestamp: now,
    table: paths.tables.gold,
    goldVersion: snapshot.version,
    matrix,
    report,
    binary,
  });
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
  await new StateStore(storeAt(paths.state)).putDocument('evaluation', summary);
  logFor('evaluate').info(
    { runId: run.runId, goldVersion: snapshot.version, rows: report.total, accuracy: report.accuracy },
    'evaluation run logged',
  );
  return summary;
}

/** The gold table and the snapshot to evaluate (the latest, or `version`). */
async function goldSnapshot(
  session: DuckSession,
  paths: LakehousePaths,
  version: number | undefined,
): Promise<{ gold: DeltaTable; snapshot: Snapshot }> {
  const gold = await DeltaTable.forPath(paths.tables.gold, session);
  if (!(await gold.exists()))
    throw new TweetlakeError(
      'EVALUATE_NO_GOLD',
      `no gold table at ${paths.tables.gold}: run the pipeline first`,
      { domain: 'user' },
    );
  return { gold, snapshot: await gold.snapshot(version === undefined ? {} : { version }) };
}

/** Counts of (given, predicted) label pairs in gold, and the rows that lack either label. */
async function confusionMatrix(
  session: DuckSession,
  gold: DeltaTable,
  snapshot: Snapshot,
): Promise<{ matrix: number[][]; unlabelled: number }> {
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
  return { matrix, unlabelled };
}

/** The run's metrics: three-class (macro, weighted, per class) and the binary POS/NEG view. */
function evaluationMetrics(report: ClassificationReport, binary: BinaryReport): Record<string, number> {
  return {
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
}

/** The run's params: which model, which table versions, how many rows, how the metrics read. */
function evaluationParams(
  model: ModelRef,
  at: {
    silverVersion: number;
    goldVersion: number;
    unlabelled: number;
    report: ClassificationReport;
    binary: BinaryReport;
  },
): Record<string, string> {
  return {
    model_name: model.name,
    model_version: model.version ?? 'n/a',
    model_uri: model.uri,
    tweetlake_version: TWEETLAKE_VERSION,
    mlflow_client: `tweetlake-ts/${TWEETLAKE_VERSION} (MLflow REST API 2.0 / file store)`,
    silver_table_version: String(at.silverVersion),
    gold_table_version: String(at.goldVersion),
    rows_evaluated: String(at.report.total),
    rows_without_label: String(at.unlabelled),
    labels: LABELS.join(','),
    binary_positive_label: 'POS',
    binary_neutral_policy: at.binary.neutralPolicy,
    metrics_precision_recall_f1: 'precision/recall/f1 = binary POS vs NEG view; *_macro = three classes',
  };
}

/** Logs params, metrics and the artifacts (confusion matrix PNG, report JSON) and ends the run. */
async function logEvaluationRun(
  tracking: TrackingStore,
  runId: string,
  e: {
    params: Record<string, string>;
    metrics: Record<string, number>;
    timestamp: number;
    table: string;
    goldVersion: number;
    matrix: number[][];
    report: ClassificationReport;
    binary: BinaryReport;
  },
): Promise<void> {
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'tweetlake-eval-'));
  try {
    await tracking.logBatch(runId, {
      params: e.params,
      metrics: Object.entries(e.metrics).map(([key, value]) => ({
        key,
        value,
        timestamp: e.timestamp,
        step: 0,
      })),
      tags: { 'tweetlake.table': e.table },
    });
    const png = nodePath.join(dir, 'confusion_matrix.png');
    await writeFile(
      png,
      await renderPng(confusionMatrixChart(LABELS, e.matrix, `Confusion matrix (gold v${e.goldVersion})`)),
    );
    await tracking.logArtifact(runId, png);
    const json = nodePath.join(dir, 'classification_report.json');
    await writeFile(json, JSON.stringify({ report: e.report, binary: e.binary }, null, 2));
    await tracking.logArtifact(runId, json);
    await tracking.endRun(runId, 'FINISHED');
  } catch (err) {
    // The evaluation's own failure is what the user must see; a failure to mark the run is logged.
    await tracking
      .endRun(runId, 'FAILED')
      .catch((endErr: unknown) =>
        logFor('evaluate').warn({ runId, err: endErr }, 'could not mark the evaluation run FAILED'),
      );
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
