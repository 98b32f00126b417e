import type { Insights } from './queries.js';

/** A Vega-Lite specification (JSON). The same spec renders in the browser and on the server. */
export type VegaLiteSpec = Record<string, unknown>;

const COLORS = { NEG: '#d62728', NEU: '#9e9e9e', POS: '#2ca02c' };

function bar(
  title: string,
  values: object[],
  x: string,
  y: string,
  color: string,
  xTitle: string,
): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 520,
    height: { step: 16 },
    data: { values },
    mark: { type: 'bar', color },
    encoding: {
      y: { field: y, type: 'nominal', sort: '-x', title: null },
      x: { field: x, type: 'quantitative', title: xTitle },
      tooltip: [{ field: y }, { field: x }],
    },
  };
}

/** Bar chart of the 20 users with most tweets. */
export function topTweetersChart(i: Insights): VegaLiteSpec {
  return bar('Top 20 tweeters', i.topTweeters, 'tweets', 'user', '#1f77b4', 'tweets');
}

/** Bar chart of the 20 mentions with most positive tweets: who is loved. */
export function topPositiveChart(i: Insights): VegaLiteSpec {
  return bar(
    'Top 20 mentions by positive tweets (who is loved)',
    i.topPositive,
    'positive',
    'mention',
    COLORS.POS,
    'positive tweets',
  );
}

/** Bar chart of the 20 mentions with most negative tweets: who is the villain. */
export function topNegativeChart(i: Insights): VegaLiteSpec {
  return bar(
    'Top 20 mentions by negative tweets (who is the villain)',
    i.topNegative,
    'negative',
    'mention',
    COLORS.NEG,
    'negative tweets',
  );
}

/** Tweets with and without a mention. */
export function mentionsPresenceChart(i: Insights): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Tweets with and without mentions',
    width: 520,
    height: 80,
    data: {
      values: [
        { kind: 'with mentions', tweets: i.counters.withMentions },
        { kind: 'without mentions', tweets: i.counters.withoutMentions },
      ],
    },
    mark: 'bar',
    encoding: {
      y: { field: 'kind', type: 'nominal', title: null },
      x: { field: 'tweets', type: 'quantitative' },
      color: { field: 'kind', type: 'nominal', legend: null, scale: { range: ['#1f77b4', '#aec7e8'] } },
      tooltip: [{ field: 'kind' }, { field: 'tweets' }],
    },
  };
}

/** Stacked negative/neutral/positive per mention, for the 20 most mentioned. */
export function perMentionChart(i: Insights): VegaLiteSpec {
  const values = i.perMention.slice(0, 20).flatMap((m) => [
    { mention: m.mention, sentiment: 'NEG', tweets: m.negative, total: m.total },
    { mention: m.mention, sentiment: 'NEU', tweets: m.neutral, total: m.total },
    { mention: m.mention, sentiment: 'POS', tweets: m.positive, total: m.total },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Sentiment toward the 20 most mentioned',
    width: 520,
    height: { step: 16 },
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'mention', type: 'nominal', sort: { field: 'total', order: 'descending' }, title: null },
      x: { field: 'tweets', type: 'quantitative', stack: 'zero' },
      color: {
        field: 'sentiment',
        type: 'nominal',
        scale: { domain: ['NEG', 'NEU', 'POS'], range: [COLORS.NEG, COLORS.NEU, COLORS.POS] },
      },
      tooltip: [{ field: 'mention' }, { field: 'sentiment' }, { field: 'tweets' }],
    },
  };
}

/** Confusion matrix heat map (rows: given label, columns: predicted). */
export function confusionMatrixChart(
  labels: string[],
  matrix: number[][],
  title = 'Confusion matrix',
): VegaLiteSpec {
  const values = matrix.flatMap((row, i) =>
    row.map((n, j) => ({ actual: labels[i], predicted: labels[j], n })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 260,
    height: 260,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: labels, title: 'predicted', axis: { labelAngle: 0 } },
      y: { field: 'actual', type: 'nominal', sort: labels, title: 'given' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: { color: { field: 'n', type: 'quantitative', scale: { scheme: 'blues' }, legend: null } },
      },
      {
        mark: { type: 'text', fontSize: 14 },
        encoding: {
          text: { field: 'n', type: 'quantitative' },
          color: {
            condition: { test: `datum.n > ${Math.max(1, ...matrix.flat()) / 2}`, value: 'white' },
            value: 'black',
          },
        },
      },
    ],
  };
}

/** Input and processed rows per second of each stream's batches over time. */
export function streamRatesChart(
  points: { stream: string; timestamp: string; rowsPerSecond: number }[],
): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Processed rows per second, per batch',
    width: 520,
    height: 180,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'timestamp', type: 'temporal', title: null, axis: { format: '%H:%M:%S' } },
      y: {
        field: 'rowsPerSecond',
        type: 'quantitative',
        title: 'rows/s (log scale)',
        scale: { type: 'log' },
      },
      color: { field: 'stream', type: 'nominal' },
      tooltip: [{ field: 'stream' }, { field: 'rowsPerSecond', format: ',.0f' }],
    },
  };
}

/** Duration of each batch of each stream over time, and its input rows (point size). */
export function batchDurationsChart(
  points: { stream: string; timestamp: string; durationMs: number; inputRows: number }[],
): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Batch durations (point size: input rows)',
    width: 520,
    height: 160,
    data: { values: points },
    mark: { type: 'point', filled: true, opacity: 0.8 },
    encoding: {
      x: { field: 'timestamp', type: 'temporal', title: null, axis: { format: '%H:%M:%S' } },
      y: { field: 'durationMs', type: 'quantitative', title: 'ms' },
      size: { field: 'inputRows', type: 'quantitative', legend: null },
      color: { field: 'stream', type: 'nominal' },
      tooltip: [
        { field: 'stream' },
        { field: 'durationMs', title: 'ms' },
        { field: 'inputRows', title: 'input rows', format: ',' },
      ],
    },
  };
}
