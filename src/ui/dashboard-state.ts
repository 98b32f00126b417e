import { isSourceFile } from '../engine/file-source.js';
import { isKafkaUri } from '../engine/kafka-uri.js';
import { storeAt } from '../storage/locations.js';
import type { DuckSession } from '../duck/session.js';
import { DeltaTable } from '../delta/table.js';
import { PredictionCache } from '../model/prediction-cache.js';
import {
  confusionMatrixChart,
  mentionsPresenceChart,
  perMentionChart,
  streamRatesChart,
  batchDurationsChart,
  topNegativeChart,
  topPositiveChart,
  topTweetersChart,
  type VegaLiteSpec,
} from '../analytics/charts.js';
import { performanceReport, type PerformanceReport } from '../analytics/performance.js';
import { computeInsights, type Insights } from '../analytics/queries.js';
import { lakehousePaths, TABLE_NAMES, type LakehousePaths } from '../pipeline/paths.js';
import { StateStore, type ProcessState, type StreamState } from '../pipeline/state.js';
import { DeltaViews } from '../sql/views.js';
import type { EvaluationSummary } from '../tracking/metrics.js';
import { isNotFound } from '../errors.js';

export interface TableState {
  name: string;
  path: string;
  exists: boolean;
  version: number | null;
  rows: number | null;
  files: number;
  bytes: number;
  history: { version: number; timestamp: string; operation: string; outputRows: number | null }[];
}

/** Everything the dashboard shows, computed from the lakehouse on disk. */
export interface DashboardState {
  root: string;
  generatedAt: string;
  mlflowUrl?: string;
  streams: StreamState[];
  process?: ProcessState;
  tables: TableState[];
  insights: Insights;
  charts: Record<string, VegaLiteSpec>;
  evaluation?: EvaluationSummary;
  performance: PerformanceReport;
  predictionCache: PredictionCacheState;
}

/** The prediction cache as the dashboard shows it: the gold batches' hit rate and the cache's size. */
export interface PredictionCacheState {
  /** Distinct texts of the recent gold batches, and how many of them came from the cache. */
  distinctTexts: number;
  cachedTexts: number;
  /** cachedTexts / distinctTexts (0 when no text was seen). */
  hitRate: number;
  /** Scores held, all model versions together. */
  entries: number;
}

async function predictionCacheState(
  session: DuckSession,
  paths: LakehousePaths,
  streams: StreamState[],
): Promise<PredictionCacheState> {
  const gold = streams.find((s) => s.name === 'gold_stream')?.history ?? [];
  const sum = (k: string) => gold.reduce((n, b) => n + (b.metrics[k] ?? 0), 0);
  const distinctTexts = sum('distinctTexts');
  const cachedTexts = sum('cachedTexts');
  const entries = await new PredictionCache(paths.predictionCache, session).entries();
  return {
    distinctTexts,
    cachedTexts,
    hitRate: distinctTexts > 0 ? cachedTexts / distinctTexts : 0,
    entries: entries.reduce((n, e) => n + e.rows, 0),
  };
}

/** Sizes of the source's files, as the file source sees them (not hidden, any depth); [] when it is gone. */
async function sourceFileSizes(location: string | undefined): Promise<number[]> {
  if (!location || isKafkaUri(location)) return [];
  try {
    return (await storeAt(location).list('')).filter((m) => isSourceFile(m.path)).map((m) => m.size);
  } catch (err) {
    if (isNotFound(err)) return []; // the source folder is gone: the lakehouse is still shown
    throw err;
  }
}

/** Reads the lakehouse: stream states, tables and their history, insights, charts, evaluation, performance. */
export async function dashboardState(
  session: DuckSession,
  root: string,
  options: { source?: string; mlflowUrl?: string } = {},
): Promise<DashboardState> {
  const paths: LakehousePaths = lakehousePaths(root);
  const store = new StateStore(storeAt(paths.state));
  const streams = await store.streams();
  const process = await store.process();
  const views = new DeltaViews(session);
  try {
    const { tables, present } = await tableStates(session, paths, views);
    const insights = await computeInsights(session, present);
    const evaluation = await store.getDocument<EvaluationSummary>('evaluation');
    const performance = await performanceReport(
      session,
      paths,
      streams,
      process,
      await sourceFileSizes(options.source),
    );
    return {
      root: paths.root,
      generatedAt: new Date().toISOString(),
      ...(options.mlflowUrl ? { mlflowUrl: options.mlflowUrl } : {}),
      streams,
      ...(process ? { process } : {}),
      tables,
      insights,
      charts: dashboardCharts(insights, streams, evaluation),
      ...(evaluation ? { evaluation } : {}),
      performance,
      predictionCache: await predictionCacheState(session, paths, streams),
    };
  } finally {
    await views.dispose();
  }
}

/** Each table's version, size and recent commits; the tables that exist are registered as views. */
async function tableStates(
  session: DuckSession,
  paths: LakehousePaths,
  views: DeltaViews,
): Promise<{ tables: TableState[]; present: Set<string> }> {
  const tables: TableState[] = [];
  const present = new Set<string>();
  for (const name of TABLE_NAMES) {
    const table = await DeltaTable.forPath(paths.tables[name], session);
    if (!(await table.exists())) {
      tables.push({
        name,
        path: paths.tables[name],
        exists: false,
        version: null,
        rows: null,
        files: 0,
        bytes: 0,
        history: [],
      });
      continue;
    }
    const snap = await table.snapshot();
    const history = (await table.history(8)).map((h) => ({
      version: h.version,
      timestamp: new Date(h.timestamp).toISOString(),
      operation: h.operation,
      outputRows:
        h.operationMetrics.numOutputRows === undefined ? null : Number(h.operationMetrics.numOutputRows),
    }));
    tables.push({
      name,
      path: paths.tables[name],
      exists: true,
      version: snap.version,
      rows: snap.numRecords ?? null,
      files: snap.numFiles,
      bytes: snap.sizeInBytes,
      history,
    });
    if (await views.register(name, paths.tables[name], snap.version)) present.add(name);
  }
  return { tables, present };
}

/** The dashboard's chart specifications: insights, stream rates and batch times, the confusion matrix. */
function dashboardCharts(
  insights: Insights,
  streams: StreamState[],
  evaluation: EvaluationSummary | undefined,
): Record<string, VegaLiteSpec> {
  const rates = streams
    .flatMap((s) =>
      s.history.map((b) => ({
        stream: s.name,
        timestamp: b.timestamp,
        rowsPerSecond: Math.round(b.processedRowsPerSecond),
      })),
    )
    .filter((p) => p.rowsPerSecond > 0); // log scale
  return {
    topTweeters: topTweetersChart(insights),
    mentionsPresence: mentionsPresenceChart(insights),
    perMention: perMentionChart(insights),
    topPositive: topPositiveChart(insights),
    topNegative: topNegativeChart(insights),
    streamRates: streamRatesChart(rates),
    batchDurations: batchDurationsChart(
      streams.flatMap((s) =>
        s.history.map((b) => ({
          stream: s.name,
          timestamp: b.timestamp,
          durationMs: b.durationMs,
          inputRows: b.numInputRows,
        })),
      ),
    ),
    ...(evaluation ? { confusion: confusionMatrixChart(evaluation.labels, evaluation.matrix) } : {}),
  };
}
