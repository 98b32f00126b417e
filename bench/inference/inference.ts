/**
 * Inference throughput on this machine: the same ONNX file (the bundled int8 model), the same texts
 * (distinct cleaned texts, as the gold stage scores them), the same batch size, sorted by token count
 * and padded per batch, tokenizing included everywhere:
 *   raw 1x<cores>   one onnxruntime-node session with intra-op threads = cores; tokenizer of
 *                   @huggingface/transformers in the same thread
 *   raw <cores>x1   <cores> onnxruntime-node sessions of 1 thread, batches run concurrently (session.run
 *                   is asynchronous), tokenizing in the main thread
 *   pool <cores>x1  tweetlake's InferencePool as the gold stage runs it: one worker thread per core,
 *                   1 intra-op thread each (the default)
 *   pool 1x<cores>  the pool with one worker of <cores> threads
 *   python 1x<cores> Python onnxruntime + HF tokenizers (bench/inference/ort_python.py), when a Python with
 *                   them is given
 * The target (DESIGN.md): the pool within 10% of raw onnxruntime-node, i.e. pool / best raw >= 0.9.
 *
 * Usage: npx tsx bench/inference/inference.ts [--texts 2000] [--batch 32] [--reps 3] [--source DIR]
 *                                              [--python .venv-bench/bin/python] [--model DIR] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckSession } from '../../dist/duck/session.js';
import { loadRawRecords } from '../../dist/engine/raw-records.js';
import { LocalObjectStore } from '../../dist/storage/local-store.js';
import { bundledModelDir } from '../../dist/model/bundled.js';
import { InferencePool } from '../../dist/model/inference-pool.js';
import { readMlflowModel } from '../../dist/model/mlmodel.js';
import { loadTokenizer } from '../../dist/model/tokenizer.js';
import { cleanedTextSql } from '../../dist/pipeline/silver.js';
import { fmt, renderTable } from '../lib/table.js';

const HERE = nodePath.dirname(fileURLToPath(import.meta.url));

export interface InferenceVariant {
  name: string;
  sessions: number;
  threadsPerSession: number;
  /** Median over repetitions. */
  textsPerSecond: number;
  all: number[];
  /** Texts per second of the process's CPU time (user + system), median: holds up on a loaded machine. */
  textsPerCpuSecond?: number;
}

export interface InferenceBenchResult {
  texts: number;
  meanChars: number;
  batchSize: number;
  cores: number;
  onnx: string;
  variants: InferenceVariant[];
  /** 1-minute load average before and after. */
  load: [number, number];
  /** The pool as the gold stage runs it, over the best raw onnxruntime-node variant. */
  poolVsRaw: number;
  pythonVsPool?: number;
}

/** Distinct cleaned texts of a source folder (default: the bundled sample), as the gold stage sees them. */
export async function sampleTexts(
  n: number,
  dir = nodePath.resolve(HERE, '../../data/sample'),
): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.startsWith('_'))
    .sort();
  const session = await DuckSession.create();
  try {
    const raw = await loadRawRecords(session, new LocalObjectStore(dir), files);
    const rows = await session.all(
      `SELECT t FROM (SELECT DISTINCT coalesce(${cleanedTextSql(`json_extract_string(line, '$.text')`)}, '') AS t
         FROM (${raw.sql}) WHERE file_error IS NULL AND json_valid(line)) ORDER BY hash(t) LIMIT ${n}`,
    );
    await raw.dispose();
    return rows.map((r) => String(r.t));
  } finally {
    session.close();
  }
}

/** Texts per second of process CPU time since `c0`. */
function perCpuSecond(texts: number, c0: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(c0);
  return texts / ((used.user + used.system) / 1e6);
}

