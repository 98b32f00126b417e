import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../../src/duck/session.js';
import { DeltaTable } from '../../../src/delta/table.js';

const CLI = nodePath.resolve('dist/cli/main.js');
const SAMPLE = nodePath.resolve('data/sample');
const TRIALS = Number(process.env.TWEETLAKE_KILL_TRIALS ?? 20);

/** Every table's rows as sorted canonical lines, without the columns that record wall-clock time. */
async function tableContents(session: DuckSession, root: string): Promise<Record<string, string[]>> {
  const select: Record<string, string> = {
    bronze: `date, "user", text, sentiment, _rescued_data, source_file`,
    silver: `CAST("timestamp" AS VARCHAR) AS ts, mention, cleaned_text, sentiment`,
    gold: `CAST("timestamp" AS VARCHAR) AS ts, mention, cleaned_text, sentiment, predicted_score, predicted_sentiment, sentiment_id, predicted_sentiment_id`,
    application: `mention, CAST(min_timestamp AS VARCHAR) AS lo, CAST(max_timestamp AS VARCHAR) AS hi, negative, neutral, positive, total`,
    quarantine: `source_file, line_number, raw_text, error`,
  };
  const out: Record<string, string[]> = {};
  for (const [name, cols] of Object.entries(select)) {
    const t = await DeltaTable.forPath(nodePath.join(root, name), session);
    if (!(await t.exists())) {
      out[name] = [];
      continue;
    }
    const plan = await t.scan();
    const rows = await session.all(`SELECT to_json(q) AS j FROM (SELECT ${cols} FROM (${plan.sql})) q`);
    await plan.dispose();
    out[name] = rows.map((r) => String(r.j)).sort();
  }
  return out;
}

function runArgs(root: string, source: string): string[] {
  return [CLI, 'run', '--root', root, '--source', source, '--max-files-per-trigger', '1'];
}

function runToEnd(root: string, source: string): void {
  const r = spawnSync(process.execPath, runArgs(root, source), {
    encoding: 'utf8',
    env: { ...process.env, MLFLOW_TRACKING_URI: '' },
  });
  if (r.status !== 0) throw new Error(`tweetlake run failed (${r.status}): ${r.stderr}\n${r.stdout}`);
}

/** Starts `tweetlake run` and SIGKILLs it after `ms` (if still running). */
function runAndKill(root: string, source: string, ms: number): Promise<'killed' | 'finished'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, runArgs(root, source), {
      stdio: 'ignore',
      env: { ...process.env, MLFLOW_TRACKING_URI: '' },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0) resolve('finished');
      else reject(new Error(`run exited with ${code}`));
    });
  });
}

describe('exactly once: tweetlake run killed with SIGKILL at random moments, then restarted', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kill-'));
  const source = nodePath.join(dir, 'source');
  let session: DuckSession;
  let reference: Record<string, string[]>;
  let cleanMs = 0;

  beforeAll(async () => {
    mkdirSync(source);
    // The first sample file (488 tweets) cut into 4 files, read one per batch: 4 batches in every stage,
    // and little enough text that each of the many runs below stays short.
    const lines = readFileSync(nodePath.join(SAMPLE, readdirSync(SAMPLE).sort()[0]!), 'utf8')
      .trim()
      .split('\n');
    for (let k = 0; k < 4; k++) {
      writeFileSync(
        nodePath.join(source, `part-${k}.json`),
        lines.slice(k * 122, (k + 1) * 122).join('\n') + '\n',
      );
    }
    session = await DuckSession.create();
    const t0 = performance.now();
    runToEnd(nodePath.join(dir, 'clean'), source);
    cleanMs = performance.now() - t0;
    reference = await tableContents(session, nodePath.join(dir, 'clean'));
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

  it(`${TRIALS} kills spread over the run (bronze, silver, gold, application) lose and duplicate nothing`, async () => {
    let killed = 0;
    let span = cleanMs;
    // A run that ends before its kill lands is not counted: aim earlier and try again, until TRIALS kills.
    for (let i = 0; killed < TRIALS && i < TRIALS * 2; i++) {
      const root = nodePath.join(dir, `trial-${i}`);
      // Spread the kill moments across the whole run, with jitter, so every stage is hit.
      const ms = Math.max(50, Math.round(((killed + Math.random()) / TRIALS) * span));
      if ((await runAndKill(root, source, ms)) === 'killed') killed++;
      else span *= 0.9;
      if (i % 4 === 3) await runAndKill(root, source, Math.round(Math.random() * span)); // a second kill during recovery
      runToEnd(root, source);
      const got = await tableContents(session, root);
      for (const table of Object.keys(reference)) {
        expect(got[table], `trial ${i} (killed after ${ms} ms): table ${table}`).toEqual(reference[table]);
      }
      rmSync(root, { recursive: true, force: true });
    }
    expect(killed).toBe(TRIALS);
  }, 1_800_000);
});
