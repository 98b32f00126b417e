import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { DuckSession } from '../../../src/duck/session.js';
import type { Classifier } from '../../../src/model/classifier.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { DashboardServer } from '../../../src/ui/server.js';
import { DeltaTable } from '../../../src/delta/table.js';
import { launchChromium } from '../../helpers/browser.js';

/** A deterministic stand-in for the model: the dashboard is under test here, not the classifier. */
const standIn: Classifier = {
  labels: ['NEG', 'NEU', 'POS'],
  info: { name: 'stand-in', version: '1', uri: 'test' }, // a registry version: scores are cached
  classify: async (texts) =>
    texts.map((t) => {
      const l = /thank|love|great|awesome/i.test(t)
        ? 'POS'
        : /cancel|delay|worst|lost|hold/i.test(t)
          ? 'NEG'
          : 'NEU';
      return { label: l, score: 90 };
    }),
  close: async () => {},
};

const SAMPLE = nodePath.resolve('data/sample');
const ARTIFACTS = nodePath.resolve('test-artifacts');

describe('dashboard in headless Chromium during a running pipeline', () => {
  let dir: string;
  let browser: Browser;
  let server: DashboardServer;
  let pipeline: Pipeline;
  let running: Promise<unknown>;
  let session: DuckSession;

  beforeAll(async () => {
    dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-dash-'));
    const source = nodePath.join(dir, 'source');
    mkdirSync(source);
    for (const f of readdirSync(SAMPLE).sort().slice(0, 3))
      cpSync(nodePath.join(SAMPLE, f), nodePath.join(source, f));
    session = await DuckSession.create();
    pipeline = new Pipeline({
      root: nodePath.join(dir, 'lakehouse'),
      source,
      session,
      trigger: 'continuous',
      pollIntervalMs: 200,
      classifier: async () => standIn,
    });
    running = pipeline.run();
    server = new DashboardServer({ root: nodePath.join(dir, 'lakehouse'), source, refreshMs: 300 });
    await server.start();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pipeline?.state.requestStop();
    await running?.catch(() => undefined);
    await server?.stop();
    session?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows live counters, the expected top mentions, and numbers that change when a file arrives', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1900 } });
    await page.goto(server.url);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor({ timeout: 30_000 });
    // Wait until the first three files have flowed to the application table.
    const app = await DeltaTable.forPath(nodePath.join(dir, 'lakehouse', 'application'), session);
    await expect
      .poll(async () => (await app.exists()) && (await app.snapshot()).numRecords, { timeout: 60_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(async () => Number((await page.getByTestId('tweets').textContent())?.replace(/,/g, '')), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);

    // The top negative mention, computed independently from the application table.
    const plan = await app.scan();
    const [top] = await session.all(
      `SELECT mention FROM (${plan.sql}) ORDER BY negative DESC, mention LIMIT 1`,
    );
    await plan.dispose();
    const chart = page.getByTestId('chart-top-negative');
    await expect
      .poll(async () => (await chart.textContent()) ?? '', { timeout: 30_000 })
      .toContain(String(top!.mention));
    await expect
      .poll(async () => await page.getByTestId('chart-top-positive').locator('svg').count(), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    expect(await page.getByTestId('pipeline-graph').locator('[data-node="gold_stream"]').count()).toBe(1);

    const before = Number((await page.getByTestId('tweets').textContent())!.replace(/,/g, ''));
    const next = readdirSync(SAMPLE).sort()[3]!;
    cpSync(nodePath.join(SAMPLE, next), nodePath.join(dir, 'source', next));
    await expect
      .poll(async () => Number((await page.getByTestId('tweets').textContent())?.replace(/,/g, '')), {
        timeout: 60_000,
      })
      .toBeGreaterThan(before);

    // the prediction cache counter shows the gold batches' hit rate the state reports
    const state = (await (await fetch(`${server.url}/api/state`)).json()) as {
      predictionCache: { hitRate: number; distinctTexts: number };
    };
    expect(state.predictionCache.distinctTexts).toBeGreaterThan(0);
    await expect
      .poll(async () => await page.getByTestId('cache-hit-rate').textContent(), { timeout: 30_000 })
      .toMatch(/^\d+\.\d%$/);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: nodePath.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  }, 180_000);

  it('fits every chart, legend included, in its card on a 1280-pixel screen; mentions show as @handle', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    await page.goto(server.url);
    await expect
      .poll(async () => page.locator('#chart-perMention svg .role-legend').count(), { timeout: 60_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(async () => page.locator('#chart-streamRates svg .role-legend').count(), { timeout: 60_000 })
      .toBeGreaterThan(0);
    // In the page (this project compiles without the DOM types): charts whose drawing ends past their card.
    const overflowing =
      await page.evaluate(`[...document.querySelectorAll('[id^="chart-"]')].flatMap((el) => {
      const card = el.closest('.card').getBoundingClientRect();
      const svg = el.querySelector('svg')?.getBoundingClientRect();
      return svg && svg.right > card.right + 1 ? [el.id + ': ' + svg.right + ' > ' + card.right] : [];
    })`);
    expect(overflowing).toEqual([]);
    const labels = await page.locator('#chart-perMention svg .role-axis-label text').allTextContents();
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels.filter((x) => !/^\d+$/.test(x))) expect(l).toMatch(/^@[a-z0-9_]+$/);
    await page.screenshot({ path: nodePath.join(ARTIFACTS, 'dashboard-1280.png'), fullPage: true });
  }, 120_000);
});