interface Rates {
  wall: number[];
  cpu: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Batches of texts sorted by token count, as the pool cuts them (the ordering is not timed). */
async function batchesOf(
  texts: string[],
  size: number,
  hfDir: string,
  maxLength: number,
): Promise<string[][]> {
  const tokenizer = await loadTokenizer(hfDir, maxLength);
  const counts = tokenizer.encode(texts).map((e) => e.length);
  const sorted = texts.map((t, i) => ({ t, n: counts[i]! })).sort((a, b) => a.n - b.n);
  const out: string[][] = [];
  for (let i = 0; i < sorted.length; i += size) out.push(sorted.slice(i, i + size).map((x) => x.t));
  return out;
}

/** Raw onnxruntime-node: `sessions` sessions of `threads` intra-op threads, batches run concurrently across sessions. */
async function raw(
  texts: string[],
  batchSize: number,
  hfDir: string,
  onnx: string,
  sessions: number,
  threads: number,
  maxLength: number,
  reps: number,
): Promise<Rates> {
  const ort = await import('onnxruntime-node');
  const tokenizer = await loadTokenizer(hfDir, maxLength);
  const pool = await Promise.all(
    Array.from({ length: sessions }, () =>
      ort.InferenceSession.create(onnx, { intraOpNumThreads: threads, interOpNumThreads: 1 }),
    ),
  );
  const batches = await batchesOf(texts, batchSize, hfDir, maxLength);
  const runBatch = async (session: (typeof pool)[number], batch: string[]) => {
    // tokenized and padded as the pool does it (InferencePool + inference-worker)
    const enc = tokenizer.encode(batch);
    const width = Math.max(1, ...enc.map((e) => e.length));
    const ids = new BigInt64Array(batch.length * width);
    const mask = new BigInt64Array(batch.length * width);
    enc.forEach((e, r) =>
      e.forEach((id, c) => {
        ids[r * width + c] = BigInt(id);
        mask[r * width + c] = 1n;
      }),
    );
    const data: Record<string, BigInt64Array> = {
      input_ids: ids,
      attention_mask: mask,
      token_type_ids: new BigInt64Array(batch.length * width),
    };
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const name of session.inputNames)
      feeds[name] = new ort.Tensor('int64', data[name]!, [batch.length, width]);
    await session.run(feeds);
  };
  await Promise.all(pool.map((s) => runBatch(s, batches[batches.length - 1]!))); // warm up each session
  const out: Rates = { wall: [], cpu: [] };
  for (let r = 0; r < reps; r++) {
    let next = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await Promise.all(
      pool.map(async (s) => {
        while (next < batches.length) await runBatch(s, batches[next++]!);
      }),
    );
    out.wall.push((texts.length * 1000) / (performance.now() - t0));
    out.cpu.push(perCpuSecond(texts.length, c0));
  }
  await Promise.all(pool.map((s) => s.release()));
  return out;
}

/** tweetlake's InferencePool: `workers` worker threads of `threads` intra-op threads each. */
async function pool(
  texts: string[],
  batchSize: number,
  hfDir: string,
  workers: number,
  threads: number,
  maxLength: number,
  reps: number,
): Promise<Rates> {
  const p = await InferencePool.create({
    modelDir: hfDir,
    info: { name: 'bench', uri: hfDir },
    workers,
    threadsPerWorker: threads,
    batchSize,
    maxLength,
  });
  try {
    await p.classify(texts.slice(-batchSize * workers)); // warm up every session once
    const out: Rates = { wall: [], cpu: [] };
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await p.classify(texts);
      out.wall.push((texts.length * 1000) / (performance.now() - t0));
      out.cpu.push(perCpuSecond(texts.length, c0));
    }
    return out;
  } finally {
    await p.close();
  }
}

