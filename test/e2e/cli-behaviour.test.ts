/**
 * The built CLI in child processes, as a user sees it: subcommand options named like the program's
 * own (--version), errors in the user's terms with exit codes by kind, nothing to evaluate, the
 * lakehouse lease between two processes, and Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { constants as osConstants, hostname, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = nodePath.resolve('dist/cli/main.js');
const SAMPLE = nodePath.resolve('data/sample');
const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('TWEETLAKE_') && !k.startsWith('MLFLOW_')),
);

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  out: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Ran {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...ENV, ...env },
    cwd: dir,
    timeout: 180_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}${r.stderr}` };
}

/** A source folder of `files` files of `lines` sample tweets each. */
function source(name: string, files: number, lines: number): string {
  const path = nodePath.join(dir, name);
  mkdirSync(path);
  const tweets = readFileSync(nodePath.join(SAMPLE, 'tweets-001.json'), 'utf8').split('\n').filter(Boolean);
  for (let f = 0; f < files; f++)
    writeFileSync(
      nodePath.join(path, `f${String(f).padStart(2, '0')}.json`),
      `${tweets.slice(f * lines, (f + 1) * lines).join('\n')}\n`,
    );
  return path;
}

/** `files` source files of `lines` tweets each, every text made distinct by a suffix (none scored twice). */
function distinctSource(name: string, files: number, lines: number): string {
  const path = nodePath.join(dir, name);
  mkdirSync(path);
  const tweets = readFileSync(nodePath.join(SAMPLE, 'tweets-001.json'), 'utf8').split('\n').filter(Boolean);
  for (let f = 0; f < files; f++) {
    const out: string[] = [];
    for (let i = 0; i < lines; i++) {
      const t = JSON.parse(tweets[(f * lines + i) % tweets.length]!) as { text: string };
      out.push(JSON.stringify({ ...t, text: `${t.text} (${f}.${i})` }));
    }
    writeFileSync(nodePath.join(path, `f${String(f).padStart(2, '0')}.json`), `${out.join('\n')}\n`);
  }
  return path;
}

/** The CLI in the background. `exited` is the status a shell reports (128 + n when killed by signal n). */
function start(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...ENV, ...env }, cwd: dir });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => ((output += d.toString()), (stdout += d.toString())));
  child.stderr.on('data', (d: Buffer) => ((output += d.toString()), (stderr += d.toString())));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ? 128 + osConstants.signals[signal] : code)),
  );
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The CLI without blocking this process (which may be serving it). */
async function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const run = start(args, env);
  const status = await run.exited;
  return { status, stdout: run.stdout(), stderr: run.stderr(), out: run.output() };
}

