/**
 * Every `tweetlake` command in a code block of README.md or docs/*.md, run as written (through a
 * shell, against the built CLI) in document order on one lakehouse, each with a check of what it
 * did. A documented command without a check fails the test, so a doc change cannot go untested.
 * The environment makes it small: TWEETLAKE_SOURCE is 80 sample tweets (the bundled sample is
 * what `tweetlake run` reads otherwise), one source file per batch, and a free dashboard port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { freePort } from '../helpers/s3-server.js';

const CLI = nodePath.resolve('dist/cli/main.js');
const SAMPLE = nodePath.resolve('data/sample/tweets-001.json');
const SMALL = 80;

/** `npx tweetlake …` runs the built CLI; any other npx is a mistake in the docs. */
const PREAMBLE = `npx() { if [ "$1" = tweetlake ]; then shift; node ${JSON.stringify(CLI)} "$@"; else echo "npx $1 is not tweetlake" >&2; return 127; fi; }
tweetlake() { node ${JSON.stringify(CLI)} "$@"; }
`;

/** Lines of fenced code blocks (not JSON/YAML/text output) that run a tweetlake subcommand, in order. */
function documentedCommands(): { file: string; line: string }[] {
  const subcommands = buildProgram()
    .commands.map((c) => c.name())
    .join('|');
  const command = new RegExp(`(^|&&\\s*)(npx\\s+)?tweetlake\\s+(${subcommands})\\b`);
  const files = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: { file: string; line: string }[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const block of text.matchAll(/^```([^\n]*)\n([\s\S]*?)^```/gm)) {
      if (/^(json|ya?ml|text|txt)$/i.test(block[1]!.trim())) continue;
      for (const raw of block[2]!.split('\n')) {
        const line = raw.replace(/\s{2,}#.*$/, '').trim(); // a trailing comment
        if (command.test(line)) out.push({ file, line });
      }
    }
  }
  return out;
}

interface Ran {
  status: number | null;
  out: string;
}

interface Ctx {
  dir: string;
  port: number;
  env: NodeJS.ProcessEnv;
  sh: (line: string) => Ran;
}

interface Check {
  /** The part of the line to run, when the rest is not tweetlake's (and is tested elsewhere). */
  run?: string;
  /** Long-running commands (a server) are started, checked, then stopped with Ctrl-C. */
  server?: (ctx: Ctx, line: string) => Promise<void>;
  check?: (r: Ran, ctx: Ctx) => void;
}

const rowsOf = (out: string, table: string) =>
  Number(new RegExp(`^${table}\\s+\\d+\\s+(\\d+)`, 'm').exec(out)?.[1]);

/**
 * Runs a `tweetlake run --model <server>` line with a config that tries the server once (the line's
 * own --config, or the one the CLI reads from the working folder): exit 3 and a message naming the
 * server; the lakehouse is left for the next command, which completes gold.
 */
async function unreachableModelServer(ctx: Ctx, line: string): Promise<void> {
  const config = nodePath.join(ctx.dir, 'tweetlake.config.json');
  writeFileSync(
    config,
    JSON.stringify({ maxBatchAttempts: 1, model: { server: { maxAttempts: 1, timeoutMs: 5000 } } }),
  );
  try {
    const r = ctx.sh(line);
    const server = /--model (\S+)/.exec(line)![1]!;
    expect(r.status, `${line}\n${r.out}`).toBe(3);
    expect(r.out).toContain(server.replace(/\/v2\/models\/.*$/, ''));
    expect(r.out).toMatch(/model server/i);
  } finally {
    rmSync(config, { force: true });
  }
}

/**
 * Runs a documented `s3://` line against an endpoint where nothing listens (npm test starts no S3
 * server: test/interop/s3/s3-pipeline.test.ts runs these commands against a real one), trying each
 * request twice: exit 3 and a message naming the endpoint and what to check; nothing local is made.
 */
