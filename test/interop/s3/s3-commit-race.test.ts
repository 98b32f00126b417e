/**
 * The commit protocol in miniature on a real S3 server: 4 processes × 50 "claim the next version
 * with putIfAbsent" loops on one `_delta_log/` give 200 contiguous versions, each commit once.
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../src/storage/s3-store.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

const ROOT = nodePath.resolve(nodePath.dirname(fileURLToPath(import.meta.url)), '../../..');
const WRITER = nodePath.join(ROOT, 'test/helpers/s3-commit-writer.ts');
const WRITERS = 4;
const COMMITS = 50;
let server: S3TestServer;

type Report = { writer: string; versions: number[]; conflicts: number };

/** Runs one writer process with the connection in the standard AWS variables only. */
function runWriter(url: string, writer: string, startAt: number): Promise<Report> {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WRITER, url, writer, String(COMMITS), String(startAt)],
      {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`writer ${writer} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Report);
    });
  });
}

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket('race');
}, 900_000);

afterAll(async () => {
  await server?.stop();
});

describe('many writer processes on one S3 log', () => {
  it(
    `${WRITERS} processes × ${COMMITS} putIfAbsent-next-version loops give ${WRITERS * COMMITS} contiguous versions, each commit once`,
    { timeout: 180_000 },
    async () => {
      const url = 's3://race/table';
      const startAt = Date.now() + 4000; // all processes loaded before the first claim
      const reports = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) => runWriter(url, `w${i}`, startAt)),
      );
      const store = new S3ObjectStore(url, server.options());
      const listed = await store.list('_delta_log/');
      const total = WRITERS * COMMITS;
      expect(listed.map((m) => m.path)).toEqual(
        Array.from({ length: total }, (_, v) => `_delta_log/${String(v).padStart(20, '0')}.json`),
      );
      // each version holds the commit its writer claimed, and every (writer, seq) appears exactly once
      const byVersion = await Promise.all(
        listed.map(
          async (m) =>
            JSON.parse(new TextDecoder().decode(await store.get(m.path))) as { writer: string; seq: number },
        ),
      );
      for (const r of reports) {
        expect(r.versions).toHaveLength(COMMITS);
        r.versions.forEach((v, seq) => expect(byVersion[v]).toEqual({ writer: r.writer, seq }));
      }
      expect(new Set(byVersion.map((c) => `${c.writer}/${c.seq}`)).size).toBe(total);
      // the writers really raced: some claims lost to another process
      expect(reports.reduce((sum, r) => sum + r.conflicts, 0)).toBeGreaterThan(0);
      store.close();
    },
  );
});
