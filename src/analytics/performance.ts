import type { DuckSession } from '../duck/session.js';
import { planBins } from '../delta/optimize.js';
import { DeltaTable } from '../delta/table.js';
import type { LakehousePaths, StreamName, TableName } from '../pipeline/paths.js';
import { STREAM_NAMES, TABLE_NAMES } from '../pipeline/paths.js';
import type { BatchRecord, ProcessState, StreamState } from '../pipeline/state.js';

/** One of the five S's, with its figures and a one-line reading. */
export interface PerformanceSection {
  name: 'spill' | 'skew' | 'shuffle' | 'storage' | 'serialization';
  reading: string;
  figures: Record<string, number | string>;
  rows?: Record<string, number | string>[];
}

export interface PerformanceReport {
  /** What drives the run's speed, in a sentence. */
  headline: string;
  stageSeconds: Record<string, number>;
  sections: PerformanceSection[];
}

const SMALL_FILE_BYTES = 8 * 1024 * 1024;

function stats(values: number[]): { min: number; median: number; max: number; mean: number } {
  if (values.length === 0) return { min: 0, median: 0, max: 0, mean: 0 };
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0]!,
    median: s[Math.floor(s.length / 2)]!,
    max: s.at(-1)!,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function metric(history: BatchRecord[], key: string): number {
  return sum(history.map((b) => b.metrics?.[key] ?? 0));
}

type History = (n: StreamName) => BatchRecord[];

/** The five S's of the last run (Spark UI style), from measured figures only. */
export async function performanceReport(
  session: DuckSession,
  paths: LakehousePaths,
  streams: StreamState[],
  process: ProcessState | undefined,
  sourceFileSizes: number[],
): Promise<PerformanceReport> {
  const byName = new Map(streams.map((s) => [s.name as StreamName, s]));
  const history: History = (n) => byName.get(n)?.history ?? [];
  const stageSeconds = Object.fromEntries(
    STREAM_NAMES.map((n) => [n, sum(history(n).map((b) => b.durationMs)) / 1000]),
  );
  return {
    headline: headline(stageSeconds, history),
    stageSeconds,
    sections: [
      spillSection(process),
      skewSection(history, sourceFileSizes),
      shuffleSection(history),
      await storageSection(session, paths),
      serializationSection(history),
    ],
  };
}

/** Spill: bytes DuckDB wrote to disk past its memory limit, against the process's peak memory. */
function spillSection(process: ProcessState | undefined): PerformanceSection {
  const spill = process?.duckdbSpillHighWaterBytes ?? 0;
  const spillSection: PerformanceSection = {
    name: 'spill',
    reading:
      spill > 0
        ? `DuckDB spilled ${mb(spill)} to disk (memory limit ${process?.duckdbMemoryLimit}): batches outgrew memory; lower maxFilesPerTrigger or raise the limit`
        : `no spill: every batch fit in memory (peak RSS ${mb(process?.rssHighWaterBytes ?? 0)}, DuckDB limit ${process?.duckdbMemoryLimit ?? 'n/a'})`,
    figures: {
      duckdbSpillHighWater: spill,
      rssHighWater: process?.rssHighWaterBytes ?? 0,
      heapHighWater: process?.heapHighWaterBytes ?? 0,
      duckdbMemoryLimit: process?.duckdbMemoryLimit ?? 'n/a',
    },
  };
  return spillSection;
}

/** Skew: how uneven the batches of each stream and the source files are. */
function skewSection(history: History, sourceFileSizes: number[]): PerformanceSection {
  const skewRows = STREAM_NAMES.map((n) => {
    const s = stats(history(n).map((b) => b.numInputRows));
    return { stream: n, batches: history(n).length, minRows: s.min, medianRows: s.median, maxRows: s.max };
  });
  const fileSizes = stats(sourceFileSizes);
  const padded = history('gold_stream')
    .map((b) => b.metrics?.meanPaddedLength ?? 0)
    .filter((x) => x > 0);
  const worst = skewRows.reduce(
    (w, r) =>
      r.medianRows > 0 && r.maxRows / r.medianRows > w.ratio
        ? { stream: r.stream, ratio: r.maxRows / r.medianRows }
        : w,
    {
      stream: '',
      ratio: 1,
    },
  );
  const skewSection: PerformanceSection = {
    name: 'skew',
    reading:
      worst.ratio > 2
        ? `${worst.stream} batches are uneven (largest ${worst.ratio.toFixed(1)}× the median): a few large files set the pace`
        : `batches are even (largest batch at most ${worst.ratio.toFixed(1)}× the median); source files ${mb(fileSizes.min)}–${mb(fileSizes.max)}`,
    figures: {
      sourceFiles: sourceFileSizes.length,
      sourceFileMinBytes: fileSizes.min,
      sourceFileMedianBytes: fileSizes.median,
      sourceFileMaxBytes: fileSizes.max,
      meanModelBatchSize: stats(
        history('gold_stream')
          .map((b) => b.metrics?.meanModelBatchSize ?? 0)
          .filter((x) => x > 0),
      ).mean,
      meanPaddedTokens: stats(padded).mean,
    },
    rows: skewRows,
  };
  return skewSection;
}

