/**
 * Keeps the benchmark harness (bench/, docs/BENCHMARKS.md) working: runs `bench/main.ts --smoke` (1k
 * tweets, one cold run, no model) for tweetlake and the PySpark + delta-spark reference, and checks
 * that the table it prints has figures for every stage of both systems and that both wrote the same
 * tables. Not a timed test: the figures themselves are not judged.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pythonBin } from './helpers.js';

const ROOT = nodePath.resolve(nodePath.dirname(fileURLToPath(import.meta.url)), '../..');

interface SmokeJson {
  modelFree: {
    system: string;
    startupMs: number;
    iterations: { kind: string; ms: number; stages: Record<string, { ms: number; files: number }> }[];
  }[];
  verdicts: Record<string, unknown>;
}

describe('bench --smoke', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints figures for every stage of tweetlake and Spark, which wrote the same tables', async () => {
    const json = nodePath.join(dir, 'smoke.json');
    const t0 = performance.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/main.ts',
          '--smoke',
          '--systems',
          'tweetlake,spark',
          '--python',
          pythonBin(),
          '--work',
          nodePath.join(dir, 'work'),
          '--json',
          json,
        ],
        { cwd: ROOT, maxBuffer: 1 << 26, timeout: 300_000 },
        (err, out, errOut) =>
          err
            ? reject(new Error(`bench --smoke failed: ${err.message}\n${String(errOut).slice(-6000)}`))
            : resolve(String(out)),
      );
    });
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`bench --smoke took ${seconds.toFixed(1)} s\n${stdout}`);

    // the printed table: every stage row has a time, a rate and a memory figure for both systems
    const number = String.raw`[\d,]+(?:\.\d+)?`;
    for (const stage of [
      'bronze',
      'silver',
      'gold \\(fixture\\)',
      'application',
      'end to end \\(incl\\. startup\\)',
    ]) {
      const row = new RegExp(String.raw`^${stage}\s+cold\s+(?:${number}\s+){8}${number}×`, 'm');
      expect(stdout, `row '${stage}'`).toMatch(row);
    }
    expect(stdout).toMatch(/same tables in both systems[^:]*: yes/);

    // the JSON: both systems, every stage timed, files written
    const result = JSON.parse(readFileSync(json, 'utf8')) as SmokeJson;
    expect(result.modelFree.map((r) => r.system).sort()).toEqual(['spark', 'tweetlake']);
    for (const r of result.modelFree) {
      expect(r.startupMs).toBeGreaterThan(0);
      const cold = r.iterations.find((i) => i.kind === 'cold')!;
      for (const stage of ['bronze', 'silver', 'gold', 'application']) {
        expect(cold.stages[stage]!.ms, `${r.system} ${stage}`).toBeGreaterThan(0);
        expect(cold.stages[stage]!.files, `${r.system} ${stage}`).toBeGreaterThan(0);
      }
    }
    expect(result.verdicts.sameOutput1k).toBe(true);
  });
});
