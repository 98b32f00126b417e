/**
 * Real servers on loopback for the interop suite (`mlflow server`, `mlflow models serve`, MLServer):
 * started in their own process group (so that stopping them stops their workers too), waited on until
 * a health URL answers, killed and restarted on the same port by the tests that need it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerSpec {
  command: string;
  args: string[];
  /** Answers 2xx once the server is ready. */
  healthUrl: string;
  /** stdout and stderr are appended here (its tail is in the error when the server does not start). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  startTimeoutMs?: number;
}

/** One server process (group) that can be killed and started again with the same command. */
export class LoopbackServer {
  private proc?: ChildProcess;

  constructor(readonly spec: ServerSpec) {}

  /** Starts the server and waits until its health URL answers. */
  async start(): Promise<void> {
    const log = openSync(this.spec.logFile, 'a');
    this.proc = spawn(this.spec.command, this.spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: this.spec.cwd,
      env: { ...process.env, PYTHONUNBUFFERED: '1', ...this.spec.env },
    });
    const until = Date.now() + (this.spec.startTimeoutMs ?? 240_000);
    while (Date.now() < until) {
      if (this.proc.exitCode != null) break;
      try {
        const res = await fetch(this.spec.healthUrl, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const tail = existsSync(this.spec.logFile) ? readFileSync(this.spec.logFile, 'utf8').slice(-4000) : '';
    await this.kill();
    throw new Error(
      `${this.spec.command} ${this.spec.args.join(' ')} did not answer ${this.spec.healthUrl}:\n${tail}`,
    );
  }

  /** SIGKILL to the whole process group, as a crash would; resolves when the leader has exited. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGTERM to the process group, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 10_000);
    await this.kill();
  }

  private async signal(sig: NodeJS.Signals, waitMs = 30_000): Promise<void> {
    const p = this.proc;
    if (!p?.pid || p.exitCode != null || p.signalCode != null) return;
    const exited = new Promise((r) => p.once('exit', r));
    try {
      process.kill(-p.pid, sig);
    } catch {
      return; // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, waitMs))]);
  }
}
