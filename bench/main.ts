/**
 * `npm run bench`: tweetlake vs PySpark + delta-spark (and, opt-in, the DuckDB (Python) + delta-rs and
 * Polars + delta-rs batch scripts) on the same generated sources, same stages, same machine
 * (docs/BENCHMARKS.md). Prints per stage and end to end: wall time, tweets/s, peak memory of
 * all the processes of each system, files written, and the ratio tweetlake / Spark; cold (fresh
 * process: node start, or JVM + SparkSession start, reported apart) and warm (same process, again).
 *
 *   npm run bench -- [--sizes 10k,100k,1M] [--model-sizes 10k] [--runs 3] [--systems tweetlake,spark,duckdb,polars]
 *                    [--inference] [--json out.json] [--smoke] [--warm 1] [--gold-modes rows,distinct]
 *                    [--tweets-per-file 10000] [--max-files-per-trigger 10] [--seed 42] [--python PY]
 *                    [--max-load 1.5] [--work bench/.work] [--no-check] [--tweetlake-dist DIR]
 *                    [--duckdb-memory-limit 1GB] [--orchestration sequential|concurrent]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ZONE_OFFSETS } from '../dist/pipeline/silver.js';
import { bundledModelDir } from '../dist/model/bundled.js';
import { readMlflowModel } from '../dist/model/mlmodel.js';
import { loadAverage, runChild, waitForQuiet, type ChildEvent, type ChildRun } from './lib/proc.js';
import { fmt, renderTable, type Cell } from './lib/table.js';
import type { StageFigures } from './tweetlake/medallion.js';

const REPO = nodePath.resolve(nodePath.dirname(fileURLToPath(import.meta.url)), '..');
const STAGES = ['bronze', 'silver', 'gold', 'application'] as const;
type Stage = (typeof STAGES)[number];
const SYSTEMS = ['tweetlake', 'spark', 'duckdb', 'polars'] as const;
type System = (typeof SYSTEMS)[number];
/** The Python + delta-rs batch scripts (bench/<system>/medallion.py, model-free only). */
const PEERS: readonly System[] = ['duckdb', 'polars'];
const SYSTEM_NAMES: Record<System, string> = {
  tweetlake: 'tweetlake',
  spark: 'PySpark + delta-spark',
  duckdb: 'DuckDB (Python) + delta-rs',
  polars: 'Polars + delta-rs',
};

// ---------------------------------------------------------------------------------------------- flags

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const has = (name: string) => process.argv.includes(`--${name}`);

/** '10k' -> 10000, '1M' -> 1000000. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new Error(`not a size: '${s}' (use e.g. 10k, 100k, 1M)`);
  return Math.round(
    Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1),
  );
}
const sizeList = (s: string | undefined, fallback: string) =>
  (s ?? fallback)
    .split(',')
    .filter((x) => x.trim() !== '')
    .map(parseSize);
function label(n: number): string {
  return n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);
}

const smoke = has('smoke');
const opts = {
  sizes: sizeList(argValue('sizes'), smoke ? '1k' : '10k,100k,1M'),
  modelSizes: sizeList(argValue('model-sizes'), smoke ? '' : '10k'),
  runs: Number(argValue('runs') ?? (smoke ? 1 : 3)),
  warm: Number(argValue('warm') ?? (smoke ? 0 : 1)),
  systems: (argValue('systems') ?? 'tweetlake,spark').split(',').filter(Boolean) as System[],
  goldModes: (argValue('gold-modes') ?? 'rows,distinct').split(',').filter(Boolean) as (
    'rows' | 'distinct'
  )[],
  inference: has('inference'),
  inferenceTexts: Number(argValue('inference-texts') ?? 2000),
  json: argValue('json'),
  tweetsPerFile: Number(argValue('tweets-per-file') ?? (smoke ? 500 : 10_000)),
  minFiles: Number(argValue('min-files') ?? (smoke ? 2 : 10)),
  maxFilesPerTrigger: Number(argValue('max-files-per-trigger') ?? 10),
  batchSize: Number(argValue('batch-size') ?? 32),
  seed: Number(argValue('seed') ?? 42),
  maxLoad: Number(argValue('max-load') ?? 1.5),
  maxLoadWaitMs: Number(argValue('max-load-wait') ?? (smoke ? 0 : 300)) * 1000,
  work: nodePath.resolve(argValue('work') ?? nodePath.join(REPO, 'bench', '.work')),
  check: !has('no-check'),
  python: argValue('python'),
  /** Another build of tweetlake to measure (e.g. a scratch copy with a proposed change). */
  tweetlakeDist: nodePath.resolve(argValue('tweetlake-dist') ?? nodePath.join(REPO, 'dist')),
};
for (const s of opts.systems)
  if (!SYSTEMS.includes(s)) throw new Error(`unknown system '${s}' (${SYSTEMS.join(', ')})`);

