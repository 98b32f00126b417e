/**
 * Kill-and-restart harness for `tweetlake run`: the real CLI (dist/cli/main.js, built by `npm run build`)
 * in a child process with the bundled model, SIGKILLed at a chosen moment or stage and run again on the
 * same lakehouse; the tables' contents as canonical, order-free lines to compare with a clean run.
 */
import { execFile, spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { DeltaTable } from '../../src/delta/table.js';
import { joinLocation } from '../../src/storage/locations.js';
import type { DuckSession } from '../../src/duck/session.js';

/** Longest a single run may take before the harness calls it hung. */
const HUNG_MS = 600_000;

/** The built CLI. */
export const CLI = nodePath.resolve(import.meta.dirname, '../../dist/cli/main.js');

/** What a run was doing, from its progress lines: before any stream, in a stream, or after them all. */
export type RunStage = 'startup' | 'bronze' | 'silver' | 'gold' | 'application' | 'evaluate';

/** The streams' stages in the order a sequential run goes through them. */
export const STREAM_STAGES = ['bronze', 'silver', 'gold', 'application'] as const;

/** Where to SIGKILL a run: a fixed time after the start, or a delay after a progress line of a stage. */
export type KillPlan =
  | { afterMs: number }
  /** After `<stage>_stream: started` (no batch) or after its batch `batch` was reported, plus `delayMs`. */
  | { stage: (typeof STREAM_STAGES)[number]; batch?: number; delayMs: number };

/** How a run given a kill plan ended: killed (and in which stage), or finished before the kill. */
export interface KillOutcome {
  outcome: 'killed' | 'finished';
  /** The stage the run was in when the signal was sent (or, when finished, the last one seen). */
  stage: RunStage;
  elapsedMs: number;
}

/** Columns that record wall-clock time or the run's own identity: never equal between two runs. */
const WALL_CLOCK: Record<string, string[]> = {
  bronze: ['processing_time'],
  quarantine: ['quarantined_at'],
};

/** The columns that hold the model's output (and what is computed from it). */
const PREDICTED: Record<string, string[]> = {
  gold: ['predicted_score', 'predicted_sentiment', 'predicted_sentiment_id'],
  application: ['negative', 'neutral', 'positive'],
};

/** The tables a run writes, all compared. */
export const TABLES = ['bronze', 'silver', 'gold', 'application', 'quarantine'] as const;

/**
 * Every table's rows as sorted canonical JSON lines: all columns but the wall-clock ones (so a column
 * another change adds is compared too). With `predictions`, the model's columns are compared as well
 * (the score exactly, or rounded to `scoreDigits` decimals); without, they are left out.
 */
export async function tableContents(
  session: DuckSession,
  root: string,
  options: { predictions: boolean; scoreDigits?: number },
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of TABLES) {
    const t = await DeltaTable.forPath(joinLocation(root, name), session);
    if (!(await t.exists())) {
      out[name] = [];
      continue;
    }
    const snapshot = await t.snapshot();
    const skip = new Set([
      ...(WALL_CLOCK[name] ?? []),
      ...(options.predictions ? [] : (PREDICTED[name] ?? [])),
    ]);
    const cols = snapshot.schema.fields
      .map((f) => f.name)
      .filter((c) => !skip.has(c))
      .map((c) => {
        const q = `"${c.replaceAll('"', '""')}"`;
        return c === 'predicted_score' && options.scoreDigits !== undefined
          ? `round(${q}, ${options.scoreDigits}) AS ${q}`
          : q;
      });
    const plan = await t.scan(snapshot);
    try {
      const rows = await session.all(
        `SELECT to_json(q) AS j FROM (SELECT ${cols.join(', ')} FROM (${plan.sql})) q`,
      );
      out[name] = rows.map((r) => String(r.j)).sort();
    } finally {
      await plan.dispose();
    }
  }
  return out;
}

