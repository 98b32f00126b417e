/**
 * Soak: 50 SIGKILLs of `tweetlake run` (the real CLI, the bundled model) across every stage — bronze,
 * silver, gold, application, and while a restart recovers — on a generated source with bad records.
 * Each lakehouse is killed several times in a row, restarted after every kill, then run to its end:
 * every table must then equal a clean run of the same source (nothing lost, nothing twice).
 * `TWEETLAKE_SOAK_KILLS` changes the number of kills.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../src/duck/session.js';
import {
  CLI,
  STREAM_STAGES,
  batchMillis,
  runAndKill,
  runToEnd,
  tableContents,
  type KillPlan,
  type RunStage,
} from '../helpers/kill-restart.js';

const KILLS = Number(process.env.TWEETLAKE_SOAK_KILLS ?? 50);
const FILES = 6;
/** Kills of one lakehouse before it is run to its end: one per stream stage, one during a recovery. */
const KILLS_PER_LAKEHOUSE = STREAM_STAGES.length + 1;
/**
 * Compare the model's columns too, the score exactly (gold's prediction, application's counts): the
 * bundled model gives bit-identical predictions in every run. The one switch: false compares the rest.
 */
const COMPARE_PREDICTIONS = true;
const CONTENTS = { predictions: COMPARE_PREDICTIONS };
const random = (n: number) => Math.floor(Math.random() * n);

/**
 * The plans of one lakehouse: a kill in each stream stage, in order, and one early in a random restart.
 * A stage's kill comes after its start or one of its batches but the last, within about one batch.
 */
function lakehousePlans(batchMs: Record<(typeof STREAM_STAGES)[number], number>): KillPlan[] {
  const plans: KillPlan[] = STREAM_STAGES.map((stage) => {
    const batch = random(FILES) - 1; // -1: at the stream's start
    return { stage, batch: batch < 0 ? undefined : batch, delayMs: random(batchMs[stage] + 1) };
  });
  plans.splice(random(plans.length + 1), 0, { afterMs: 100 + random(1500) });
  return plans;
}

describe(`soak: ${KILLS} SIGKILLs of tweetlake run across all stages, each followed by a restart`, () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-soak-kill-'));
  const source = nodePath.join(dir, 'source');
  let session: DuckSession;
  let reference: Record<string, string[]>;
  let batchMs: ReturnType<typeof batchMillis>;

  beforeAll(async () => {
    execFileSync(process.execPath, [
      CLI,
      'generate',
      '--tweets',
      '600',
      '--files',
      String(FILES - 1),
      '--seed',
      '7',
      '--out',
      source,
    ]);
    // one file of records that are not tweets: quarantined, rescued, kept as they are
    writeFileSync(
      nodePath.join(source, 'tweets-000003-odd.json'),
      [
        '{"date":"Mon Feb 16 10:00:00 PST 2015","user":"odd","text":"@United fine, thanks","sentiment":"positive"}',
        'not json at all',
        '[1, 2, 3]',
        '{"date":"Mon Feb 16 11:00:00 PST 2015","user":"odd","text":"@delta @united late again","sentiment":"negative","extra":42}',
        '{"date": "truncated',
        '',
      ].join('\n'),
    );
    session = await DuckSession.create();
    batchMs = batchMillis(await runToEnd(nodePath.join(dir, 'clean'), source));
    reference = await tableContents(session, nodePath.join(dir, 'clean'), CONTENTS);
  }, 600_000);

  afterAll(() => {
    session?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the clean run filled every table, quarantine included', () => {
    expect(reference.bronze!.length).toBe(602);
    expect(reference.quarantine!.length).toBeGreaterThanOrEqual(2);
    expect(reference.silver!.length).toBeGreaterThanOrEqual(reference.bronze!.length);
    expect(reference.gold!.length).toBe(reference.silver!.length);
    expect(reference.application!.length).toBeGreaterThan(0);
  });

  it('every table equals the clean run after every series of kills', { timeout: 3_600_000 }, async () => {
    const hits = new Map<RunStage, number>();
    let killed = 0;
    // a run that ends before its kill lands is not counted: more lakehouses until KILLS kills
    for (let l = 0; killed < KILLS && l < (2 * KILLS) / KILLS_PER_LAKEHOUSE + 2; l++) {
      const root = nodePath.join(dir, `lakehouse-${l}`);
      const log: string[] = [];
      for (const plan of lakehousePlans(batchMs).slice(0, KILLS - killed)) {
        const r = await runAndKill(root, source, plan);
        log.push(`${JSON.stringify(plan)} -> ${r.outcome} in ${r.stage}`);
        // the run got to its end before the kill: this lakehouse is done
        if (r.outcome !== 'killed') break;
        killed++;
        hits.set(r.stage, (hits.get(r.stage) ?? 0) + 1);
      }
      await runToEnd(root, source);
      const got = await tableContents(session, root, CONTENTS);
      for (const table of Object.keys(reference))
        expect(got[table], `lakehouse ${l}, table ${table}, after:\n${log.join('\n')}`).toEqual(
          reference[table],
        );
      rmSync(root, { recursive: true, force: true });
    }
    expect(killed).toBe(KILLS);
    // every stream stage took its share of the kills
    const perStage = Object.fromEntries(STREAM_STAGES.map((s) => [s, hits.get(s) ?? 0]));
    for (const stage of STREAM_STAGES)
      expect(perStage[stage], JSON.stringify(Object.fromEntries(hits))).toBeGreaterThanOrEqual(
        Math.floor(KILLS / (2 * KILLS_PER_LAKEHOUSE)),
      );
    console.log(`kills by stage: ${JSON.stringify(Object.fromEntries(hits))}`);
  });
});