const log = (s: string) => process.stderr.write(`${s}\n`);

// -------------------------------------------------------------------------------------- environment

function pythonBin(): string {
  const candidates = [
    opts.python,
    process.env.TWEETLAKE_BENCH_PYTHON,
    nodePath.join(REPO, '.venv-bench/bin/python'),
    process.env.TWEETLAKE_PYTHON,
  ];
  const found = candidates.find((p): p is string => !!p && existsSync(p));
  if (!found)
    throw new Error(
      'no Python with pyspark + delta-spark (and duckdb, polars, deltalake for those systems): create .venv-bench (see bench/requirements.txt) or pass --python',
    );
  return found;
}

function machine(): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  let java = 'unknown';
  try {
    java = execFileSync('bash', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim();
  } catch {
    // no java on the PATH: Spark will say so
  }
  return {
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    cpu: model,
    node: process.version,
    java,
  };
}

/** Whether the Spark Python can run the model (onnxruntime + tokenizers). */
function pythonHasOnnx(): boolean {
  try {
    execFileSync(pythonBin(), ['-c', 'import onnxruntime, tokenizers'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Generates (once; cached by size, files and seed) a source folder with `tweetlake generate`. */
function source(tweets: number): { dir: string; files: number } {
  const files = Math.max(opts.minFiles, Math.ceil(tweets / opts.tweetsPerFile));
  const dir = nodePath.join(opts.work, 'sources', `${label(tweets)}-${files}f-seed${opts.seed}`);
  const stamp = `${dir}.complete`;
  if (!existsSync(stamp)) {
    rmSync(dir, { recursive: true, force: true });
    const t0 = performance.now();
    execFileSync(
      process.execPath,
      [
        nodePath.join(REPO, 'dist/cli/main.js'),
        'generate',
        '--tweets',
        String(tweets),
        '--files',
        String(files),
        '--seed',
        String(opts.seed),
        '--out',
        dir,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    writeFileSync(stamp, new Date().toISOString());
    log(
      `  generated ${label(tweets)} tweets in ${files} files (${((performance.now() - t0) / 1000).toFixed(1)} s): ${dir}`,
    );
  }
  return { dir, files };
}

/** Transpiles the tweetlake driver to plain JS (run with plain node, no TypeScript loader in the measurement). */
function tweetlakeDriver(): string {
  const outDir = nodePath.join(opts.work, 'js');
  mkdirSync(outDir, { recursive: true });
  const dist = `${opts.tweetlakeDist}/`;
  for (const f of ['medallion.ts', 'fixture-labeller.ts']) {
    const src = readFileSync(nodePath.join(REPO, 'bench/tweetlake', f), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(
      nodePath.join(outDir, f.replace(/\.ts$/, '.js')),
      js.replaceAll(`'../../dist/`, `'${dist}`),
    );
  }
  return nodePath.join(outDir, 'medallion.js');
}

// ------------------------------------------------------------------------------------------ measure

/** One measured child run, digested. */
interface RunResult {
  system: System;
  tweets: number;
  run: number;
  model: boolean;
  goldMode?: string;
  load: number;
  wallMs: number;
  /** Spawn until the child reported ready (node + DuckDB, or Python + JVM + SparkSession). */
  startupMs: number;
  peakRssMB: number;
  maxProcesses: number;
  versions: Record<string, string>;
  iterations: {
    iter: number;
    kind: 'cold' | 'warm';
    ms: number;
    /** cold: spawn -> end of the iteration (what a user waits for); warm: the iteration alone. */
    endToEndMs: number;
    peakRssMB: number;
    stages: Record<Stage, StageFigures & { peakRssMB: number }>;
  }[];
  check?: Record<string, Record<string, unknown>>;
}

const MB = 2 ** 20;

function digest(
  system: System,
  tweets: number,
  run: number,
  model: boolean,
  load: number,
  child: ChildRun,
  goldMode?: string,
): RunResult {
  const failed = child.exitCode !== 0 || !child.events.some((e) => e.ev === 'done');
  if (failed)
    throw new Error(`${system} run failed (exit ${child.exitCode}):\n${child.stderrTail.slice(-6000)}`);
  const ready = child.events.find((e) => e.ev === 'ready')!;
  const ends = child.events.filter(
    (e): e is ChildEvent & { iter: number; ms: number; stages: RunResult['iterations'][0]['stages'] } =>
      e.ev === 'iter-end',
  );
  return {
    system,
    tweets,
    run,
    model,
    ...(goldMode ? { goldMode } : {}),
    load,
    wallMs: child.wallMs,
    startupMs: ready.at,
    peakRssMB: child.peakRss / MB,
    maxProcesses: child.maxProcesses,
    versions: (ready.versions as Record<string, string>) ?? {},
    iterations: ends.map((e) => {
      const stages = {} as RunResult['iterations'][0]['stages'];
      for (const s of STAGES)
        stages[s] = { ...e.stages[s], peakRssMB: (child.phasePeakRss[`iter-${e.iter}/${s}`] ?? 0) / MB };
      return {
        iter: e.iter,
        kind: e.iter === 0 ? 'cold' : 'warm',
        ms: e.ms,
        endToEndMs: e.iter === 0 ? e.at : e.ms,
        // the cold iteration's peak includes start-up (a user's process holds both)
        peakRssMB:
          Math.max(
            child.phasePeakRss[`iter-${e.iter}`] ?? 0,
            e.iter === 0 ? (child.phasePeakRss.startup ?? 0) : 0,
          ) / MB,
        stages,
      };
    }),
    ...(child.events.find((e) => e.ev === 'check')
      ? {
          check: child.events.find((e) => e.ev === 'check')!.tables as Record<
            string,
            Record<string, unknown>
          >,
        }
      : {}),
  };
}

async function measure(
  system: System,
  tweets: number,
  run: number,
  extra: { model?: boolean; goldMode?: 'rows' | 'distinct' } = {},
): Promise<RunResult> {
  const src = source(tweets);
  const load = await waitForQuiet(opts.maxLoad, opts.maxLoadWaitMs, log);
  const work = nodePath.join(
    opts.work,
    'runs',
    `${system}-${label(tweets)}${extra.model ? `-model-${extra.goldMode ?? ''}` : ''}`,
  );
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const iterations = String(1 + opts.warm);
  const check = opts.check && run === 1 ? ['--check'] : [];
  const common = [
    '--source',
    src.dir,
    '--work',
    work,
    '--max-files-per-trigger',
    String(opts.maxFilesPerTrigger),
    '--iterations',
    iterations,
    '--batch-size',
    String(opts.batchSize),
    ...check,
  ];
  const hf = extra.model ? readMlflowModel(bundledModelDir()) : undefined;
  let child: ChildRun;
  const tag = `${system} ${label(tweets)}${extra.model ? ` model${extra.goldMode ? ` (${extra.goldMode})` : ''}` : ''} run ${run}/${opts.runs}`;
  log(`  ${tag}: load ${load.toFixed(2)}`);
  if (system === 'tweetlake') {
    const limit = argValue('duckdb-memory-limit');
    const orchestration = argValue('orchestration');
    child = await runChild(
      process.execPath,
      [
        tweetlakeDriver(),
        ...common,
        ...(extra.model ? ['--model'] : []),
        ...(limit ? ['--duckdb-memory-limit', limit] : []),
        ...(orchestration ? ['--orchestration', orchestration] : []),
      ],
      { cwd: work },
    );
  } else if (PEERS.includes(system)) {
    child = await runChild(
      pythonBin(),
      [
        nodePath.join(REPO, `bench/${system}/medallion.py`),
        ...common,
        '--zones',
        JSON.stringify(ZONE_OFFSETS),
      ],
      { cwd: work, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
    );
  } else {
    const zones = JSON.stringify(ZONE_OFFSETS);
    const model = hf
      ? ['--model', hf.hfDir, '--gold-mode', extra.goldMode ?? 'rows', '--max-length', String(hf.maxLength)]
      : [];
    child = await runChild(
      pythonBin(),
      [nodePath.join(REPO, 'bench/spark/medallion.py'), ...common, '--zones', zones, ...model],
      {
        cwd: work,
        env: { ...process.env, PYSPARK_PYTHON: pythonBin(), PYTHONUNBUFFERED: '1' },
      },
    );
  }
  const r = digest(system, tweets, run, !!extra.model, load, child, extra.goldMode);
  rmSync(work, { recursive: true, force: true });
  const it = r.iterations;
  log(
    `  ${tag}: start ${(r.startupMs / 1000).toFixed(1)} s, ` +
      it.map((i) => `${i.kind} ${(i.ms / 1000).toFixed(2)} s`).join(', ') +
      `, peak ${Math.round(r.peakRssMB)} MB, load after ${loadAverage().toFixed(2)}`,
  );
  return r;
}

// ---------------------------------------------------------------------------------------- summarise

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  what: string;
  ms: number;
  tweetsPerSecond: number;
  peakMB: number;
  files: number | null;
}

/** Medians over runs, per row of the table: startup, each stage, end to end; cold and warm. */
function summarise(results: RunResult[], kind: 'cold' | 'warm', goldName: string): Row[] {
  const its = results.flatMap((r) => r.iterations.filter((i) => i.kind === kind).map((i) => ({ r, i })));
  if (its.length === 0) return [];
  const tweets = results[0]!.tweets;
  const rows: Row[] = [];
  if (kind === 'cold') {
    rows.push({
      what: 'startup (process -> ready)',
      ms: median(results.map((r) => r.startupMs)),
      tweetsPerSecond: NaN,
      peakMB: NaN,
      files: null,
    });
  }
  for (const s of STAGES) {
    const ms = median(its.map(({ i }) => i.stages[s].ms));
    rows.push({
      what: s === 'gold' ? `gold (${goldName})` : s,
      ms,
      tweetsPerSecond: (tweets * 1000) / ms,
      peakMB: median(its.map(({ i }) => i.stages[s].peakRssMB)),
      files: median(its.map(({ i }) => i.stages[s].files)),
    });
  }
  const e2e = median(its.map(({ i }) => i.endToEndMs));
  rows.push({
    what: kind === 'cold' ? 'end to end (incl. startup)' : 'end to end',
    ms: e2e,
    tweetsPerSecond: (tweets * 1000) / e2e,
    peakMB: median(its.map(({ i }) => i.peakRssMB)),
    files: median(its.map(({ i }) => STAGES.reduce((n, s) => n + i.stages[s].files, 0))),
  });
  if (kind === 'cold') {
    const noStart = median(its.map(({ i }) => i.ms));
    rows.push({
      what: 'end to end (excl. startup)',
      ms: noStart,
      tweetsPerSecond: (tweets * 1000) / noStart,
      peakMB: NaN,
      files: null,
    });
  }
  return rows;
}

function comparisonTable(bySystem: Partial<Record<System, RunResult[]>>, goldName: string): string {
  const systems = opts.systems.filter((s) => bySystem[s]?.length);
  const header = ['stage', 'run'];
  for (const s of systems) header.push(`${s} s`, `${s} tweets/s`, `${s} peak MB`, `${s} files`);
  // tweetlake against each other system: its time / tweetlake's (above 1: tweetlake faster), memory tl / it
  const others = systems.includes('tweetlake') ? systems.filter((s) => s !== 'tweetlake') : [];
  for (const s of others) header.push(`speed tl/${s}`, `memory tl/${s}`);
  const out: (Cell[] | null)[] = [];
  for (const kind of ['cold', 'warm'] as const) {
    const per = systems.map((s) => summarise(bySystem[s]!, kind, goldName));
    const n = Math.max(...per.map((p) => p.length));
    if (n === 0) continue;
    if (out.length) out.push(null);
    for (let k = 0; k < n; k++) {
      const row: Cell[] = [per.find((p) => p[k])![k]!.what, kind];
      for (const p of per) {
        const r = p[k];
        row.push(
          r ? fmt(r.ms / 1000, 2) : '-',
          r ? Math.round(r.tweetsPerSecond) : '-',
          r ? Math.round(r.peakMB) : '-',
          r && r.files !== null ? Math.round(r.files) : '-',
        );
      }
      const a = per[systems.indexOf('tweetlake')]?.[k];
      for (const s of others) {
        const b = per[systems.indexOf(s)]![k];
        row.push(
          a && b ? `${fmt(b.ms / a.ms, 1)}×` : '-',
          a && b && Number.isFinite(a.peakMB) && Number.isFinite(b.peakMB)
            ? `${fmt(a.peakMB / b.peakMB, 2)}×`
            : '-',
        );
      }
      out.push(row);
    }
  }
  return renderTable(header, out);
}

/** Whether tweetlake and the other system produced the same tables (figures computed by each on its own output). */
function compareChecks(
  a: RunResult['check'],
  b: RunResult['check'],
  other: System,
): { same: boolean; differences: string[] } {
  if (!a || !b) return { same: false, differences: ['(not checked)'] };
  const differences: string[] = [];
  for (const table of Object.keys(a)) {
    for (const [k, v] of Object.entries(a[table] ?? {})) {
      const w = b[table]?.[k];
      if (String(v) !== String(w))
        differences.push(`${table}.${k}: tweetlake ${String(v)} vs ${other} ${String(w)}`);
    }
  }
  return { same: differences.length === 0, differences };
}

// -------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  mkdirSync(opts.work, { recursive: true });
  const env = machine();
  log(
    `tweetlake bench: ${JSON.stringify({ ...opts, python: opts.systems.some((s) => s !== 'tweetlake') ? pythonBin() : undefined })}`,
  );
  log(`machine: ${JSON.stringify(env)}; load now ${loadAverage().toFixed(2)}`);
  const report: string[] = [];
  const json: Record<string, unknown> = {
    machine: env,
    options: opts,
    startedAt: new Date().toISOString(),
    modelFree: [],
    model: [],
  };
  const print = (s: string) => {
    report.push(s);
    process.stdout.write(`${s}\n`);
  };

  // Model-free comparison: the benchmark fixture labeller in the gold slot of both systems.
  const modelFree: RunResult[] = [];
  for (const tweets of opts.sizes) {
    log(`== ${label(tweets)} tweets, model-free (fixture labeller in gold)`);
    for (let run = 1; run <= opts.runs; run++)
      for (const s of opts.systems) modelFree.push(await measure(s, tweets, run));
  }
  json.modelFree = modelFree;
  const versions: Record<string, string> = {};
  for (const r of modelFree) Object.assign(versions, r.versions);

  print(`\nmachine: ${env.cores} cores, ${env.memoryGiB} GiB, ${env.cpu}`);
  if (opts.sizes.length) {
    print(
      `\n# ${opts.systems.map((s) => SYSTEM_NAMES[s]).join(' vs ')}: model-free stages (gold = benchmark fixture labeller)`,
    );
    print(
      `versions: ${Object.entries(versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    print(
      `speed tl/X = X's time / tweetlake's time (above 1: tweetlake faster); memory = peak RSS of all the system's processes`,
    );
  }
  const verdicts: Record<string, unknown> = {};
  for (const tweets of opts.sizes) {
    const of = (s: System) => modelFree.filter((r) => r.tweets === tweets && r.system === s);
    const loads = modelFree.filter((r) => r.tweets === tweets).map((r) => r.load);
    const src = source(tweets);
    print(
      `\n## ${label(tweets)} tweets (${src.files} files, ${opts.maxFilesPerTrigger} per trigger), median of ${opts.runs} run(s), cold + ${opts.warm} warm; load ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))}`,
    );
    print(comparisonTable(Object.fromEntries(opts.systems.map((s) => [s, of(s)])), 'fixture'));
    const others = opts.systems.filter((s) => s !== 'tweetlake');
    if (opts.systems.includes('tweetlake') && others.length && opts.check) {
      let all = true;
      for (const s of others) {
        const c = compareChecks(
          of('tweetlake').find((r) => r.check)?.check,
          of(s).find((r) => r.check)?.check,
          s,
        );
        print(
          `same tables in both systems, tweetlake and ${s} (row counts, mentions, timestamps, labels, application sums): ${c.same ? 'yes' : `NO\n  ${c.differences.join('\n  ')}`}`,
        );
        verdicts[`sameOutput${label(tweets)}:${s}`] = c.same;
        all &&= c.same;
      }
      verdicts[`sameOutput${label(tweets)}`] = all;
    }
  }

  // Scaling curve of tweetlake (model-free).
  const tl = modelFree.filter((r) => r.system === 'tweetlake');
  if (tl.length && opts.sizes.length > 1) {
    print(`\n## tweetlake scaling (model-free, end to end; medians)`);
    const rows: Cell[][] = [];
    let prev: { tweets: number; ms: number } | undefined;
    const curve: Record<string, unknown>[] = [];
    for (const tweets of opts.sizes) {
      const rs = tl.filter((r) => r.tweets === tweets);
      const warm = rs.flatMap((r) => r.iterations.filter((i) => i.kind === 'warm'));
      const cold = rs.flatMap((r) => r.iterations.filter((i) => i.kind === 'cold'));
      const ms = median((warm.length ? warm : cold).map((i) => i.ms));
      const growth = prev ? ms / prev.ms / (tweets / prev.tweets) : NaN;
      const point = {
        tweets,
        ms,
        tweetsPerSecond: (tweets * 1000) / ms,
        usPerTweet: (ms * 1000) / tweets,
        growth,
        peakColdMB: median(cold.map((i) => i.peakRssMB)),
        peakWarmMB: median(warm.map((i) => i.peakRssMB)),
      };
      curve.push(point);
      rows.push([
        label(tweets),
        fmt(ms / 1000, 2),
        Math.round(point.tweetsPerSecond),
        fmt(point.usPerTweet, 2),
        prev ? fmt(growth, 2) : '-',
        Math.round(point.peakColdMB),
        warm.length ? Math.round(point.peakWarmMB) : '-',
      ]);
      prev = { tweets, ms };
    }
    print(
      renderTable(
        [
          'tweets',
          warmOrCold(tl),
          'tweets/s',
          'µs/tweet',
          'time growth / size growth',
          'peak MB cold',
          'peak MB warm',
        ],
        rows,
      ),
    );
    const last = curve[curve.length - 1]!;
    // Below one full batch (max files per trigger x tweets per file) memory grows with the batch: compare from there.
    const fullBatch = opts.maxFilesPerTrigger * opts.tweetsPerFile;
    const first = curve.find((p) => Number(p.tweets) >= fullBatch) ?? curve[0]!;
    const linear = curve.slice(1).every((p) => Number(p.growth) <= 1.15);
    const flat = Number(last.peakColdMB) <= Number(first.peakColdMB) * 1.5;
    print(
      `linear or better (each step's time growth / size growth <= 1.15): ${linear ? 'yes' : 'no'}; memory flat (cold peak at ${label(Number(last.tweets))} <= 1.5 × cold peak at ${label(Number(first.tweets))}, the first size with full batches): ${flat ? 'yes' : 'no'}`,
    );
    json.scaling = curve;
    verdicts.linear = linear;
    verdicts.memoryFlat = flat;
  }

  // The real model's gold stage.
  const model: RunResult[] = [];
  const sparkModel = opts.systems.includes('spark') && opts.modelSizes.length > 0 && pythonHasOnnx();
  if (opts.systems.includes('spark') && opts.modelSizes.length > 0 && !sparkModel) {
    print(
      `\n(Spark's gold with the model skipped: ${pythonBin()} has no onnxruntime + tokenizers; see bench/requirements.txt)`,
    );
  }
  for (const tweets of opts.modelSizes) {
    log(`== ${label(tweets)} tweets with the model`);
    for (let run = 1; run <= opts.runs; run++) {
      if (opts.systems.includes('tweetlake'))
        model.push(await measure('tweetlake', tweets, run, { model: true }));
      if (sparkModel)
        for (const goldMode of opts.goldModes)
          model.push(await measure('spark', tweets, run, { model: true, goldMode }));
    }
  }
  json.model = model;
  for (const tweets of opts.modelSizes) {
    print(
      `\n# gold with the bundled ONNX model, ${label(tweets)} tweets (batch ${opts.batchSize}; median of ${opts.runs} run(s))`,
    );
    const rows: (Cell[] | null)[] = [];
    const variants: [string, RunResult[]][] = [
      [
        'tweetlake (pool, distinct texts)',
        model.filter((r) => r.tweets === tweets && r.system === 'tweetlake'),
      ],
      ...opts.goldModes.map((m): [string, RunResult[]] => [
        `spark pandas UDF (${m === 'rows' ? 'every row' : 'distinct texts'})`,
        model.filter((r) => r.tweets === tweets && r.system === 'spark' && r.goldMode === m),
      ]),
    ];
    const silverRows = Number(model.find((r) => r.tweets === tweets && r.check)?.check?.silver?.rows ?? NaN);
    for (const kind of ['cold', 'warm'] as const) {
      let first = true;
      for (const [name, rs] of variants) {
        const its = rs.flatMap((r) => r.iterations.filter((i) => i.kind === kind));
        if (!its.length) continue;
        if (first && rows.length) rows.push(null);
        first = false;
        const gold = median(its.map((i) => i.stages.gold.ms));
        const distinct = median(its.map((i) => i.stages.gold.metrics?.distinctTexts ?? NaN));
        const e2e = median(its.map((i) => i.endToEndMs));
        rows.push([
          name,
          kind,
          fmt(gold / 1000, 2),
          Math.round((tweets * 1000) / gold),
          Math.round((silverRows * 1000) / gold),
          Number.isFinite(distinct) ? Math.round(distinct) : '-',
          Number.isFinite(distinct) ? Math.round((distinct * 1000) / gold) : '-',
          Math.round(median(its.map((i) => i.stages.gold.peakRssMB))),
          fmt(e2e / 1000, 2),
        ]);
      }
    }
    print(
      renderTable(
        [
          'system',
          'run',
          'gold s',
          'tweets/s',
          'silver rows/s',
          'texts scored',
          'texts scored/s',
          'peak MB',
          'end to end s',
        ],
        rows,
      ),
    );
    const tlCheck = model.find((r) => r.tweets === tweets && r.system === 'tweetlake' && r.check)?.check
      ?.gold;
    for (const m of opts.goldModes) {
      const sp = model.find((r) => r.tweets === tweets && r.system === 'spark' && r.goldMode === m && r.check)
        ?.check?.gold;
      if (tlCheck && sp) {
        const agree = ['rows', 'neg', 'neu', 'pos']
          .map((k) => `${k} ${String(tlCheck[k])}/${String(sp[k])}`)
          .join(', ');
        print(`gold labels, tweetlake / spark (${m}): ${agree}`);
      }
    }
    print(
      `(cold gold includes loading the model; tweetlake scores each distinct cleaned text of a batch once)`,
    );
  }

  if (opts.inference) {
    log(`== inference: raw onnxruntime-node vs the pool vs Python onnxruntime`);
    const { inferenceBenchmark, renderInference } = await import('./inference/inference.js');
    await waitForQuiet(opts.maxLoad, opts.maxLoadWaitMs, log);
    const texts = opts.modelSizes[0] ? source(opts.modelSizes[0]).dir : undefined;
    const r = await inferenceBenchmark({
      texts: opts.inferenceTexts,
      batchSize: opts.batchSize,
      sourceDir: texts,
      python: opts.systems.includes('spark') && pythonHasOnnx() ? pythonBin() : undefined,
      log,
    });
    json.inference = r;
    print(`\n# inference, same ONNX file and texts, batch ${opts.batchSize}`);
    print(renderInference(r));
    verdicts.poolWithin10PctOfRaw = r.poolVsRaw >= 0.9;
  }

  json.verdicts = verdicts;
  json.elapsedMs = performance.now() - started;
  json.report = report.join('\n');
  if (opts.json) {
    mkdirSync(nodePath.dirname(opts.json), { recursive: true }); // a new folder for results is fine
    writeFileSync(opts.json, JSON.stringify(json, null, 2));
  }
  log(`bench done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

function warmOrCold(rs: RunResult[]): string {
  return rs.some((r) => r.iterations.some((i) => i.kind === 'warm')) ? 'warm s' : 'cold s (excl. startup)';
}

await main();
