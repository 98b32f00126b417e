import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TweetlakeError } from '../errors.js';
import {
  emptyClassifierStats,
  type Classifier,
  type ClassifierStats,
  type Prediction,
} from './classifier.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker-protocol.js';

export interface InferencePoolOptions {
  /** Hugging Face layout folder (config.json, tokenizer.json, onnx/). */
  modelDir: string;
  info: Classifier['info'];
  /** Worker threads, each with one ONNX session (default: one per core). */
  workers?: number;
  /** Intra-op threads per session (default 1). */
  threadsPerWorker?: number;
  /** Texts per model call (default 32). */
  batchSize?: number;
  dtype?: 'q8' | 'fp32';
  maxLength?: number;
  /** Attempts of a batch before the call fails (default 3). */
  maxAttempts?: number;
}

/** The model failed in a way retrying did not fix. */
export class InferenceError extends TweetlakeError {
  constructor(message: string, cause?: unknown) {
    super('INFERENCE_FAILED', message, { domain: 'internal', cause });
  }
}

/** Figures of the pool's work since it started (for the performance report). */
export interface InferenceStats extends ClassifierStats {
  workerRestarts: number;
}

interface Job {
  id: number;
  /** Token ids of the batch's texts, one after the other, and how many belong to each text. */
  ids: Int32Array;
  lengths: Int32Array;
  attempts: number;
  sentAt: number;
  resolve: (probs: Float64Array) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Job;
  ready: Promise<string[]>;
}

function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = nodePath.join(nodePath.dirname(here), 'inference-worker.js');
  if (existsSync(sibling)) return sibling;
  // Running from TypeScript sources (tests): use the compiled worker.
  const compiled = nodePath.resolve(nodePath.dirname(here), '../../dist/model/inference-worker.js');
  if (existsSync(compiled)) return compiled;
  throw new InferenceError(`inference worker not found next to ${here}; run 'npm run build'`);
}

/**
 * A Classifier over a pool of worker threads, each holding one ONNX session. The texts of a call are
 * tokenized here, sorted by token count and cut into batches, so that padding is nearly nil (the
 * bundled model gives a text the same scores whatever its batch, so batching is free to choose);
 * batches of token ids go to whichever worker is free. A worker that dies is replaced and its batch
 * retried; a batch that keeps failing fails the call.
 */
export class InferencePool implements Classifier {
  labels: readonly string[] = [];
  readonly info: Classifier['info'];
  readonly stats: InferenceStats = { ...emptyClassifierStats(), workerRestarts: 0 };
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly init: WorkerInit;
  private tokenizer!: TextTokenizer;

  private constructor(private readonly options: InferencePoolOptions) {
    this.info = options.info;
    this.init = {
      modelDir: options.modelDir,
      dtype: options.dtype ?? 'q8',
      threads: options.threadsPerWorker ?? 1,
      maxLength: options.maxLength ?? 128,
    };
  }

  /** Starts the workers and waits until every one has loaded the model. */
  static async create(options: InferencePoolOptions): Promise<InferencePool> {
    const pool = new InferencePool(options);
    try {
      pool.tokenizer = await loadTokenizer(options.modelDir, pool.init.maxLength);
    } catch (err) {
      throw new InferenceError(
        `cannot load the tokenizer in ${options.modelDir}: ${(err as Error).message}`,
        err,
      );
    }
    const n = Math.max(1, options.workers ?? availableParallelism());
    for (let i = 0; i < n; i++) pool.slots.push(pool.spawn());
    try {
      const labels = await Promise.all(pool.slots.map((s) => s.ready));
      pool.labels = labels[0]!;
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get workerCount(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const worker = new Worker(workerScript(), { workerData: this.init });
    let readyResolve!: (labels: string[]) => void;
    let readyReject!: (err: Error) => void;
    const ready = new Promise<string[]>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => undefined);
    const slot: Slot = { worker, ready };
    worker.on('message', (msg: WorkerResponse) => this.onMessage(slot, msg, readyResolve, readyReject));
    worker.on('error', (err) => this.onCrash(slot, err, readyReject));
    worker.on('exit', (code) => {
      if (!this.closed)
        this.onCrash(slot, new Error(`inference worker exited with code ${code}`), readyReject);
    });
    return slot;
  }

  private onMessage(
    slot: Slot,
    msg: WorkerResponse,
    readyResolve: (labels: string[]) => void,
    readyReject: (err: Error) => void,
  ): void {
    if (msg.type === 'ready') {
      readyResolve(msg.labels);
      this.dispatch();
      return;
    }
    if (msg.type === 'fatal') {
      readyReject(new InferenceError(msg.message));
      return;
    }
    const job = slot.busy;
    if (!job || job.id !== msg.id) return;
    slot.busy = undefined;
    if (msg.type === 'result') {
      const elapsed = performance.now() - job.sentAt;
      this.stats.computeMs += msg.computeMs;
      this.stats.transferMs += Math.max(0, elapsed - msg.computeMs);
      this.stats.bytesFromWorkers += msg.probabilities.byteLength;
      this.stats.batches++;
      this.stats.texts += job.lengths.length;
      if (this.stats.batchSizes.length < 10_000) {
        this.stats.batchSizes.push(job.lengths.length);
        this.stats.sequenceLengths.push(msg.sequenceLength);
      }
      job.resolve(msg.probabilities);
    } else {
      this.retry(job, new InferenceError(msg.message));
    }
    this.dispatch();
  }

  private onCrash(slot: Slot, err: Error, readyReject: (err: Error) => void): void {
    readyReject(new InferenceError(`inference worker failed to start: ${err.message}`, err));
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.closed) return;
    const job = slot.busy;
    slot.busy = undefined;
    void slot.worker.terminate();
    const replacement = this.spawn();
    this.slots[index] = replacement;
    this.stats.workerRestarts++;
    if (job) this.retry(job, err);
    replacement.ready.then(
      () => this.dispatch(),
      (e: Error) => this.failAll(e),
    );
  }