/** Runs every variant on the same texts. */
export async function inferenceBenchmark(o: {
  texts?: number;
  batchSize?: number;
  reps?: number;
  sourceDir?: string | undefined;
  python?: string | undefined;
  /** An MLflow model folder (default: the bundled model). */
  modelDir?: string | undefined;
  log?: (s: string) => void;
}): Promise<InferenceBenchResult> {
  const log = o.log ?? (() => undefined);
  const batchSize = o.batchSize ?? 32;
  const reps = o.reps ?? 3;
  const texts = await sampleTexts(o.texts ?? 2000, o.sourceDir);
  const model = readMlflowModel(o.modelDir ?? bundledModelDir());
  const onnx = nodePath.join(
    model.hfDir,
    'onnx',
    model.dtype === 'q8' ? 'model_quantized.onnx' : 'model.onnx',
  );
  const cores = availableParallelism();
  const variants: InferenceVariant[] = [];
  const load0 = loadavg()[0]!;
  const add = (name: string, sessions: number, threads: number, r: Rates | number[]) => {
    const all = Array.isArray(r) ? r : r.wall;
    const cpu = Array.isArray(r) ? undefined : median(r.cpu);
    variants.push({
      name,
      sessions,
      threadsPerSession: threads,
      textsPerSecond: median(all),
      all,
      ...(cpu ? { textsPerCpuSecond: cpu } : {}),
    });
    log(
      `  ${name}: ${all.map((x) => Math.round(x)).join(', ')} texts/s${cpu ? `, ${Math.round(cpu)} per CPU s` : ''}`,
    );
  };
  add(
    `raw onnxruntime-node 1x${cores}`,
    1,
    cores,
    await raw(texts, batchSize, model.hfDir, onnx, 1, cores, model.maxLength, reps),
  );
  add(
    `raw onnxruntime-node ${cores}x1`,
    cores,
    1,
    await raw(texts, batchSize, model.hfDir, onnx, cores, 1, model.maxLength, reps),
  );
  add(
    `tweetlake pool ${cores}x1 (default)`,
    cores,
    1,
    await pool(texts, batchSize, model.hfDir, cores, 1, model.maxLength, reps),
  );
  add(
    `tweetlake pool 1x${cores}`,
    1,
    cores,
    await pool(texts, batchSize, model.hfDir, 1, cores, model.maxLength, reps),
  );
  if (o.python) {
    const file = nodePath.join(tmpdir(), `tweetlake-bench-texts-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(texts));
    for (const [sessions, threads] of [[1, cores]] as const) {
      const out = execFileSync(
        o.python,
        [
          nodePath.join(HERE, 'ort_python.py'),
          model.hfDir,
          file,
          String(batchSize),
          String(threads),
          String(model.maxLength),
          String(reps),
        ],
        {
          encoding: 'utf8',
        },
      );
      add(
        `python onnxruntime ${sessions}x${threads}`,
        sessions,
        threads,
        (JSON.parse(out) as { texts_per_second: number[] }).texts_per_second,
      );
    }
  }
  const bestRaw = Math.max(...variants.filter((v) => v.name.startsWith('raw')).map((v) => v.textsPerSecond));
  const poolDefault = variants.find((v) => v.name.includes('(default)'))!.textsPerSecond;
  const python = variants.find((v) => v.name.startsWith('python'));
  return {
    texts: texts.length,
    meanChars: texts.reduce((n, t) => n + t.length, 0) / texts.length,
    batchSize,
    cores,
    onnx: nodePath.relative(process.cwd(), onnx),
    variants,
    load: [load0, loadavg()[0]!],
    poolVsRaw: poolDefault / bestRaw,
    ...(python ? { pythonVsPool: python.textsPerSecond / poolDefault } : {}),
  };
}

/** The result as a text table. */
export function renderInference(r: InferenceBenchResult): string {
  const bestRaw = Math.max(
    ...r.variants.filter((v) => v.name.startsWith('raw')).map((v) => v.textsPerSecond),
  );
  const rows = r.variants.map((v) => [
    v.name,
    `${v.sessions}x${v.threadsPerSession}`,
    Math.round(v.textsPerSecond),
    v.all.map((x) => Math.round(x)).join(' / '),
    `${fmt(v.textsPerSecond / bestRaw, 2)}×`,
    v.textsPerCpuSecond ? Math.round(v.textsPerCpuSecond) : '-',
  ]);
  return (
    `${r.texts} distinct texts (mean ${fmt(r.meanChars, 1)} chars), batch ${r.batchSize}, ${r.cores} cores, ${r.onnx}; ` +
    `load ${fmt(r.load[0], 2)} -> ${fmt(r.load[1], 2)}\n` +
    renderTable(
      [
        'variant',
        'sessions x threads',
        'texts/s (median)',
        'each repetition',
        'vs best raw',
        'texts per CPU s',
      ],
      rows,
    ) +
    `pool (default) / best raw onnxruntime-node = ${fmt(r.poolVsRaw, 3)} (target >= 0.90: ${r.poolVsRaw >= 0.9 ? 'met' : 'missed'})` +
    (r.pythonVsPool !== undefined ? `; python / pool = ${fmt(r.pythonVsPool, 2)}` : '') +
    '\n'
  );
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

if (process.argv[1] && nodePath.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await inferenceBenchmark({
    texts: Number(arg('texts', '2000')),
    batchSize: Number(arg('batch', '32')),
    reps: Number(arg('reps', '3')),
    sourceDir: arg('source', '') || undefined,
    python: arg('python', process.env.TWEETLAKE_BENCH_PYTHON ?? '') || undefined,
    modelDir: arg('model', '') || undefined,
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stdout.write(renderInference(result));
  const json = arg('json', '');
  if (json) writeFileSync(json, JSON.stringify(result, null, 2));
}
