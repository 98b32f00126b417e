import { describe, expect, it } from 'vitest';
import {
  confusionMatrixChart,
  topNegativeChart,
  topPositiveChart,
  topTweetersChart,
} from '../../../src/analytics/charts.js';
import type { Insights } from '../../../src/analytics/queries.js';
import { renderPng, renderSvg } from '../../../src/analytics/render.js';

const insights: Insights = {
  counters: { tweets: 10, withMentions: 7, withoutMentions: 3, quarantined: 0 },
  nullCounts: [],
  topTweeters: [
    { user: 'alice', tweets: 5 },
    { user: 'bob', tweets: 3 },
  ],
  distinctUsers: 2,
  mentions: { distinct: 3, rows: 9 },
  perMention: [],
  topPositive: [
    { mention: 'southwestair', positive: 9 },
    { mention: 'jetblue', positive: 4 },
  ],
  topNegative: [
    { mention: 'united', negative: 12 },
    { mention: 'usairways', negative: 7 },
  ],
  labels: [],
};

/** Bar lengths by label: the SVG path widths of the bar marks, keyed by the data they carry. */
function barWidths(svg: string): number[] {
  return [...svg.matchAll(/<path aria-label="[^"]*" role="graphics-symbol"[^>]*d="M0,[\d.]+h([\d.]+)/g)].map(
    (m) => Number(m[1]),
  );
}

describe('charts from known data, rendered on the server', () => {
  it('the villain chart names the mentions with the most negative tweets, longest bar first', async () => {
    const svg = await renderSvg(topNegativeChart(insights));
    expect(svg).toContain('united');
    expect(svg).toContain('usairways');
    expect(svg).toContain('who is the villain');
    const widths = barWidths(svg);
    expect(widths).toHaveLength(2);
    expect(widths[0]! / widths[1]!).toBeCloseTo(12 / 7, 1);
    expect(svg.indexOf('united')).toBeLessThan(svg.indexOf('usairways'));
  });

  it('the loved chart and the tweeters chart carry their data', async () => {
    const loved = await renderSvg(topPositiveChart(insights));
    expect(loved).toContain('southwestair');
    expect(barWidths(loved)[0]! / barWidths(loved)[1]!).toBeCloseTo(9 / 4, 1);
    const tweeters = await renderSvg(topTweetersChart(insights));
    expect(tweeters).toContain('alice');
  });

  it('the confusion matrix shows every count, and renders to a PNG', async () => {
    const spec = confusionMatrixChart(
      ['NEG', 'NEU', 'POS'],
      [
        [50, 10, 2],
        [8, 30, 5],
        [1, 4, 40],
      ],
    );
    const svg = await renderSvg(spec);
    for (const n of [50, 10, 2, 8, 30, 5, 1, 4, 40]) expect(svg).toMatch(new RegExp(`>${n}<`));
    const png = await renderPng(spec);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(5000);
  });
});
