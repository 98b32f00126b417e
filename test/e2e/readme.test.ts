import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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

/** A path into the data folder beside a checkout (dot-dot or /work, then its name); built so as not to match itself. */
const BESIDE_CHECKOUT = new RegExp(String.raw`(\.\./|/work/)` + ['sha', 'red'].join('') + String.raw`\b`);

/** Test code and configuration of a checkout (not fixtures' data or prose). */
function testCodeFiles(clone: string): string[] {
  return execFileSync('git', ['ls-files', 'test', 'vitest.config.ts', 'package.json'], {
    cwd: clone,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => /\.(ts|mts|js|mjs|cjs|py|sh|json)$/.test(f) && !f.startsWith('test/fixtures/'));
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
    // nothing beside the clone: what the tests need is in the repository
    expect(existsSync(nodePath.join(dir, 'shared'))).toBe(false);
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

    // No test reads a folder beside the checkout, and the tests that read fixtures pass in the clone.
    const files = testCodeFiles(clone);
    expect(files.length).toBeGreaterThan(40);
    const beside = files.filter((f) => BESIDE_CHECKOUT.test(readFileSync(nodePath.join(clone, f), 'utf8')));
    expect(beside, 'test files that read a folder beside the checkout').toEqual([]);
    const fixtureTests = files.filter(
      (f) =>
        /^test\/(unit|integration)\/.*\.test\.ts$/.test(f) &&
        /CONFORMANCE_DIR|copyConformanceTable|FIXTURES_DIR/.test(
          readFileSync(nodePath.join(clone, f), 'utf8'),
        ),
    );
    expect(fixtureTests).toContain('test/unit/delta/conformance.test.ts');
    const { TWEETLAKE_CONFORMANCE_DIR: _ignored, FORCE_COLOR: _color, ...env } = process.env;
    const tests = spawnSync('npx', ['vitest', 'run', '--project', 'unit', ...fixtureTests], {
      cwd: clone,
      encoding: 'utf8',
      env: { ...env, NO_COLOR: '1' },
      timeout: 300_000,
    });
    const testsOut = `${tests.stdout}\n${tests.stderr}`;
    expect(tests.status, testsOut).toBe(0);
    expect(testsOut).toMatch(new RegExp(`Test Files\\s+${fixtureTests.length} passed`));
  }, 900_000);
});
