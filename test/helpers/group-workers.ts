/**
 * Workers of a `tweetlake run --group` consumer group for tests and benchmarks: the built CLI in child
 * processes with the bundled model (no model server, no network), each tracked by its progress lines
 * (the partitions Kafka assigned it, the batches it wrote) and its exit; and a watcher of the
 * application table's lease, which records every holder it sees while the workers run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { CLI } from './kill-restart.js';

/** How a worker ended: its exit code, or the signal that ended it. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One `batch` progress line of a worker: its number, and per partition the offsets it covered. */
export interface WorkerBatch {
  n: number;
  /** Partition -> [first, last] offset of the batch (inclusive), as the line names them. */
  ranges: Map<number, [number, number]>;
  /**
   * The partitions the worker held at some time since its previous batch line (the batch was planned
   * then): its assignment at that line and every assignment it reported after.
   */
  assigned: number[];
  /** When the line was seen (performance.now()). */
  at: number;
  line: string;
}

/** What starts a worker: the group, the source, the lakehouse and config, and extra CLI flags. */
export interface WorkerOptions {
  group: string;
  source: string;
  root: string;
  config: string;
  trigger?: 'available-now' | 'continuous';
  extra?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** `worker <name>: partitions 0,2,4 of 6` (`(none)` when it holds none). */
const PARTITIONS_LINE = /^worker (\S+): partitions (.*?)(?: of \d+)?$/;
/** `worker <name>: batch <n> 0:[0,100) 2:[0,50): …, <ms> ms`. */
const BATCH_LINE = /^worker (\S+): batch (\d+) (.*)$/;
/** A partition's range in a batch line, half-open: `p:[from,to)`. */
const RANGE = /(\d+):\[(\d+),(\d+)\)/g;

/** The partitions of a `partitions` line's list (`0,2,4`; `(none)`: none). */
export function parsePartitionList(text: string): number[] {
  return [...text.matchAll(/\d+/g)].map((m) => Number(m[0])).sort((a, b) => a - b);
}

/** The per-partition ranges a batch line names, as inclusive [first, last] offsets. */
export function parseBatchRanges(rest: string): Map<number, [number, number]> {
  const ranges = new Map<number, [number, number]>();
  for (const m of rest.matchAll(RANGE)) ranges.set(Number(m[1]), [Number(m[2]), Number(m[3]) - 1]);
  return ranges;
}

/** Workers not yet exited: killed when the test process exits, or by killAllWorkers. */
const live = new Set<GroupWorker>();
process.once('exit', () => {
  for (const w of live) w.child.kill('SIGKILL');
});

/** SIGKILLs every worker still running (a test's cleanup). */
export async function killAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.kill9()));
}

/** A running (or ended) worker process and what it reported. */
export class GroupWorker {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The name the worker reports itself by (`<group>/<host>:<pid>`), once seen. */
  name?: string;
  /** stdout and stderr, interleaved as they came. */
  output = '';
  /** Every assignment it reported, in order. */
  readonly assignments: number[][] = [];
  readonly batches: WorkerBatch[] = [];
  readonly exited: Promise<WorkerExit>;
  exit?: WorkerExit;
  /** Whether the test killed it (SIGKILL). */
  killed = false;
  readonly startedAt = performance.now();
  endedAt?: number;
  private readonly listeners = new Set<(line: string) => void>();
  private pending = '';
  /** The partitions held since the last batch line (see WorkerBatch.assigned). */
  private window = new Set<number>();

