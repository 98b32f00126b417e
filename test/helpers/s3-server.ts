/**
 * A real S3 server on loopback for tests: versitygw (posix backend) in a temporary folder on a free
 * port, started and stopped by the tests. The binary is built once with `go install` into a cache
 * folder (TWEETLAKE_TEST_BIN, default ~/.cache/tweetlake-test/bin) and reused after that.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3StoreOptions } from '../../src/storage/s3-store.js';

export const VERSITYGW_VERSION = 'v1.8.0';
const MODULE = 'github.com/versity/versitygw/cmd/versitygw';

/** A running server: its endpoint and root credentials, and ways to stop and start it again. */
export interface S3TestServer {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Creates a bucket; resolves to its `s3://` URL. */
  createBucket(name: string): Promise<string>;
  /** Store options that reach this server (merged with `extra`). */
  options(extra?: S3StoreOptions): S3StoreOptions;
  /** The standard AWS variables that reach this server, as a user sets them for a process. */
  env(): Record<string, string>;
  /** Kills the server process (the data stays); `start` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Kills the server and removes its data. */
  stop(): Promise<void>;
}

function binDir(): string {
  return process.env.TWEETLAKE_TEST_BIN ?? nodePath.join(homedir(), '.cache', 'tweetlake-test', 'bin');
}

/** Waits for a lock folder (several test files may install at once); a dead holder's lock is taken over. */
export async function withInstallLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await fs.mkdir(lock);
      await fs.writeFile(nodePath.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const pid = Number(await fs.readFile(nodePath.join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (pid > 0 && !isAlive(pid)) await fs.rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The versitygw binary, built with `go install` from the Go module proxy on first use. */
export async function versitygwBinary(): Promise<string> {
  const dir = nodePath.join(binDir(), `versitygw-${VERSITYGW_VERSION}`);
  const bin = nodePath.join(dir, 'versitygw');
  if (existsSync(bin)) return bin;
  await fs.mkdir(binDir(), { recursive: true });
  return withInstallLock(`${dir}.lock`, async () => {
    if (existsSync(bin)) return bin;
    const result = spawnSync('go', ['install', `${MODULE}@${VERSITYGW_VERSION}`], {
      env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0' },
      encoding: 'utf8',
      timeout: 900_000,
    });
    if (result.error || result.status !== 0 || !existsSync(bin))
      throw new Error(
        `could not build versitygw ${VERSITYGW_VERSION} with go install (is Go 1.2x installed and the Go ` +
          `module proxy reachable?): ${result.error?.message ?? result.stderr}`,
      );
    return bin;
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitHealthy(endpoint: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}: ${log()}`);
    try {
      if ((await fetch(`${endpoint}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`versitygw did not answer on ${endpoint} within 30 s: ${log()}`);
}

/** Starts versitygw on a free loopback port with a fresh data folder. */
export async function startS3Server(): Promise<S3TestServer> {
  const bin = await versitygwBinary();
  const dataDir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-s3-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'tweetlake-test', secretAccessKey: 'tweetlake-test-secret-0123456789' };
  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async () => {
    output = '';
    const args = ['--access', credentials.accessKeyId, '--secret', credentials.secretAccessKey];
    args.push('--region', 'us-east-1', '--port', `127.0.0.1:${port}`, '--health', '/health', '--quiet');
    const proc = spawn(bin, [...args, 'posix', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child = proc;
    await waitHealthy(endpoint, proc, () => output.slice(-2000));
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };
  const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });

  await start();
  return {
    endpoint,
    credentials,
    async createBucket(name) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return `s3://${name}`;
    },
    options: (extra = {}) => ({ endpoint, credentials, region: 'us-east-1', ...extra }),
    env: () => ({
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
    kill,
    start,
    async stop() {
      await kill();
      admin.destroy();
      process.removeListener('exit', killOnExit);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
