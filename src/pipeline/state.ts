import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import type { QueryProgress, QueryStatus } from '../engine/progress.js';
import { writeFileAtomic as writeAtomic } from '../storage/atomic-write.js';
import { TweetlakeError, errorMessage, isNotFound } from '../errors.js';

/** A file under `_state` that is not the JSON tweetlake writes there (written atomically, so never half). */
export class StateFileCorrupt extends TweetlakeError {
  constructor(path: string, cause: unknown) {
    super(
      'STATE_FILE_CORRUPT',
      `${path} is not valid JSON (${errorMessage(cause)}); delete it: a running pipeline writes it again`,
      { domain: 'external', cause },
    );
  }
}

/** The JSON document at `path`; undefined when the file does not exist. */
async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new StateFileCorrupt(path, err);
  }
}

/** The names in a folder; [] when the folder does not exist (any other failure is thrown). */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** One finished batch, as kept for charts and the performance report. */
export interface BatchRecord {
  batchId: number;
  timestamp: string;
  numInputRows: number;
  numOutputRows: number;
  processedRowsPerSecond: number;
  durationMs: number;
  phases: Record<string, number>;
  metrics: Record<string, number>;
}

/** Figures of the process running the pipeline (for the performance report). */
export interface ProcessState {
  pid: number;
  startedAt: string;
  updatedAt: string;
  rssHighWaterBytes: number;
  heapHighWaterBytes: number;
  duckdbMemoryLimit: string;
  duckdbSpillHighWaterBytes: number;
}

/** What a running `tweetlake run` publishes about each stream, for other processes to read. */
export interface StreamState {
  name: string;
  id: string;
  runId: string;
  pid: number;
  active: boolean;
  status: QueryStatus;
  startedAt: string;
  updatedAt: string;
  lastProgress?: QueryProgress;
  /** Input rows per batch, recent batches (for rate charts). */
  history: BatchRecord[];
  error?: string;
}

/** The `_state` folder of a lakehouse: stream states and stop requests. */
export class StateStore {
  constructor(readonly dir: string) {}

  async publish(state: StreamState): Promise<void> {
    await writeAtomic(nodePath.join(this.dir, 'streams', `${state.name}.json`), JSON.stringify(state));
  }

  async publishProcess(state: ProcessState): Promise<void> {
    await writeAtomic(nodePath.join(this.dir, 'process.json'), JSON.stringify(state));
  }

  async process(): Promise<ProcessState | undefined> {
    return readJson<ProcessState>(nodePath.join(this.dir, 'process.json'));
  }

  /** Writes any JSON document under `_state` (e.g. the latest evaluation). */
  async putDocument(name: string, value: unknown): Promise<void> {
    await writeAtomic(nodePath.join(this.dir, `${name}.json`), JSON.stringify(value));
  }

  async getDocument<T>(name: string): Promise<T | undefined> {
    return readJson<T>(nodePath.join(this.dir, `${name}.json`));
  }

  /** Every published stream state; `active` is false for streams whose process is gone. */
  async streams(): Promise<StreamState[]> {
    const names = await namesIn(nodePath.join(this.dir, 'streams'));
    const out: StreamState[] = [];
    for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
      // States are replaced by rename, so a read sees a whole one; one removed meanwhile is skipped.
      const s = await readJson<StreamState>(nodePath.join(this.dir, 'streams', n));
      if (!s) continue;
      if (s.active && !processAlive(s.pid)) s.active = false;
      out.push(s);
    }
    return out;
  }

  /** Asks running streams to stop: one by name, or all. */
  async requestStop(name?: string): Promise<void> {
    await writeAtomic(nodePath.join(this.dir, 'stop', name ?? '_all'), new Date().toISOString());
  }

  /** Stop requests waiting (names; '_all' for all); consumed when read. */
  async takeStopRequests(): Promise<string[]> {
    const dir = nodePath.join(this.dir, 'stop');
    const names = await namesIn(dir);
    const requests = names.filter((n) => !n.endsWith('.tmp'));
    for (const n of requests) await fs.rm(nodePath.join(dir, n), { force: true });
    return requests;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
