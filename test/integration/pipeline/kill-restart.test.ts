/**
 * Exactly once under SIGKILL, the fast version (npm test): `tweetlake run` killed once in each stage
 * (bronze, silver, gold, application) at a random batch, one of them killed again while it recovers,
 * then run to its end: every table equals a clean run. The 50-kill soak is test/soak/kill-restart.test.ts.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../../src/duck/session.js';
import {
  STREAM_STAGES,
  batchMillis,
  runAndKill,
  runToEnd,
  tableContents,
  type KillOutcome,
  type KillPlan,
  type RunStage,
} from '../../helpers/kill-restart.js';

const SAMPLE = nodePath.resolve('data/sample');
const FILES = 4;
/** Compare the model's columns too, the score exactly (the one switch: false compares the rest). */
const COMPARE_PREDICTIONS = true;
const CONTENTS = { predictions: COMPARE_PREDICTIONS };

describe('exactly once: tweetlake run killed with SIGKILL in every stage, then restarted', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kill-'));
  const source = nodePath.join(dir, 'source');
  let session: DuckSession;
  let reference: Record<string, string[]>;
  let batchMs: ReturnType<typeof batchMillis>;

  beforeAll(async () => {
    mkdirSync(source);
    // The first sample file (488 tweets) cut into 4 files, read one per batch: 4 batches in every stage,
    // and little enough text that each of the runs below stays short.
    const lines = readFileSync(nodePath.join(SAMPLE, readdirSync(SAMPLE).sort()[0]!), 'utf8')
      .trim()
      .split('\n');
    for (let k = 0; k < FILES; k++) {
      writeFileSync(
        nodePath.join(source, `part-${k}.json`),
        lines.slice(k * 122, (k + 1) * 122).join('\n') + '\n',
      );
    }
    session = await DuckSession.create();
    batchMs = batchMillis(await runToEnd(nodePath.join(dir, 'clean'), source));
    reference = await tableContents(session, nodePath.join(dir, 'clean'), CONTENTS);
  }, 300_000);

  afterAll(() => {
    session?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the clean run filled every table', () => {
    expect(reference.bronze!.length).toBe(488);
    expect(reference.silver!.length).toBeGreaterThanOrEqual(reference.bronze!.length);
    expect(reference.gold!.length).toBe(reference.silver!.length);
    expect(reference.application!.length).toBeGreaterThan(0);
  });

  it('a kill in each of bronze, silver, gold and application loses and duplicates nothing', async () => {
    const recoveryKill = Math.floor(Math.random() * STREAM_STAGES.length);
    const hit: RunStage[] = [];
    for (const [i, stage] of STREAM_STAGES.entries()) {
      let root = '';
      let plan: KillPlan | undefined;
      let kill: KillOutcome | undefined;
      // after the stream's start or a batch but the last, within a batch's time: mid-stage. A run
      // faster than the aim is tried again on a fresh lakehouse, aiming at the stream's start at once.
      for (let attempt = 0; attempt < 3 && kill?.stage !== stage; attempt++) {
        root = nodePath.join(dir, `trial-${stage}-${attempt}`);
        const batch = attempt === 0 ? Math.floor(Math.random() * FILES) : 0;
        plan = {
          stage,
          batch: batch === 0 ? undefined : batch - 1,
          delayMs: attempt === 0 ? Math.round(Math.random() * batchMs[stage]) : 0,
        };
        kill = await runAndKill(root, source, plan);
      }
      expect(kill, `${stage}: ${JSON.stringify(plan)}`).toMatchObject({ outcome: 'killed', stage });
      hit.push(kill!.stage);
      // kill the restart too, while it recovers (before or just after its first stream starts)
      if (i === recoveryKill)
        await runAndKill(root, source, { afterMs: Math.round(200 + Math.random() * 800) });
      await runToEnd(root, source);
      const got = await tableContents(session, root, CONTENTS);
      for (const table of Object.keys(reference))
        expect(got[table], `killed in ${stage} (${JSON.stringify(plan)}): table ${table}`).toEqual(
          reference[table],
        );
      for (const d of readdirSync(dir))
        if (d.startsWith('trial-')) rmSync(nodePath.join(dir, d), { recursive: true, force: true });
    }
    expect(hit).toEqual([...STREAM_STAGES]);
  }, 600_000);
});
