import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = nodePath.resolve('dist/cli/main.js');
const SAMPLE = nodePath.resolve('data/sample');

function tweetlake(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, MLFLOW_TRACKING_URI: '', TWEETLAKE_PREDICTION_CACHE: '' },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`tweetlake ${args.join(' ')} failed (${r.status}): ${out}`);
  return out;
}

/** The metrics printed on the gold stream's batch lines, summed over its batches. */
function goldMetrics(out: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const line of out.split('\n').filter((l) => l.startsWith('gold_stream: batch'))) {
    for (const [, k, v] of line.matchAll(/(\w+)=([\d.]+)/g)) sums[k!] = (sums[k!] ?? 0) + Number(v);
  }
  return sums;
}

describe('the prediction cache from the command line', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-cache-cli-'));
  const root = nodePath.join(dir, 'lake');
  const source = nodePath.join(dir, 'source');
  const cache = nodePath.join(root, '_cache', 'predictions');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('run fills it, run --clear reads it, run --no-cache bypasses it, clear keeps it and clear --cache deletes it', () => {
    mkdirSync(source);
    const lines = readFileSync(nodePath.join(SAMPLE, readdirSync(SAMPLE).sort()[0]!), 'utf8').split('\n');
    writeFileSync(nodePath.join(source, 'few.json'), lines.slice(0, 40).join('\n') + '\n');

    const first = goldMetrics(tweetlake('run', '--root', root, '--source', source));
    expect(first).toMatchObject({ cachedTexts: 0, predictionCache: 1 });
    expect(first.scoredTexts).toBeGreaterThan(30);
    expect(existsSync(cache)).toBe(true);

    const again = goldMetrics(tweetlake('run', '--root', root, '--source', source, '--clear'));
    expect(again).toMatchObject({ cachedTexts: first.scoredTexts, scoredTexts: 0, cacheHitRate: 1 });

    const bypass = goldMetrics(tweetlake('run', '--root', root, '--source', source, '--clear', '--no-cache'));
    expect(bypass).toMatchObject({ cachedTexts: 0, scoredTexts: first.scoredTexts, predictionCache: 0 });

    expect(tweetlake('clear', '--root', root)).toMatch(/prediction cache kept/);
    expect(existsSync(cache)).toBe(true);
    tweetlake('clear', '--root', root, '--cache');
    expect(existsSync(cache)).toBe(false);
  }, 180_000);
});
