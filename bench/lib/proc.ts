/**
 * Runs one benchmark child process and measures it from outside: wall time from spawn, and the
 * resident memory of its whole process tree (node with its worker threads; python + the JVM + the
 * Python workers Spark forks), sampled from /proc every ~100 ms. The child reports its phases as
 * stdout lines `@@bench {json}`; each sample is attributed to the phase (iteration, stage) running.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** One `@@bench` line of a child, stamped with the runner's clock (ms since spawn). */
export interface ChildEvent {
  ev: string;
  at: number;
  [key: string]: unknown;
}

export interface ChildRun {
  events: ChildEvent[];
  exitCode: number | null;
  wallMs: number;
  /** Peak of the summed RSS of the tree over the whole run, bytes. */
  peakRss: number;
  /** Peak tree RSS per phase key: `startup`, `iter-<i>`, `iter-<i>/<stage>`. */
  phasePeakRss: Record<string, number>;
  /** Most processes seen in the tree at once. */
  maxProcesses: number;
  stderrTail: string;
}

function childrenOf(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // the command may contain spaces and parentheses: ppid is the 2nd field after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(name));
      kids.set(ppid, list);
    } catch {
      // the process ended while we listed
    }
  }
  return kids;
}

/** The pid and all its descendants. */
export function processTree(root: number): number[] {
  const kids = childrenOf();
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(kids.get(pid) ?? []));
  }
  return out;
}

/** VmRSS of a process in bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Spawns `cmd args`, samples its tree's memory until it exits, collects its events. */
export function runChild(
  cmd: string,
  args: string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    sampleMs?: number;
    timeoutMs?: number;
    onEvent?: (e: ChildEvent) => void;
  } = {},
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: ChildEvent[] = [];
    const phasePeakRss: Record<string, number> = {};
    let peakRss = 0;
    let maxProcesses = 0;
    let iter = 'startup';
    let stage: string | undefined;
    let stderr = '';
    let tree: number[] = [];
    let previous = new Set<number>();
    let lastTreeScan = -Infinity;
    const sample = () => {
      if (child.pid === undefined) return;
      const now = performance.now();
      // the tree changes rarely (Spark forks its Python workers once): rescan it every 500 ms
      // A process counts once it has lived through two scans: the JVM forks short-lived helpers
      // (Hadoop's local file system runs `chmod`), and a fork shows its parent's RSS until it execs.
      if (now - lastTreeScan > 500) {
        const seen = processTree(child.pid);
        tree = seen.filter((pid) => pid === child.pid || previous.has(pid));
        previous = new Set(seen);
        lastTreeScan = now;
      }
      let rss = 0;
      for (const pid of tree) rss += rssOf(pid);
      maxProcesses = Math.max(maxProcesses, tree.length);
      peakRss = Math.max(peakRss, rss);
      phasePeakRss[iter] = Math.max(phasePeakRss[iter] ?? 0, rss);
      if (stage) phasePeakRss[`${iter}/${stage}`] = Math.max(phasePeakRss[`${iter}/${stage}`] ?? 0, rss);
    };
    const timer = setInterval(sample, options.sampleMs ?? 100);
    const killer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('@@bench ')) return;
      let e: ChildEvent;
      try {
        e = {
          ...(JSON.parse(line.slice(8)) as Record<string, unknown>),
          at: performance.now() - t0,
        } as ChildEvent;
      } catch {
        return;
      }
      sample(); // close the phase with a sample
      if (e.ev === 'iter-start') {
        iter = `iter-${String(e.iter)}`;
        stage = undefined;
      } else if (e.ev === 'stage-start') {
        stage = String(e.stage).replace(/_stream$/, '');
      } else if (e.ev === 'iter-end') {
        stage = undefined;
        iter = 'between';
      }
      events.push(e);
      options.onEvent?.(e);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
    });
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      resolve({
        events,
        exitCode: code,
        wallMs: performance.now() - t0,
        peakRss,
        phasePeakRss,
        maxProcesses,
        stderrTail: stderr,
      });
    });
  });
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Waits (up to `maxWaitMs`) until the 1-minute load is below `threshold`; returns the load seen last. */
export async function waitForQuiet(
  threshold: number,
  maxWaitMs: number,
  log: (s: string) => void,
): Promise<number> {
  const t0 = Date.now();
  let load = loadAverage();
  let told = false;
  while (load > threshold && Date.now() - t0 < maxWaitMs) {
    if (!told)
      log(`  load ${load.toFixed(2)} > ${threshold}: waiting (up to ${Math.round(maxWaitMs / 1000)} s)`);
    told = true;
    await new Promise((r) => setTimeout(r, 5000));
    load = loadAverage();
  }
  return load;
}