/** The arguments of `tweetlake run` on `source` into `root`, one source file per micro-batch. */
export function runArgs(root: string, source: string, extra: string[] = []): string[] {
  return [CLI, 'run', '--root', root, '--source', source, '--max-files-per-trigger', '1', ...extra];
}

/** The environment of every run: the local MLflow store, no network for models. */
function runEnv(): NodeJS.ProcessEnv {
  return { ...process.env, MLFLOW_TRACKING_URI: '', HF_HUB_OFFLINE: '1' };
}

/** Runs the CLI with `args` to its end (the runs' environment, plus `env`): its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: 300_000, env: { ...runEnv(), ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, out: String(stdout), err: String(stderr) });
      },
    );
  });
}

/** Runs `tweetlake run` (with `extra` flags) to its end; resolves with its output, rejects when it fails. */
export function runToEnd(
  root: string,
  source: string,
  timeoutMs = HUNG_MS,
  extra: string[] = [],
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, runArgs(root, source, extra), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: runEnv(),
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (code === 0) resolve(out);
      else reject(new Error(`tweetlake run failed (code ${code}, signal ${signal}):\n${out}`));
    });
  });
}

/** The median duration of a batch of each stream stage, from the progress lines of a run's output. */
export function batchMillis(output: string): Record<(typeof STREAM_STAGES)[number], number> {
  const out = {} as Record<(typeof STREAM_STAGES)[number], number>;
  for (const stage of STREAM_STAGES) {
    const ms = [...output.matchAll(new RegExp(`^${stage}_stream: batch \\d+ .*?, (\\d+) ms`, 'gm'))]
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    if (!ms.length) throw new Error(`no ${stage}_stream batch in the run's output:\n${output}`);
    out[stage] = ms[Math.floor(ms.length / 2)]!;
  }
  return out;
}

/** The stage a progress line starts, if it starts one. */
function stageOf(line: string): RunStage | undefined {
  const m = /^(bronze|silver|gold|application)_stream: started/.exec(line);
  if (m) return m[1] as RunStage;
  // the summary table: every stream has ended
  if (/^table\s+version\s+rows/.test(line)) return 'evaluate';
  return undefined;
}

/** Whether a progress line is the moment a plan aims at. */
function isAimedLine(plan: KillPlan, line: string): boolean {
  if ('afterMs' in plan) return false;
  const stream = `${plan.stage}_stream: `;
  return plan.batch === undefined
    ? line.startsWith(`${stream}started`)
    : line.startsWith(`${stream}batch ${plan.batch} `);
}

/** Starts `tweetlake run` (with `extra` flags) and SIGKILLs it as `plan` says (if it is still running then). */
export function runAndKill(
  root: string,
  source: string,
  plan: KillPlan,
  extra: string[] = [],
): Promise<KillOutcome> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, runArgs(root, source, extra), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: runEnv(),
    });
    let stage: RunStage = 'startup';
    let killedIn: RunStage | undefined;
    let pending = '';
    let err = '';
    let aimed = false;
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null || killedIn) return;
      killedIn = stage;
      child.kill('SIGKILL');
    };
    let hung = false;
    const timers = [
      'afterMs' in plan
        ? setTimeout(kill, plan.afterMs)
        : // a run that neither reaches its aimed line nor ends is a failure, not a kill
          setTimeout(() => ((hung = true), child.kill('SIGKILL')), HUNG_MS),
    ];
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        stage = stageOf(line) ?? stage;
        if (!aimed && isAimedLine(plan, line)) {
          aimed = true;
          timers.push(setTimeout(kill, 'delayMs' in plan ? plan.delayMs : 0));
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      const elapsedMs = performance.now() - t0;
      if (hung) reject(new Error(`tweetlake run did not end within ${HUNG_MS} ms: ${err}`));
      else if (signal === 'SIGKILL' && killedIn) resolve({ outcome: 'killed', stage: killedIn, elapsedMs });
      else if (code === 0) resolve({ outcome: 'finished', stage, elapsedMs });
      else reject(new Error(`tweetlake run exited with ${code} (signal ${signal}) before its kill: ${err}`));
    });
  });
}