/** What a user must never see: our own SQL, Parquet paths, stack traces. */
function expectNoInternals(text: string): void {
  expect(text).not.toMatch(/read_parquet|\.parquet|tweetlake_work|SELECT \* FROM \(|LIMIT 100/);
  expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

const root = nodePath.join(dir, 'lakehouse');
beforeAll(() => {
  const r = cli(['run', '--root', root, '--source', source('small', 2, 20)]);
  expect(r.status, r.out).toBe(0);
}, 180_000);

describe('options of a subcommand named like the program’s own', () => {
  it('--version N on table show, table describe, evaluate and model promote is theirs', () => {
    expect(cli(['table', 'show', `${root}/bronze`, '--version', '0']).stdout).toMatch(
      /\(0 rows shown; version 0\)/,
    );
    expect(cli(['table', 'show', `${root}/bronze`, '--version', '1', '--limit', '3']).stdout).toMatch(
      /\(3 rows shown; version 1\)/,
    );
    expect(JSON.parse(cli(['table', 'describe', `${root}/gold`, '--version', '0']).stdout).version).toBe(0);
    const e = cli(['evaluate', '--root', root, '--version', '1']);
    expect(e.status, e.out).toBe(0);
    const runId = /MLflow run ([0-9a-f]{32})/.exec(e.stdout)![1]!;
    const experiments = readdirSync(nodePath.join(root, 'mlruns')).filter((d) =>
      existsSync(nodePath.join(root, 'mlruns', d, runId)),
    );
    expect(
      readFileSync(
        nodePath.join(root, 'mlruns', experiments[0]!, runId, 'params', 'gold_table_version'),
        'utf8',
      ),
    ).toBe('1');
    expect(cli(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(cli(['-V']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("model promote --stage Staging is kept: the bundled model's check does not undo it", () => {
    const p = cli([
      'model',
      'promote',
      'HF_TWEET_SENTIMENT',
      '--version',
      '1',
      '--stage',
      'Staging',
      '--root',
      root,
    ]);
    expect(p.status, p.out).toBe(0);
    expect(p.stdout).toMatch(/HF_TWEET_SENTIMENT version 1 is now in stage Staging/);
    expect(cli(['model', 'list', '--root', root]).stdout).toMatch(/^HF_TWEET_SENTIMENT\s+1\s+Staging\s/m);
    expect(cli(['model', 'list', '--root', root]).stdout).toMatch(/^HF_TWEET_SENTIMENT\s+1\s+Staging\s/m);
    const back = cli([
      'model',
      'promote',
      'HF_TWEET_SENTIMENT',
      '--version',
      '1',
      '--stage',
      'Production',
      '--root',
      root,
    ]);
    expect(back.status).toBe(0);
  });
});

describe('errors in the user’s terms, with exit codes by kind', () => {
  it('usage errors exit 2 with the error code', () => {
    const r = cli(['table', 'show', `${root}/bronze`, '--limit', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error \[USAGE\]: --limit must be a whole number, got 'x'$/m);
    expect(cli(['table', 'show', `${root}/bronze`, '--bogus']).status).toBe(2);
    expect(cli(['no-such-command']).status).toBe(2);
    expect(cli(['stop', '--root', root]).stderr).toMatch(/no run is active/);
  });

  it('sql quotes only the SQL the user wrote', () => {
    const r = cli(['sql', 'SELEC oops', '--root', root]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error \[SQL_QUERY\]: Parser Error: syntax error at or near "SELEC"/m);
    expect(r.stderr).toMatch(/LINE 1: SELEC oops/);
    expectNoInternals(r.out);
  });

  it("an unknown table names the lakehouse's tables, not DuckDB's catalogs", () => {
    const r = cli(['sql', 'SELECT * FROM golden', '--root', root]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /no table named golden; the tables of .* are: bronze, silver, gold, application, quarantine/,
    );
    expect(r.stderr).not.toMatch(/pg_|duckdb_|sqlite_|information_schema/);
    expectNoInternals(r.out);
  });

  it('--where errors name the filter and the columns, not the Parquet files', () => {
    const r = cli(['table', 'show', `${root}/bronze`, '--where', 'nosuchcol = 1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error \[WHERE_INVALID\]: --where nosuchcol = 1: .*"nosuchcol"/m);
    expectNoInternals(r.out);
    const sql = cli(['sql', "SELECT CAST('x' AS INTEGER)", '--root', root]);
    expect(sql.status).toBe(2);
    expectNoInternals(sql.out);
  });

  it('a table that is not there is a user error', () => {
    const r = cli(['table', 'history', nodePath.join(dir, 'nowhere')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error \[\w+\]: .*nowhere/m);
    expectNoInternals(r.out);
  });

  it('dashboard on a busy port says so, without a stack trace', async () => {
    const busy = createServer(() => undefined);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = cli(['dashboard', '--root', root, '--port', String(port)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(`^error \\[DASHBOARD_LISTEN\\]: port ${port} on 127.0.0.1 is already in use`, 'm'),
      );
      expect(r.out).not.toMatch(/EADDRINUSE/);
      expectNoInternals(r.out);
    } finally {
      busy.close();
    }
  });

  it("an MLflow URI's password is never printed; the server's refusal of the credentials is a user error (2)", async () => {
    const seen: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      seen.push(req);
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 'PERMISSION_DENIED', message: `no access for ${req.url}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await cliAsync(['model', 'list', '--root', root], {
        MLFLOW_TRACKING_URI: `http://bob:s3cret-pw@127.0.0.1:${port}`,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        /^error \[MLFLOW_HTTP_ERROR\]: MLflow server http:\/\/127\.0\.0\.1:\d+ answered 403/m,
      );
      expect(r.out).not.toMatch(/s3cret-pw|bob:/);
      // The credentials were still sent, as basic auth.
      expect(seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('bob:s3cret-pw').toString('base64')}`);
      const token = await cliAsync(['model', 'list', '--root', root], {
        MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}/?token=tok-123456`,
      });
      expect(token.out).not.toMatch(/tok-123456/);
    } finally {
      server.close();
    }
  });
});

describe('evaluation with nothing to evaluate', () => {
  it('says so instead of "accuracy 0.000", logs no MLflow run, and `evaluate` exits 2', () => {
    const bad = nodePath.join(dir, 'bad-only');
    mkdirSync(bad);
    writeFileSync(nodePath.join(bad, 'x.json'), 'not json at all\n[1, 2]\n');
    const empty = nodePath.join(dir, 'lakehouse-empty');
    const run = cli(['run', '--root', empty, '--source', bad]);
    expect(run.status, run.out).toBe(0);
    expect(run.stdout).toMatch(/input records: 2 = 0 in bronze \+ 2 quarantined/);
    expect(run.out).not.toMatch(/accuracy/);
    const e = cli(['evaluate', '--root', empty]);
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(
      /^error \[EVALUATE_NO_ROWS\]: nothing to evaluate: version \d+ of gold has no rows/m,
    );
    const mlruns = nodePath.join(empty, 'mlruns');
    const runs = readdirSync(mlruns).flatMap((exp) =>
      /^\d+$/.test(exp)
        ? readdirSync(nodePath.join(mlruns, exp)).filter((r) => /^[0-9a-f]{32}$/.test(r))
        : [],
    );
    expect(runs).toEqual([]);
  }, 120_000);
});

describe('one run per lakehouse', () => {
  it('a second run refuses at start naming the holder; streams shows it; clear and vacuum --force wait', async () => {
    const lake = nodePath.join(dir, 'lakehouse-leased');
    const first = start([
      'run',
      '--root',
      lake,
      '--source',
      source('leased', 1, 20),
      '--trigger',
      'continuous',
    ]);
    try {
      await expect.poll(() => first.output(), { timeout: 60_000 }).toMatch(/application_stream: batch 0/);
      const second = cli(['run', '--root', lake]);
      expect(second.status).toBe(2);
      expect(second.stderr).toMatch(
        new RegExp(
          `^error \\[LEASE_HELD\\]: .* is in use by another tweetlake process: pid ${first.child.pid} on ${hostname()} since \\d{4}-`,
          'm',
        ),
      );
      expect(second.stderr).toMatch(/\(tweetlake run --root .* --trigger continuous\)/);
      expect(cli(['streams', '--root', lake]).stdout).toMatch(
        new RegExp(`^lease: held by pid ${first.child.pid} on `, 'm'),
      );
      expect(cli(['clear', '--root', lake]).status).toBe(2);
      const vacuum = cli(['table', 'vacuum', `${lake}/silver`, '--retain-hours', '0', '--force']);
      expect(vacuum.status).toBe(2);
      expect(vacuum.stderr).toMatch(/a run is using the lakehouse/);
      // Reading needs no lease.
      expect(
        cli(['sql', 'SELECT count(*) AS n FROM bronze', '--root', lake, '--format', 'jsonl']).stdout,
      ).toBe('{"n":20}\n');
    } finally {
      cli(['stop', '--root', lake]);
    }
    expect(await first.exited).toBe(0);
    expect(cli(['streams', '--root', lake]).stdout).toMatch(/^lease: free/m);
  }, 120_000);
});

describe('Ctrl-C', () => {
  it('stops after the current batch, says so, exits 130 and evaluates nothing', async () => {
    const lake = nodePath.join(dir, 'lakehouse-sigint');
    const run = start([
      'run',
      '--root',
      lake,
      '--source',
      source('sigint', 12, 25),
      '--max-files-per-trigger',
      '1',
    ]);
    await expect.poll(() => run.output(), { timeout: 60_000 }).toMatch(/bronze_stream: batch 0 /);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const out = run.output();
    expect(out).toMatch(/stopping after the current batch \(Ctrl-C again to abort\)/);
    expect(out).toMatch(/^error \[INTERRUPTED\]: interrupted by SIGINT/m);
    expect(out).not.toMatch(/evaluation|accuracy/);
    expect(out).not.toMatch(/silver_stream: started/);
    // What was committed is whole: every admitted file's lines are in bronze, the rest come next run.
    const again = cli(['run', '--root', lake, '--source', nodePath.join(dir, 'sigint')]);
    expect(again.status, again.out).toBe(0);
    // this run read what the interrupted one had not; the tables hold every record once
    expect(again.stdout).toMatch(/input records: (\d+) = \1 in bronze \+ 0 quarantined \(read in this run\)/);
    expect(again.stdout).toMatch(/tables in all: 300 bronze rows, 0 quarantined/);
  }, 180_000);

  it('a second Ctrl-C aborts at once (exit 130); the next run resumes exactly once', async () => {
    const lake = nodePath.join(dir, 'lakehouse-abort');
    // 2 files of 2,000 distinct texts: a gold batch long enough (seconds, even on a fast machine) that
    // the second Ctrl-C lands inside it
    const run = start(['run', '--root', lake, '--source', distinctSource('abort', 2, 2000)]);
    await expect.poll(() => run.output(), { timeout: 90_000 }).toMatch(/gold_stream: scored/);
    run.child.kill('SIGINT');
    await expect.poll(() => run.output(), { timeout: 10_000 }).toMatch(/stopping after the current batch/);
    const t0 = Date.now();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(run.output()).toMatch(/aborting now/);
    // The dead process's lease is taken over; the batch it was in runs again, once.
    const again = cli(['run', '--root', lake, '--source', nodePath.join(dir, 'abort')]);
    expect(again.status, again.out).toBe(0);
    const count = cli([
      'sql',
      'SELECT (SELECT count(*) FROM gold) AS gold, (SELECT count(*) FROM silver) AS silver',
      '--root',
      lake,
      '--format',
      'jsonl',
    ]);
    const n = JSON.parse(count.stdout) as { gold: number; silver: number };
    expect(n.gold).toBe(n.silver);
  }, 240_000);
});
