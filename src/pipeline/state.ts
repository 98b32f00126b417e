import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import type { QueryProgress, QueryStatus } from '../engine/progress.js';
import { writeFileAtomic as writeAtomic } from '../storage/atomic-write.js';

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
    try {
      return JSON.parse(await fs.readFile(nodePath.join(this.dir, 'process.json'), 'utf8')) as ProcessState;
    } catch {
      return undefined;
    }
  }

  /** Writes any JSON document under `_state` (e.g. the latest evaluation). */
  async putDocument(name: string, value: unknown): Promise<void> {
    await writeAtomic(nodePath.join(this.dir, `${name}.json`), JSON.stringify(value));
  }

  async getDocument<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fs.readFile(nodePath.join(this.dir, `${name}.json`), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** Every published stream state; `active` is false for streams whose process is gone. */
  async streams(): Promise<StreamState[]> {
    let names: string[];
    try {
      names = await fs.readdir(nodePath.join(this.dir, 'streams'));
    } catch {
      return [];
    }
    const out: StreamState[] = [];
    for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
      try {
        const s = JSON.parse(await fs.readFile(nodePath.join(this.dir, 'streams', n), 'utf8')) as StreamState;
        if (s.active && !processAlive(s.pid)) s.active = false;
        out.push(s);
      } catch {
        // a state being replaced right now: skip it this time
      }
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
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
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
