import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** The shell commands of the README's "Two commands" section, in order. */
function readmeCommands(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(
    readme.indexOf('## Two commands'),
    readme.indexOf('\n## ', readme.indexOf('## Two commands') + 5),
  );
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

describe("the README's commands, from a fresh clone, as a user types them", () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-clone-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists exactly two commands: install-and-run, then npm test', () => {
    const commands = readmeCommands();
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/npm ci/);
    expect(commands[0]).toMatch(/tweetlake run/);
    expect(commands[1]).toBe('npm test');
  });

  it('installs and runs the whole pipeline on the bundled sample with the bundled model, offline', () => {
    const clone = nodePath.join(dir, 'tweetlake');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', process.cwd(), clone]);
    const [install] = readmeCommands();
    // The registry is reachable for npm ci; the run itself must not need the network.
    const result = spawnSync('bash', ['-c', install!], {
      cwd: clone,
      encoding: 'utf8',
      env: {
        ...process.env,
        HF_HUB_OFFLINE: '1',
        npm_config_prefer_offline: 'true',
        MLFLOW_TRACKING_URI: '',
      },
      timeout: 900_000,
    });
    const out = `${result.stdout}\n${result.stderr}`;
    expect(result.status, out).toBe(0);
    // npm runs the package's bin through the shell: it must be executable in a fresh clone, where
    // nothing but the build made it (a cached copy elsewhere can hide a missing mode bit).
    const pkg = JSON.parse(readFileSync(nodePath.join(clone, 'package.json'), 'utf8'));
    for (const bin of Object.values<string>(pkg.bin))
      expect(statSync(nodePath.join(clone, bin)).mode & 0o111, bin).not.toBe(0);
    // The summary: every table with its rows, and the input = bronze + quarantine identity.
    for (const table of ['bronze', 'silver', 'gold', 'application', 'quarantine'])
      expect(out).toMatch(new RegExp(`^${table}\\s+\\d+`, 'm'));
    expect(out).toMatch(/input records: 14640 = 14640 in bronze \+ 0 quarantined/);
    expect(out).toMatch(/elapsed: [\d.]+ s/);
    expect(out).toMatch(/HF_TWEET_SENTIMENT version 1/);
    // And the lakehouse it wrote answers SQL.
    const sql = spawnSync(
      'npx',
      ['tweetlake', 'sql', 'SELECT count(*) AS n FROM gold', '--format', 'jsonl'],
      { cwd: clone, encoding: 'utf8' },
    );
    expect(sql.status, sql.stderr).toBe(0);
    expect(JSON.parse(sql.stdout.trim()).n).toBeGreaterThan(14640);
  }, 900_000);
});
