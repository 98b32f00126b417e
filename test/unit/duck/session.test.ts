import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, SCRATCH_SCHEMA, SqlError } from '../../../src/duck/session.js';
import { rejection } from '../../helpers/delta.js';

let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.create({ memoryLimit: '256MB' });
});
afterAll(() => session.close());

describe('DuckSession', () => {
  it('runs in UTC, with the scratch schema and the memory limit it was given', async () => {
    const [row] = await session.all(
      `SELECT CAST(TIMESTAMPTZ '2015-02-24 11:35:52-08:00' AS VARCHAR) AS t, current_setting('TimeZone') AS z`,
    );
    expect(row).toEqual({ t: '2015-02-24 19:35:52+00', z: 'UTC' });
    const schemas = await session.all(
      `SELECT schema_name FROM duckdb_schemas() WHERE schema_name = '${SCRATCH_SCHEMA}'`,
    );
    expect(schemas).toHaveLength(1);
    expect(await session.memoryLimit()).toMatch(/^2\d\d\.\d MiB$/);
  });

  it('removes the spill folder it made when it closes, and keeps one it was given', async () => {
    const spillOf = async (s: DuckSession) => {
      const [row] = await s.all(`SELECT current_setting('temp_directory') AS d`);
      return String(row?.d);
    };
    const own = await DuckSession.create();
    const other = await DuckSession.create();
    const ownDir = await spillOf(own);
    expect(ownDir).not.toBe(await spillOf(other)); // one closing must not take the other's
    expect(existsSync(ownDir)).toBe(true);
    own.close();
    expect(existsSync(ownDir)).toBe(false);
    expect(existsSync(await spillOf(other))).toBe(true);
    other.close();
    const given = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-spill-test-'));
    try {
      const s = await DuckSession.create({ tempDirectory: given });
      s.close();
      expect(existsSync(given)).toBe(true);
    } finally {
      rmSync(given, { recursive: true, force: true });
    }
  });

  it('appends rows through the appender and streams them back in chunks', async () => {
    await session.run(`CREATE TABLE ${SCRATCH_SCHEMA}.a (s VARCHAR, n BIGINT, d DOUBLE, b BOOLEAN)`);
    const rows: (string | number | boolean | null)[][] = Array.from({ length: 5000 }, (_, i) => [
      `t${i}`,
      i,
      i / 2,
      i % 2 === 0,
    ]);
    rows.push([null, null, null, null]);
    await session.appendRows('a', ['varchar', 'bigint', 'double', 'boolean'], rows, SCRATCH_SCHEMA);
    const chunks: number[] = [];
    let sum = 0;
    for await (const chunk of session.stream(`SELECT n FROM ${SCRATCH_SCHEMA}.a WHERE n IS NOT NULL`)) {
      chunks.push(chunk.length);
      for (const r of chunk) sum += Number(r.n);
    }
    expect(chunks.length).toBeGreaterThan(1); // DuckDB's vectors, not one array of every row
    expect(sum).toBe((4999 * 5000) / 2);
    const [nulls] = await session.all(`SELECT count(*) AS n FROM ${SCRATCH_SCHEMA}.a WHERE s IS NULL`);
    expect(nulls?.n).toBe('1');
    expect((await session.describe(`SELECT * FROM ${SCRATCH_SCHEMA}.a`)).map((c) => c.name)).toEqual([
      's',
      'n',
      'd',
      'b',
    ]);
  });

  it('reports a failing statement as an SqlError that carries the SQL', async () => {
    const err = await rejection(session.all(`SELECT * FROM no_such_table`));
    expect(err).toBeInstanceOf(SqlError);
    expect((err as SqlError).sql).toBe('SELECT * FROM no_such_table');
    // the session goes on after a failed statement
    expect(await session.all(`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  });

  it("says whose fault a failing statement is: a missing file is external, a mistake in tweetlake's SQL internal", async () => {
    const io = await rejection(session.all(`SELECT * FROM read_parquet('/nonexistent/x.parquet')`));
    expect(io).toMatchObject({ code: 'SQL_ERROR', domain: 'external' });
    const ours = await rejection(session.all(`SELECT * FROM no_such_table`));
    expect(ours).toMatchObject({ code: 'SQL_ERROR', domain: 'internal' });
  });
});