  constructor(
    readonly label: string,
    options: WorkerOptions,
  ) {
    const args = [CLI, 'run', '--group', options.group, '--source', options.source];
    args.push('--root', options.root, '--config', options.config);
    args.push('--trigger', options.trigger ?? 'available-now', ...(options.extra ?? []));
    this.child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MLFLOW_TRACKING_URI: '', HF_HUB_OFFLINE: '1', ...options.env },
    });
    if (this.child.pid === undefined) throw new Error(`could not start worker ${label}`);
    this.pid = this.child.pid;
    live.add(this);
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('exit', (code, signal) => {
        if (this.pending) this.line(this.pending);
        this.exit = { code, signal };
        this.endedAt = performance.now();
        live.delete(this);
        resolve(this.exit);
      });
    });
    this.child.stdout!.on('data', (d: Buffer) => this.data(d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  private data(text: string): void {
    this.output += text;
    this.pending += text;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    const p = PARTITIONS_LINE.exec(line);
    if (p) {
      this.name ??= p[1];
      const partitions = parsePartitionList(p[2]!);
      this.assignments.push(partitions);
      for (const partition of partitions) this.window.add(partition);
    }
    const b = BATCH_LINE.exec(line);
    if (b) {
      this.name ??= b[1];
      this.batches.push({
        n: Number(b[2]),
        ranges: parseBatchRanges(b[3]!),
        assigned: [...this.window].sort((x, y) => x - y),
        at: performance.now(),
        line,
      });
      this.window = new Set(this.assignments.at(-1) ?? []);
    }
    for (const listener of this.listeners) listener(line);
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every partition it ever reported holding. */
  get partitionsHeld(): Set<number> {
    return new Set(this.assignments.flat());
  }

  /** Every partition a batch of it named. */
  get partitionsWritten(): Set<number> {
    return new Set(this.batches.flatMap((b) => [...b.ranges.keys()]));
  }

  /** Calls `fn` with every stdout line from now on; returns a function that stops that. */
  watch(fn: (line: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Resolves with the next stdout line matching `pattern` (after now); resolves undefined when the
   * worker exits first or `timeoutMs` passes.
   */
  nextLine(pattern: RegExp, timeoutMs: number): Promise<string | undefined> {
    if (!this.running) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (line: string | undefined) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(line);
      };
      const listener = (line: string) => {
        if (pattern.test(line)) done(line);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.listeners.add(listener);
      void this.exited.then(() => done(undefined));
    });
  }

  /** SIGKILLs it (if it still runs) and waits for it to be gone; true when this call killed it. */
  async kill9(): Promise<boolean> {
    const now = this.running && !this.killed;
    if (now) {
      this.killed = true;
      this.child.kill('SIGKILL');
    }
    await this.exited;
    return now;
  }

  /** Its output's last `chars` characters, for a failing assertion's message. */
  tail(chars = 3000): string {
    const life =
      this.endedAt === undefined ? 'running' : `ended after ${Math.round(this.endedAt - this.startedAt)} ms`;
    return `--- worker ${this.label} (pid ${this.pid}, ${life}, ${JSON.stringify(this.exit)}) ---\n${this.output.slice(-chars)}`;
  }
}

/** Starts a worker of a group. */
export function startWorker(label: string, options: WorkerOptions): GroupWorker {
  return new GroupWorker(label, options);
}

/**
 * The next `batch` line any of `workers` prints, and who printed it; undefined when none does within
 * `timeoutMs` (or all of them exit).
 */
export async function nextBatchOfAny(
  workers: GroupWorker[],
  timeoutMs: number,
): Promise<{ worker: GroupWorker; line: string } | undefined> {
  const running = workers.filter((w) => w.running);
  if (!running.length) return undefined;
  return new Promise((resolve) => {
    const stops: (() => void)[] = [];
    const done = (found: { worker: GroupWorker; line: string } | undefined) => {
      clearTimeout(timer);
      for (const stop of stops) stop();
      resolve(found);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    for (const worker of running)
      stops.push(
        worker.watch((line) => {
          if (BATCH_LINE.test(line)) done({ worker, line });
        }),
      );
    void Promise.all(running.map((w) => w.exited)).then(() => done(undefined));
  });
}

/** Waits for every worker to exit, each within `timeoutMs` (then it is SIGKILLed and reported). */
export async function waitAll(workers: GroupWorker[], timeoutMs: number): Promise<WorkerExit[]> {
  return Promise.all(
    workers.map(async (w) => {
      const timer = setTimeout(() => w.child.kill('SIGKILL'), timeoutMs);
      try {
        return await w.exited;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** A holder of the application lease, as a generation file recorded it. */
export interface LeaseSighting {
  generation: number;
  id: string;
  pid: number;
  host: string;
}

/** Folder of the application table's lease under a lakehouse root. */
export function applicationLeaseDir(root: string): string {
  return nodePath.join(root, '_leases', 'application');
}

/** The generation files of the application lease now (newest last); [] when there are none. */
export async function applicationLease(root: string): Promise<LeaseSighting[]> {
  const dir = applicationLeaseDir(root);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => /^\d{20}\.json$/.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: LeaseSighting[] = [];
  for (const name of names) {
    try {
      const holder = JSON.parse(await fs.readFile(nodePath.join(dir, name), 'utf8')) as {
        id: string;
        pid: number;
        host: string;
      };
      out.push({ generation: Number(name.slice(0, 20)), id: holder.id, pid: holder.pid, host: holder.host });
    } catch (err) {
      // released (deleted) or being rewritten between the listing and the read: seen next time
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    }
  }
  return out;
}

/**
 * Polls the application lease every `everyMs` and keeps every distinct holder seen: a holder
 * deletes older generations when it takes over and its own on release, so the files at the end
 * do not tell the whole story.
 */
export class LeaseWatcher {
  readonly seen = new Map<string, LeaseSighting>();
  private readonly timer: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(
    private readonly root: string,
    everyMs = 50,
  ) {
    this.timer = setInterval(() => void this.poll(), everyMs);
    this.timer.unref();
  }

  /** Reads the lease folder once (also called by the timer). */
  poll(): Promise<void> {
    this.polling ??= applicationLease(this.root)
      .then((files) => {
        for (const f of files) this.seen.set(`${f.generation}/${f.id}`, f);
      })
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** The newest holder seen so far. */
  get newest(): LeaseSighting | undefined {
    return [...this.seen.values()].sort((a, b) => a.generation - b.generation).at(-1);
  }

  /** Distinct pids of all holders seen. */
  get pids(): Set<number> {
    return new Set([...this.seen.values()].map((s) => s.pid));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.poll();
  }
}
