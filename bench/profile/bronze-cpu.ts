/**
 * The bronze stream alone (file source -> bronze + quarantine, availableNow, 10 files and at most
 * 64 MiB per trigger, DuckDB limited to 512 MB) on a source folder, timed in wall-clock and in CPU
 * time of the process (user + system, DuckDB's threads included). CPU time moves much less than
 * wall time when other work shares the machine, so it is the figure to compare two builds with:
 * run it for each build's dist/, alternating, in fresh processes.
 *
 *   npx tsx bench/profile/bronze-cpu.ts [--source bench/.work/sources/1M-100f-seed42] [--dist dist] [--runs 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const dist = pathToFileURL(nodePath.resolve(arg('dist', 'dist'))).href;
  const source = nodePath.resolve(arg('source', 'bench/.work/sources/1M-100f-seed42'));
  const runs = Number(arg('runs', '3'));
  const { DuckSession } = await import(`${dist}/duck/session.js`);
  const { StreamingQuery } = await import(`${dist}/engine/query.js`);
  const { Trigger } = await import(`${dist}/engine/trigger.js`);
  const { bronzeQuery } = await import(`${dist}/pipeline/stages.js`);
  const { lakehousePaths } = await import(`${dist}/pipeline/paths.js`);
  for (let r = 0; r < runs; r++) {
    const root = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-bronze-cpu-'));
    const session = await DuckSession.create({ memoryLimit: '512MB' });
    const options = {
      paths: lakehousePaths(root),
      source,
      session,
      classifier: async () => {
        throw new Error('bronze needs no model');
      },
      maxFilesPerTrigger: 10,
      maxBytesPerTrigger: 64 << 20,
    };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const q = new StreamingQuery({ ...bronzeQuery(options), trigger: Trigger.availableNow() });
    await q.start();
    await q.awaitTermination();
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    const rows = (q.recentProgress as { numInputRows: number }[]).reduce((n, p) => n + p.numInputRows, 0);
    process.stdout.write(
      `${JSON.stringify({ dist, run: r + 1, rows, wallMs: Math.round(wallMs), cpuMs: Math.round((cpu.user + cpu.system) / 1000), tweetsPerCpuSecond: Math.round(rows / ((cpu.user + cpu.system) / 1e6)) })}\n`,
    );
    session.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
