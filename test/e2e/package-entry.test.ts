import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/delta.js';

const dirs = tempDirs('tweetlake-entry-');
afterAll(() => dirs.cleanup());

/** Runs an ES module from the repository root (so `import 'tweetlake'` resolves as in a user's project). */
function runModule(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The TypeScript example of docs/api.md (written so that it is JavaScript too). */
function documentedExample(): string {
  const doc = readFileSync('docs/api.md', 'utf8');
  const block = /## Reading a table[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/api.md has no ```ts example under "Reading a table"');
  return block;
}

describe('the package entry (package.json exports -> dist/index.js)', () => {
  it('points main, types and exports at the built entry', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Record<string, unknown>;
    expect(pkg.main).toBe('dist/index.js');
    expect(pkg.types).toBe('dist/index.d.ts');
    expect(pkg.exports).toMatchObject({ '.': { types: './dist/index.d.ts', import: './dist/index.js' } });
    expect(readFileSync('dist/index.d.ts', 'utf8')).toMatch(/DeltaTable/);
  });

  it('exports the public API, and the documented example reads a table written through it', () => {
    const api = runModule(`import * as t from 'tweetlake';
      const names = ['DeltaTable', 'Snapshot', 'Pipeline', 'StreamingQuery', 'LocalObjectStore', 'loadClassifier',
        'DuckSession', 'TweetlakeError', 'openRegistry', 'openTrackingStore', 'Trigger'];
      console.log(JSON.stringify(names.filter((n) => typeof t[n] !== 'function' && typeof t[n] !== 'object')));
      console.log(import.meta.resolve('tweetlake'));`);
    expect(api.stderr).toBe('');
    const [missing, resolved] = api.stdout.trim().split('\n');
    expect(JSON.parse(missing!)).toEqual([]);
    expect(resolved).toBe(`file://${nodePath.resolve('dist/index.js')}`);

    const table = nodePath.join(dirs.make(), 'gold');
    const write = runModule(`import { DeltaTable, DuckSession } from 'tweetlake';
      const session = await DuckSession.create();
      const t = await DeltaTable.forPath(${JSON.stringify(table)}, session);
      await t.write({ rows: [
        { text: 'a', predicted_sentiment: 'POS' }, { text: 'b', predicted_sentiment: 'NEG' },
        { text: 'c', predicted_sentiment: 'POS' }] });
      await t.write({ rows: [{ text: 'd', predicted_sentiment: 'NEU' }] });
      session.close();`);
    expect(write.stderr).toBe('');
    expect(write.status).toBe(0);

    const example = documentedExample().replace("'lakehouse/tables/gold'", JSON.stringify(table));
    const read = runModule(example);
    expect(read.stderr).toBe('');
    expect(read.status).toBe(0);
    expect(read.stdout).toMatch(/gold version 1:/);
    expect(read.stdout).toMatch(/predicted_sentiment: 'NEG', n: '1' }/);
    expect(read.stdout).toMatch(/predicted_sentiment: 'NEU', n: '1' }/);
    expect(read.stdout).toMatch(/predicted_sentiment: 'POS', n: '2' }/);
  });
});