/** Shuffle: where rows are regrouped (explode, dedupe before the model, group by mention). */
function shuffleSection(history: History): PerformanceSection {
  const bronzeRows = sum(history('bronze_stream').map((b) => b.numOutputRows));
  const silverRows = sum(history('silver_stream').map((b) => b.numOutputRows));
  const goldIn = sum(history('gold_stream').map((b) => b.numInputRows));
  const distinct = metric(history('gold_stream'), 'distinctTexts');
  const cached = metric(history('gold_stream'), 'cachedTexts');
  const appIn = sum(history('application_stream').map((b) => b.numInputRows));
  const appOut = history('application_stream').at(-1)?.numOutputRows ?? 0;
  const shuffleSection: PerformanceSection = {
    name: 'shuffle',
    reading:
      `three regroupings, all inside one process: silver explodes ${bronzeRows} tweets into ${silverRows} mention rows, ` +
      `gold dedupes ${goldIn} rows to ${distinct} distinct texts before the model${cached > 0 ? ` (${cached} of them scored from the prediction cache)` : ''}, application groups ${appIn} rows into ${appOut} mentions`,
    figures: {
      bronzeRows,
      silverRows,
      goldRows: goldIn,
      distinctTexts: distinct,
      cachedTexts: cached,
      applicationInput: appIn,
      mentions: appOut,
    },
  };
  return shuffleSection;
}

/** Storage: the tables' files, how many are small, and what OPTIMIZE would merge. */
async function storageSection(session: DuckSession, paths: LakehousePaths): Promise<PerformanceSection> {
  const storageRows: Record<string, number | string>[] = [];
  for (const t of TABLE_NAMES as readonly TableName[]) {
    const table = await DeltaTable.forPath(paths.tables[t], session);
    if (!(await table.exists())) continue;
    const snap = await table.snapshot();
    const files = snap.files;
    const small = files.filter((f) => f.size < SMALL_FILE_BYTES).length;
    const bins = planBins(files, 128 * 1024 * 1024);
    storageRows.push({
      table: t,
      version: snap.version,
      files: files.length,
      bytes: snap.sizeInBytes,
      meanFileBytes: files.length ? Math.round(snap.sizeInBytes / files.length) : 0,
      smallFiles: small,
      optimizeWouldMerge: bins.reduce((n, b) => n + b.length, 0),
      optimizeWouldWrite: bins.length,
    });
  }
  const totalFiles = sum(storageRows.map((r) => Number(r.files)));
  const totalSmall = sum(storageRows.map((r) => Number(r.smallFiles)));
  const storageSection: PerformanceSection = {
    name: 'storage',
    reading:
      totalFiles === 0
        ? 'no data files yet'
        : `${totalSmall} of ${totalFiles} data files are under ${mb(SMALL_FILE_BYTES)} (one file per micro-batch); ` +
          `OPTIMIZE would merge ${sum(storageRows.map((r) => Number(r.optimizeWouldMerge)))} files into ${sum(storageRows.map((r) => Number(r.optimizeWouldWrite)))}`,
    figures: {
      files: totalFiles,
      smallFiles: totalSmall,
      smallFileRatio: totalFiles ? totalSmall / totalFiles : 0,
    },
    rows: storageRows,
  };
  return storageSection;
}

/** Serialization: moving texts to the inference workers and probabilities back, against model compute. */
function serializationSection(history: History): PerformanceSection {
  const gold = history('gold_stream');
  const transferMs = metric(gold, 'workerTransferMs');
  const computeMs = metric(gold, 'modelComputeMs');
  const goldMs = sum(gold.map((b) => b.durationMs));
  const serializationSection: PerformanceSection = {
    name: 'serialization',
    reading:
      gold.length === 0
        ? 'the model stage has not run'
        : `moving texts to the workers and probabilities back took ${(transferMs / 1000).toFixed(1)} s of worker-batch time ` +
          `(${mb(metric(gold, 'bytesToWorkers'))} out, ${mb(metric(gold, 'bytesFromWorkers'))} back) against ${(computeMs / 1000).toFixed(1)} worker-seconds of model compute: ` +
          (transferMs < computeMs * 0.05
            ? 'serialization is not what limits the run'
            : 'moving data to the workers is a real share of the model stage'),
    figures: {
      bytesToWorkers: metric(gold, 'bytesToWorkers'),
      bytesFromWorkers: metric(gold, 'bytesFromWorkers'),
      workerTransferMs: transferMs,
      modelComputeMs: computeMs,
      goldStageMs: goldMs,
    },
  };
  return serializationSection;
}

/** What drives the run's speed, in a sentence: the stream that took longest. */
function headline(stageSeconds: Record<string, number>, history: History): string {
  const gold = history('gold_stream');
  const computeMs = metric(gold, 'modelComputeMs');
  const distinct = metric(gold, 'distinctTexts');
  const slowest = Object.entries(stageSeconds).sort((a, b) => b[1] - a[1])[0];
  const total = sum(Object.values(stageSeconds));
  return !slowest || total === 0
    ? 'no batches have run yet'
    : slowest[0] === 'gold_stream'
      ? `model inference drives the run: gold_stream took ${slowest[1].toFixed(1)} s of ${total.toFixed(1)} s of stream time ` +
        `(${(computeMs / 1000).toFixed(1)} worker-seconds of model compute on ${distinct} distinct texts, workers in parallel)`
      : `${slowest[0]} drives the run: ${slowest[1].toFixed(1)} s of ${total.toFixed(1)} s of stream time`;
}