  private retry(job: Job, err: Error): void {
    if (job.attempts >= (this.options.maxAttempts ?? 3)) {
      job.reject(
        new InferenceError(
          `a batch of ${job.lengths.length} texts failed ${job.attempts} times: ${err.message}`,
          err,
        ),
      );
      return;
    }
    this.queue.unshift(job);
  }

  private failAll(err: Error): void {
    for (const job of this.queue.splice(0)) job.reject(err);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const job = this.queue.shift()!;
      job.attempts++;
      job.sentAt = performance.now();
      slot.busy = job;
      this.stats.bytesToWorkers += job.ids.byteLength + job.lengths.byteLength;
      slot.worker.postMessage({
        type: 'classify',
        id: job.id,
        ids: job.ids,
        lengths: job.lengths,
      } satisfies WorkerRequest);
    }
  }

  private run(encoded: number[][]): Promise<Float64Array> {
    if (this.closed) return Promise.reject(new InferenceError('the inference pool is closed'));
    const lengths = Int32Array.from(encoded, (e) => e.length);
    const ids = new Int32Array(lengths.reduce((n, l) => n + l, 0));
    let at = 0;
    for (const e of encoded) {
      ids.set(e, at);
      at += e.length;
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, ids, lengths, attempts: 0, sentAt: 0, resolve, reject });
      this.dispatch();
    });
  }

  /** Labels every text; the result is in input order. */
  async classify(texts: string[], options: { probabilities?: boolean } = {}): Promise<Prediction[]> {
    const bad = texts.findIndex((t) => typeof t !== 'string');
    if (bad >= 0)
      throw new InferenceError(
        `text ${bad} is ${texts[bad] === null ? 'null' : typeof texts[bad]}, not a string`,
      );
    if (this.closed) throw new InferenceError('the inference pool is closed');
    const encoded = this.tokenizer.encode(texts);
    const order = encoded.map((e, i) => ({ e, i })).sort((a, b) => a.e.length - b.e.length || a.i - b.i);
    const size = this.options.batchSize ?? 32;
    const batches: { idx: number[]; encoded: number[][] }[] = [];
    for (let i = 0; i < order.length; i += size) {
      const part = order.slice(i, i + size);
      batches.push({ idx: part.map((p) => p.i), encoded: part.map((p) => p.e) });
    }
    const out: Prediction[] = new Array(texts.length);
    const n = this.labels.length;
    await Promise.all(
      batches.map(async (b) => {
        const probs = await this.run(b.encoded);
        b.idx.forEach((original, k) => {
          let best = 0;
          for (let c = 1; c < n; c++) if (probs[k * n + c]! > probs[k * n + best]!) best = c;
          out[original] = {
            label: this.labels[best]!,
            score: probs[k * n + best]! * 100,
            ...(options.probabilities ? { probabilities: Array.from(probs.subarray(k * n, k * n + n)) } : {}),
          };
        });
      }),
    );
    return out;
  }

  /**
   * Fault injection: worker `index` exits (code 1) when its next batch arrives, before touching it,
   * as a crashing worker would; the pool must replace it and retry the batch. (Terminating a thread
   * from outside while ONNX Runtime is inside native code aborts the whole process, so this is the
   * way to rehearse a crash.)
   */
  injectCrash(index: number): void {
    const slot = this.slots[index];
    if (!slot) throw new InferenceError(`no worker ${index} (the pool has ${this.slots.length})`);
    slot.worker.postMessage({ type: 'crash-next' } satisfies WorkerRequest);
  }

  /** Fault injection: worker `index` answers its next `count` batches with an error (they are retried). */
  injectFailures(index: number, count: number): void {
    const slot = this.slots[index];
    if (!slot) throw new InferenceError(`no worker ${index} (the pool has ${this.slots.length})`);
    slot.worker.postMessage({ type: 'fail-next', count } satisfies WorkerRequest);
  }

  /** Lets queued and running batches finish, then stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0 || this.slots.some((s) => s.busy)) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        s.worker.postMessage({ type: 'shutdown' } satisfies WorkerRequest);
        await s.worker.terminate();
      }),
    );
  }
}
