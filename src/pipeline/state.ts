import { hostname } from 'node:os';
import type { QueryProgress, QueryStatus } from '../engine/progress.js';
import { listChecked } from '../storage/checked-list.js';
import { ObjectNotFound, type ObjectStore } from '../storage/object-store.js';
import { TweetlakeError, errorMessage } from '../errors.js';

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
  /** The host the process runs on (older states lack it). */
  host?: string;
  active: boolean;
  status: QueryStatus;
  startedAt: string;
  updatedAt: string;
  lastProgress?: QueryProgress;
  /** Input rows per batch, recent batches (for rate charts). */
  history: BatchRecord[];
  error?: string;
  /** A worker of a consumer group (`run --group`): its partitions and how far behind they are. */
  worker?: WorkerState;
}

/** What a group worker publishes besides a stream's state. */
export interface WorkerState {
  group: string;
  topic: string;
  partitions: number[];
  /** Records of its partitions not yet through gold, at its last plan. */
  lag: number;
  batches: number;
  records: number;
  /** Whether it runs the application stream (holds the application lease). */
  application: boolean;
}

/**
 * The `_state` folder of a lakehouse (in any object store): stream states, the process's figures,
 * documents and stop requests. Each is one small object, replaced whole (readers see the old one or
 * the new one); a missing one reads as undefined.
 */
export class StateStore {
  constructor(readonly store: ObjectStore) {}

  /** The JSON document at `path`; undefined when it does not exist. */
  private async readJson<T>(path: string): Promise<T | undefined> {
    let data: Uint8Array;
    try {
      data = await this.store.get(path);
    } catch (err) {
      if (err instanceof ObjectNotFound) return undefined;
      throw err;
    }
    try {
      return JSON.parse(new TextDecoder().decode(data)) as T;
    } catch (err) {
      throw new StateFileCorrupt(this.store.location(path), err);
    }
  }

  async publish(state: StreamState): Promise<void> {
    await this.store.put(`streams/${state.name}.json`, JSON.stringify(state));
  }

  async publishProcess(state: ProcessState): Promise<void> {
    await this.store.put('process.json', JSON.stringify(state));
  }

  async process(): Promise<ProcessState | undefined> {
    return this.readJson<ProcessState>('process.json');
  }

  /** Writes any JSON document under `_state` (e.g. the latest evaluation). */
  async putDocument(name: string, value: unknown): Promise<void> {
    await this.store.put(`${name}.json`, JSON.stringify(value));
  }

  async getDocument<T>(name: string): Promise<T | undefined> {
    return this.readJson<T>(`${name}.json`);
  }

  /** Every published stream state; `active` is false for streams whose process is gone. */
  async streams(): Promise<StreamState[]> {
    const out: StreamState[] = [];
    for (const m of await listChecked(this.store, 'streams/')) {
      if (!/^streams\/[^/]+\.json$/.test(m.path)) continue;
      // States are replaced whole, so a read sees a whole one; one removed meanwhile is skipped.
      const s = await this.readJson<StreamState>(m.path);
      if (!s) continue;
      if (s.active && !holderAlive(s)) s.active = false;
      out.push(s);
    }
    return out;
  }

  /** Asks running streams to stop: one by name, or all. */
  async requestStop(name?: string): Promise<void> {
    await this.store.put(`stop/${name ?? '_all'}`, new Date().toISOString());
  }

  /**
   * Whether a stop request for `name` or for all streams was made at or after `since` (an ISO time),
   * left in place for the other workers of a group (a later run takes it away when it starts).
   */
  async stopRequestedSince(name: string, since: string): Promise<boolean> {
    for (const n of [name, '_all']) {
      let at: string;
      try {
        at = new TextDecoder().decode(await this.store.get(`stop/${n}`));
      } catch (err) {
        if (err instanceof ObjectNotFound) continue;
        throw err;
      }
      if (Date.parse(at) >= Date.parse(since)) return true;
    }
    return false;
  }

  /** Stop requests waiting (names; '_all' for all); consumed when read. */
  async takeStopRequests(): Promise<string[]> {
    const requests = (await listChecked(this.store, 'stop/'))
      .map((m) => m.path.slice('stop/'.length))
      .filter((n) => !n.includes('/'));
    for (const n of requests) await this.store.delete(`stop/${n}`);
    return requests;
  }
}

/** A stream state not refreshed for this long belongs to a process that is gone (other hosts only). */
const STALE_STATE_MS = 60_000;

/** Whether the process of a state still runs: by its pid on this host, by its freshness on another. */
function holderAlive(s: StreamState): boolean {
  if (s.host === undefined || s.host === hostname()) return processAlive(s.pid);
  return Date.now() - Date.parse(s.updatedAt) < STALE_STATE_MS;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
