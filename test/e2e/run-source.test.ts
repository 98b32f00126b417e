/**
 * `tweetlake run --source` as a user types it, with a source that is wrong: a missing folder or a
 * file fails (non-zero exit, the path named); an empty folder runs and says there was nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = nodePath.resolve('dist/cli/main.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, 'run', ...args], {
    encoding: 'utf8',
    env: { ...process.env, MLFLOW_TRACKING_URI: '' },
  });

describe('tweetlake run --source', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-cli-source-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a folder that does not exist: an error naming it, non-zero exit, no tables', () => {
    const missing = nodePath.join(dir, 'nonexistent');
    const r = run('--root', nodePath.join(dir, 'lake1'), '--source', missing);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`error [SOURCE_PATH]: the source folder ${missing} does not exist`);
    expect(r.stdout).not.toMatch(/input records/);
  });

  it('a file instead of a folder: an error naming it, non-zero exit', () => {
    const file = nodePath.join(dir, 'tweets.json');
    writeFileSync(file, '{"text":"x"}\n');
    const r = run('--root', nodePath.join(dir, 'lake2'), '--source', file);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`error [SOURCE_PATH]: the source ${file} is not a folder`);
  });

  it('an empty folder: the run says no files were found, and there is nothing to count', () => {
    const empty = nodePath.join(dir, 'empty');
    mkdirSync(empty);
    const r = run('--root', nodePath.join(dir, 'lake3'), '--source', empty);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`warning: bronze_stream: no files in ${empty}`);
    expect(r.stdout).toMatch(/input records: 0 = 0 in bronze \+ 0 quarantined/);
  });
});
