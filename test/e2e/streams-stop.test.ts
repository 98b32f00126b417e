import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = nodePath.resolve('dist/cli/main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

async function until(what: () => boolean, label: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('tweetlake streams and stop, from another process, during a continuous run', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-cli-streams-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the running streams, stops one by name, then all; the run exits and prints its summary', async () => {
    const source = nodePath.join(dir, 'source');
    const root = nodePath.join(dir, 'lakehouse');
    mkdirSync(source);
    const sample = readFileSync(nodePath.resolve('data/sample/tweets-001.json'), 'utf8')
      .split('\n')
      .slice(0, 40)
      .join('\n');
    writeFileSync(nodePath.join(source, 'a.json'), `${sample}\n`);
    const run = spawn(
      process.execPath,
      [CLI, 'run', '--root', root, '--source', source, '--trigger', 'continuous'],
      {
        env: { ...process.env, MLFLOW_TRACKING_URI: '' },
      },
    );
    let output = '';
    run.stdout.on('data', (d: Buffer) => (output += d.toString()));
    run.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => run.on('exit', resolve));

    const states = () => {
      const r = cli('streams', '--root', root, '--format', 'jsonl');
      return r.stdout.trim()
        ? r.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { name: string; active: boolean; history: unknown[] })
        : [];
    };
    await until(
      () => states().some((s) => s.name === 'application_stream' && s.history.length > 0),
      'the first batches',
    );
    expect(
      states()
        .filter((s) => s.active)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['application_stream', 'bronze_stream', 'gold_stream', 'silver_stream']);
    const table = cli('streams', '--root', root);
    expect(table.stdout).toMatch(/^gold_stream\s+true/m);

    expect(cli('stop', 'no_such_stream', '--root', root).status).not.toBe(0);
    expect(cli('stop', 'gold_stream', '--root', root).stdout).toMatch(/asked gold_stream to stop/);
    await until(
      () => states().find((s) => s.name === 'gold_stream')?.active === false,
      'gold_stream to stop',
    );
    expect(states().find((s) => s.name === 'silver_stream')?.active).toBe(true);

    expect(cli('stop', '--root', root).stdout).toMatch(/asked all streams to stop/);
    expect(await exited).toBe(0);
    expect(output).toMatch(/input records: 40 = 40 in bronze \+ 0 quarantined/);
    expect(states().every((s) => !s.active)).toBe(true);
  }, 180_000);
});