async function unreachableS3(
  ctx: Ctx,
  line: string,
  configName = 'tweetlake.config.json',
  settings: Record<string, unknown> = {},
): Promise<void> {
  const config = nodePath.join(ctx.dir, configName);
  const port = await freePort(); // nothing listens there
  writeFileSync(
    config,
    JSON.stringify({
      ...settings,
      storage: { s3: { endpoint: `http://127.0.0.1:${port}`, maxAttempts: 2 } },
    }),
  );
  try {
    const env = {
      ...ctx.env,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    };
    const r = spawnSync('bash', ['-c', PREAMBLE + line], { cwd: ctx.dir, env, encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, `${line}\n${out}`).toBe(3);
    expect(out).toMatch(/S3_UNREACHABLE/);
    expect(out).toContain(`http://127.0.0.1:${port}`);
    expect(readdirSync(ctx.dir)).not.toContain('s3:');
  } finally {
    rmSync(config, { force: true });
  }
}

const CHECKS: Record<string, Check> = {
  'npm ci && npx tweetlake run': {
    run: 'npx tweetlake run', // npm ci from a fresh clone: test/e2e/readme.test.ts
    check: (r) => {
      expect(r.out).toMatch(new RegExp(`input records: ${SMALL} = ${SMALL} in bronze \\+ 0 quarantined`));
      expect(r.out).toMatch(/registered the bundled model as HF_TWEET_SENTIMENT version 1/);
      expect(r.out).toMatch(/evaluation \(MLflow run [0-9a-f]{32} in /);
      expect(rowsOf(r.out, 'gold')).toBeGreaterThanOrEqual(SMALL);
    },
  },
  'npx tweetlake sql "SELECT mention, negative, positive, total FROM application ORDER BY total DESC LIMIT 10"':
    {
      check: (r) => {
        const lines = r.out.trim().split('\n');
        expect(lines[0]).toMatch(/^mention\s+negative\s+positive\s+total$/);
        const rows = lines.slice(2, -1).map((l) => l.split(/\s+/));
        expect(rows.length).toBeGreaterThan(1);
        expect(lines.at(-1)).toBe(`(${rows.length} rows)`);
        for (const [mention, neg, pos, total] of rows) {
          expect(mention).toMatch(/^@[a-z0-9_]{1,15}$/);
          expect(Number(neg) + Number(pos)).toBeLessThanOrEqual(Number(total));
        }
        const totals = rows.map((x) => Number(x[3]));
        expect(totals).toEqual([...totals].sort((a, b) => b - a));
      },
    },
  'npx tweetlake sql "SELECT cleaned_text, predicted_sentiment FROM gold WHERE mention = \'@united\' LIMIT 5"':
    {
      check: (r) => {
        expect(r.out).toMatch(/^cleaned_text\s+predicted_sentiment$/m);
        expect(r.out).toMatch(/^\(5 rows\)$/m);
        expect(r.out.match(/\s(NEG|NEU|POS)$/gm)).toHaveLength(5);
      },
    },
  'npx tweetlake table history lakehouse/gold': {
    check: (r) => {
      expect(r.out).toMatch(/^version\s+timestamp\s+operation/);
      expect(r.out).toMatch(/^1\s+\S+\s+STREAMING UPDATE/m);
      expect(r.out).toMatch(/^0\s+\S+\s+CREATE TABLE/m);
    },
  },
  'npx tweetlake table show lakehouse/bronze --version 1 --limit 5': {
    check: (r) => {
      expect(r.out).toMatch(/^date\s+user\s+text\s+sentiment/);
      expect(r.out).toMatch(/\(5 rows shown; version 1\)/);
    },
  },
  'npx tweetlake streams': {
    check: (r) => {
      expect(r.out).toMatch(/^lease: free/);
      // Two source files, one per batch: batches 0 and 1 of every stream.
      for (const s of ['bronze_stream', 'silver_stream', 'gold_stream', 'application_stream'])
        expect(r.out).toMatch(new RegExp(`^${s}\\s+false\\s+Stopped\\s+1\\s+\\d+\\s+\\d+\\s+2\\s`, 'm'));
    },
  },
  'npx tweetlake run --orchestration concurrent': {
    check: (r) => {
      // Nothing new: it ends at once, with the same tables.
      expect(r.out).toMatch(/\(concurrent, available-now\)/);
      expect(r.out).toMatch(/input records: 0 = 0 in bronze \+ 0 quarantined/);
      expect(r.out).toMatch(new RegExp(`tables in all: ${SMALL} bronze rows, 0 quarantined`));
      expect(Number(/elapsed: ([\d.]+) s/.exec(r.out)?.[1])).toBeLessThan(20);
    },
  },
  'npx tweetlake generate --tweets 1000 --files 4 --out incoming && npx tweetlake run --source incoming --clear':
    {
      check: (r, ctx) => {
        expect(r.out).toMatch(/wrote 1000 tweets in 4 files to incoming/);
        expect(readdirSync(nodePath.join(ctx.dir, 'incoming'))).toHaveLength(4);
        expect(r.out).toMatch(/input records: 1000 = 1000 in bronze \+ 0 quarantined/);
        expect(r.out).toMatch(/^bronze_stream: batch 3 /m); // one file per batch (TWEETLAKE_MAX_FILES_PER_TRIGGER)
        expect(r.out).toMatch(/evaluation \(MLflow run/);
      },
    },
  'npx tweetlake model list': {
    check: (r) => {
      expect(r.out).toMatch(/^HF_TWEET_SENTIMENT\s+1\s+Production\s+production\s+READY/m);
      expect(r.out).toMatch(/^registry: .*mlruns$/m);
    },
  },
  'npx tweetlake table optimize lakehouse/silver && npx tweetlake table vacuum lakehouse/silver --dry-run': {
    check: (r, ctx) => {
      expect(r.out).toMatch(/^optimized: version \d+, 4 files \(\d+ bytes\) -> 1 files/m);
      // The four small files are kept for time travel within the retention (168 h).
      expect(r.out).toMatch(/^would delete 0 file\(s\), 0 bytes$/m);
      const describe = JSON.parse(ctx.sh('npx tweetlake table describe lakehouse/silver').out);
      expect(describe.numFiles).toBe(1);
    },
  },
  // The Kafka recipe, with nothing listening (unreachableKafka, below).
  'npx tweetlake produce --source data/sample --to kafka://localhost:9092/tweets --partitions 6': {
    server: unreachableKafka,
  },
  'npx tweetlake run --source kafka://localhost:9092/tweets --config kafka.config.json': {
    server: unreachableKafka,
  },
  // The worker-group recipe: brokers and a lakehouse on S3, none of them there
  // (test/interop/kafka/kafka-group.test.ts runs workers against a real broker).
  'npx tweetlake produce --source data/sample --to kafka://broker1:9092,broker2:9092/tweets --partitions 12':
    {
      server: unreachableKafka,
    },
  'npx tweetlake run --group tweets-to-gold --source kafka://broker1:9092,broker2:9092/tweets --config worker.config.json':
    { server: unreachableGroup },
  'npx tweetlake streams --root s3://lake/tweets': { server: unreachableS3 },
  // The model-server recipes need a server (Python) that npm test does not start: test/interop/
  // model-serving.test.ts runs gold through mlflow models serve and MLServer. Here, with nothing
  // listening at the documented address, each stops with a clear error naming the server.
  'tweetlake run --model mlflow+http://127.0.0.1:5001': { server: unreachableModelServer },
  'tweetlake run --model oip+http://127.0.0.1:8080/v2/models/hf-tweet-sentiment': {
    server: unreachableModelServer,
  },
  'tweetlake run --model mlflow+http://gpu-host:5001 --config tweetlake.config.json': {
    server: unreachableModelServer,
  },
  'tweetlake run --root s3://team-lake/tweets --source s3://team-lake/incoming': { server: unreachableS3 },
  'tweetlake table show s3://team-lake/tweets/silver --limit 5': { server: unreachableS3 },
  'tweetlake sql --root s3://team-lake/tweets "SELECT mention, count(*) FROM gold GROUP BY 1 ORDER BY 2 DESC LIMIT 5"':
    { server: unreachableS3 },
  'tweetlake streams --root s3://team-lake/tweets': { server: unreachableS3 },
  'npx tweetlake dashboard': {
    server: async (ctx, line) => {
      const child = spawn('bash', ['-c', PREAMBLE + line], { cwd: ctx.dir, env: ctx.env, detached: true });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await expect.poll(() => out, { timeout: 30_000 }).toMatch(/at http:\/\/127\.0\.0\.1:\d+ \(Ctrl-C/);
      expect(out).toContain(`http://127.0.0.1:${ctx.port}`);
      const state = (await (await fetch(`http://127.0.0.1:${ctx.port}/api/state`)).json()) as {
        tables: { name: string; rows: number }[];
      };
      expect(state.tables.find((t) => t.name === 'bronze')?.rows).toBe(1000);
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toBe(0);
    },
  },
  'npx tweetlake evaluate': {
    check: (r) => {
      expect(r.out).toMatch(/^MLflow run [0-9a-f]{32} \(experiment tweetlake-evaluation\)/);
      expect(r.out).toMatch(/^accuracy\s+0\.\d+$/m);
      expect(r.out).toMatch(/^f1_macro\s+0\.\d+$/m);
    },
  },
};

describe('every tweetlake command in README.md and docs/, as written', () => {
  const documented = documentedCommands();
  const ctx = {} as Ctx;
  beforeAll(async () => {
    ctx.dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-docs-'));
    ctx.port = await freePort();
    const source = nodePath.join(ctx.dir, '.small-source');
    mkdirSync(source);
    const lines = readFileSync(SAMPLE, 'utf8').split('\n').slice(0, SMALL);
    writeFileSync(nodePath.join(source, 'a.json'), `${lines.slice(0, 40).join('\n')}\n`);
    writeFileSync(nodePath.join(source, 'b.json'), `${lines.slice(40).join('\n')}\n`);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env))
      if (k.startsWith('TWEETLAKE_') || k.startsWith('MLFLOW_')) delete env[k];
    ctx.env = {
      ...env,
      TWEETLAKE_SOURCE: source,
      TWEETLAKE_MAX_FILES_PER_TRIGGER: '1',
      TWEETLAKE_DASHBOARD_PORT: String(ctx.port),
    };
    ctx.sh = (line) => {
      const r = spawnSync('bash', ['-c', PREAMBLE + line], {
        cwd: ctx.dir,
        env: ctx.env,
        encoding: 'utf8',
        timeout: 240_000,
      });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
  });
  afterAll(() => rmSync(ctx.dir, { recursive: true, force: true }));

  it('finds the commands, and has a check for each (and none for a command no longer documented)', () => {
    expect(documented.length).toBeGreaterThan(10);
    const lines = documented.map((d) => d.line);
    expect(
      lines.filter((l) => !Object.hasOwn(CHECKS, l)),
      'documented commands without a check',
    ).toEqual([]);
    expect(
      Object.keys(CHECKS).filter((l) => !lines.includes(l)),
      'checks of commands not documented',
    ).toEqual([]);
  });

  it('runs each one in document order, with the effect it promises', async () => {
    for (const { file, line } of documented) {
      const check = CHECKS[line]!;
      if (check.server) {
        await check.server(ctx, check.run ?? line);
        continue;
      }
      const r = ctx.sh(check.run ?? line);
      expect(r.status, `${file}: ${line}\n${r.out}`).toBe(0);
      check.check!(r, ctx);
    }
  }, 300_000);
});

/**
 * The Kafka recipe needs a broker that npm test does not start (test/interop/kafka/kafka-run.test.ts
 * runs it against a real one): with nothing listening at the documented address, each command stops
 * with its typed error naming the broker (the run's source gives up after 1 s, one attempt a batch).
 */
/**
 * A group worker as documented (the recipe's worker.config.json: a lakehouse on S3, continuous) with
 * nothing listening at the S3 endpoint: it stops at once, before joining the group, with exit 3.
 */
function unreachableGroup(ctx: Ctx, line: string): Promise<void> {
  return unreachableS3(ctx, line, 'worker.config.json', {
    root: 's3://lake/tweets',
    trigger: 'continuous',
    kafka: { startingOffsets: 'earliest', maxOffsetsPerTrigger: 20000, retryMs: 1000 },
  });
}

async function unreachableKafka(ctx: Ctx, line: string): Promise<void> {
  const config = nodePath.join(ctx.dir, 'kafka.config.json');
  // the documented folder, in the lakehouse's folder: a small sample
  mkdirSync(nodePath.join(ctx.dir, 'data', 'sample'), { recursive: true });
  writeFileSync(nodePath.join(ctx.dir, 'data', 'sample', 'tweets-001.json'), readFileSync(SAMPLE));
  writeFileSync(
    config,
    JSON.stringify({ maxBatchAttempts: 1, kafka: { startingOffsets: 'earliest', retryMs: 1000 } }),
  );
  try {
    const r = ctx.sh(line);
    expect(r.status, `${line}\n${r.out}`).toBe(3);
    expect(r.out).toContain(/kafka:\/\/([^/]+)\//.exec(line)![1]!);
    expect(r.out).toMatch(line.includes(' produce ') ? /error \[KAFKA_PRODUCE\]/ : /error \[KAFKA_SOURCE\]/);
    expect(r.out).toMatch(/is the broker running and reachable/);
  } finally {
    rmSync(config, { force: true });
  }
}
