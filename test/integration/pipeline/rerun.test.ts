/**
 * Runs of the real pipeline (Delta tables on disk, a stand-in model) on a lakehouse that is already
 * up to date: a concurrent run ends as soon as nothing is left, the streams' recent batches and the
 * performance report survive a run with nothing new, and one run at a time holds the lakehouse.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../../src/duck/session.js';
import type { Classifier } from '../../../src/model/classifier.js';
import { bundledSampleDir } from '../../../src/pipeline/config.js';
import { Pipeline, type Orchestration } from '../../../src/pipeline/pipeline.js';
import { LeaseHeld } from '../../../src/storage/lease.js';
import { DeltaTable } from '../../../src/delta/table.js';
import { LegacyMentionFormat } from '../../../src/pipeline/mention-format.js';
import { dashboardState } from '../../../src/ui/dashboard-state.js';
import { rejection, tempDirs } from '../../helpers/delta.js';

const standIn: Classifier = {
  labels: ['NEG', 'NEU', 'POS'],
  info: { name: 'stand-in', uri: 'test' },
  classify: async (texts) => texts.map((t) => ({ label: t.length % 2 ? 'POS' : 'NEG', score: 50 })),
  close: async () => {},
};

const dirs = tempDirs('tweetlake-rerun-');
let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.create({ threads: 1 });
});
afterAll(() => {
  session.close();
  dirs.cleanup();
});

function lakehouse(lines: number): { root: string; source: string } {
  const dir = dirs.make();
  const source = nodePath.join(dir, 'source');
  mkdirSync(source);
  if (lines > 0) {
    const sample = readFileSync(nodePath.join(bundledSampleDir(), 'tweets-001.json'), 'utf8').split('\n');
    writeFileSync(nodePath.join(source, 'a.json'), `${sample.slice(0, lines).join('\n')}\n`);
  }
  return { root: nodePath.join(dir, 'lakehouse'), source };
}

function pipeline(
  l: { root: string; source: string },
  orchestration: Orchestration = 'sequential',
): Pipeline {
  return new Pipeline({ ...l, session, orchestration, pollIntervalMs: 200, classifier: async () => standIn });
}

/** Resolves with the run's result, or 'still running' after `ms`. */
async function within<T>(run: Promise<T>, ms: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms)));
  try {
    return await Promise.race([run, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a run on an up-to-date lakehouse', () => {
  it('concurrent orchestration ends as soon as every source position has reached the application table', async () => {
    const l = lakehouse(30);
    const first = await pipeline(l, 'concurrent').run();
    expect(first.tables.application.rows).toBeGreaterThan(0);
    // Nothing new: every stream's committed position is at its source's end.
    const again = pipeline(l, 'concurrent');
    const result = await within(again.run(), 15_000);
    if (result === 'still running') await again.stop(); // let the test end either way
    expect(result).not.toBe('still running');
    expect(result === 'still running' ? undefined : result.tables).toEqual(first.tables);
  }, 60_000);

  it('concurrent orchestration on an empty source ends too', async () => {
    const result = await within(pipeline(lakehouse(0), 'concurrent').run(), 15_000);
    expect(result).not.toBe('still running');
  }, 30_000);

  it('a stop asked before the streams started (an early Ctrl-C) ends the run without running them', async () => {
    for (const orchestration of ['sequential', 'concurrent'] as const) {
      const p = pipeline(lakehouse(30), orchestration);
      const stopping = p.stop();
      const summary = await p.run();
      await stopping;
      expect(summary.stopped, orchestration).toBe(true);
      expect(summary.tables.application.version, orchestration).toBeNull();
    }
  }, 60_000);

  it("keeps the streams' recent batches and the five S's when a run has nothing new", async () => {
    const l = lakehouse(30);
    await pipeline(l).run();
    const before = await dashboardState(session, l.root, { source: l.source });
    await pipeline(l).run(); // nothing new
    const after = await dashboardState(session, l.root, { source: l.source });
    for (const name of ['bronze_stream', 'silver_stream', 'gold_stream', 'application_stream']) {
      const s = after.streams.find((x) => x.name === name);
      expect(s?.history.length, name).toBeGreaterThan(0);
      expect(s?.lastProgress?.batchId, name).toBe(0);
    }
    expect(after.performance.headline).not.toMatch(/no batches/);
    expect(after.performance.stageSeconds).toEqual(before.performance.stageSeconds);
    expect(after.performance.sections.find((x) => x.name === 'shuffle')?.figures.bronzeRows).toBe(30);
  }, 60_000);

  it("refuses a lakehouse an older tweetlake wrote (mentions without '@'); --clear rebuilds it", async () => {
    const l = lakehouse(30);
    await pipeline(l).run();
    // The application table as the old code wrote it: handles without '@'.
    const app = await DeltaTable.forPath(nodePath.join(l.root, 'application'), session);
    const plan = await app.scan();
    try {
      await app.write(
        { sql: `SELECT * REPLACE (ltrim(mention, '@') AS mention) FROM (${plan.sql})` },
        { mode: 'overwrite' },
      );
    } finally {
      await plan.dispose();
    }
    const err = await rejection(pipeline(l).run());
    expect(err).toBeInstanceOf(LegacyMentionFormat);
    expect(err.message).toMatch(/stored mentions without '@'.*tweetlake run --clear/);
    const rebuilt = await pipeline(l).run({ clear: true });
    expect(rebuilt.tables.bronze.rows).toBe(30);
    const p2 = await app.scan();
    try {
      const [row] = await session.all(
        `SELECT count(*) FILTER (WHERE NOT starts_with(mention, '@')) AS old FROM (${p2.sql})`,
      );
      expect(Number(row!.old)).toBe(0);
    } finally {
      await p2.dispose();
    }
  }, 60_000);

  it('lets one run at a time hold the lakehouse: a second refuses at start, naming the holder', async () => {
    const l = lakehouse(30);
    const first = new Pipeline({
      ...l,
      session,
      trigger: 'continuous',
      pollIntervalMs: 200,
      command: 'tweetlake run --trigger continuous',
      classifier: async () => standIn,
    });
    const running = first.run();
    try {
      await expect.poll(async () => (await first.state.streams()).length, { timeout: 20_000 }).toBe(4);
      const other = await DuckSession.create({ threads: 1 });
      try {
        const second = new Pipeline({ ...l, session: other, classifier: async () => standIn });
        const err = await rejection(second.run());
        expect(err).toBeInstanceOf(LeaseHeld);
        expect(err.message).toMatch(
          new RegExp(`pid ${process.pid} on .+ since .+\\(tweetlake run --trigger continuous\\)`),
        );
        expect(await rejection(second.clear())).toBeInstanceOf(LeaseHeld);
      } finally {
        other.close();
      }
    } finally {
      await first.stop();
      await running;
    }
    // Released at the end: the next run goes ahead.
    expect((await pipeline(l).run()).tables.bronze.rows).toBe(30);
  }, 60_000);
});
