/**
 * Where the model-free stages spend their time, and what the changes recorded in docs/BENCHMARKS.md
 * ("Profile") gained: each step of bronze and silver timed on one batch of a generated source, with
 * the SQL as it was before those changes (kept below, scratch copies) and as src/ has it today, with a
 * check that both give exactly the same rows. Also writes DuckDB's EXPLAIN ANALYZE of today's bronze
 * and silver SQL next to --out.
 *
 *   npx tsx bench/profile/stage-sql.ts [--source bench/.work/sources/100k-10f-seed42] [--reps 3] [--out DIR]
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { DuckSession, literal } from '../../dist/duck/session.js';
import { loadRawRecords } from '../../dist/engine/raw-records.js';
import { LocalObjectStore } from '../../dist/storage/local-store.js';
import { bronzeRowsSql, rescuedDataSql } from '../../dist/pipeline/bronze.js';
import {
  MENTION_STRIP,
  cleanedTextSql,
  mentionsSql,
  parseTwitterDateSql,
  silverRowsSql,
} from '../../dist/pipeline/silver.js';
import { fmt, renderTable } from '../lib/table.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const COLUMNS = ['date', 'user', 'text', 'sentiment'];
const IS_OBJECT = `coalesce(file_error IS NULL AND CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END, false)`;

/*
 * Change 1 (the JSON Lines branch of the SQL that split files into lines) is gone with that SQL: the
 * files are read in JS through the object store now (src/engine/range-reader.ts) and DuckDB only
 * splits blocks of lines; its step below times today's reader.
 */

/**
 * Change 2, before (src/pipeline/bronze.ts, bronzeRowsSql): a json_type and a json_extract_string per
 * column, and _rescued_data (json_type/json_extract per column, two json_merge_patch) on every row.
 */
export function beforeBronzeRowsSql(raw: string, columns: readonly string[], processingTime: string): string {
  const field = (c: string) =>
    `CASE WHEN json_type(line, [${literal(c)}])[1] = 'VARCHAR' THEN json_extract_string(line, [${literal(c)}])[1] END`;
  const cols = columns.map((c) => `${field(c)} AS "${c.replace(/"/g, '""')}"`).join(', ');
  return `SELECT ${cols}, ${rescuedDataSql(columns)} AS _rescued_data, source_file,
      CAST(${literal(processingTime)} AS TIMESTAMPTZ) AS processing_time
    FROM ${raw} WHERE ${IS_OBJECT}`;
}

/**
 * Change 3, before (src/pipeline/silver.ts, cleanedTextSql): `regexp_replace(x, '\s+', ' ', 'g')`,
 * which rewrites every single space of every text (~15 matches per tweet).
 */
export function beforeCleanedTextSql(col: string): string {
  const strip = (x: string) => `regexp_replace(${x}, '${MENTION_STRIP}', '\\1\\2', 'g')`;
  return `trim(regexp_replace(${strip(strip(col))}, '\\s+', ' ', 'g'))`;
}

/** silverRowsSql before change 3. */
export function beforeSilverRowsSql(bronze: string): string {
  return `SELECT "timestamp", unnest(CASE WHEN coalesce(len(ms), 0) = 0 THEN [CAST(NULL AS VARCHAR)] ELSE ms END) AS mention, cleaned_text, sentiment FROM (
      SELECT ${parseTwitterDateSql('date')} AS "timestamp", ${mentionsSql('text')} AS ms, ${beforeCleanedTextSql('text')} AS cleaned_text, sentiment FROM (${bronze}))`;
}

async function main(): Promise<void> {
  const dir = nodePath.resolve(arg('source', 'bench/.work/sources/100k-10f-seed42'));
  const reps = Number(arg('reps', '3'));
  const out = nodePath.resolve(arg('out', 'bench/.work/profile'));
  mkdirSync(out, { recursive: true });
  const names = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.startsWith('_'))
    .sort();
  const files = names.map((f) => nodePath.join(dir, f));
  const store = new LocalObjectStore(dir);
  const session = await DuckSession.create();
  const now = new Date().toISOString();
  const time = async (sql: string): Promise<number> => {
    const all: number[] = [];
    for (let r = 0; r < reps; r++) {
      await session.run(`DROP TABLE IF EXISTS scratch`);
      const t0 = performance.now();
      await session.run(`CREATE TABLE scratch AS ${sql}`);
      all.push(performance.now() - t0);
    }
    await session.run(`DROP TABLE IF EXISTS scratch`);
    return all.sort((a, b) => a - b)[Math.floor((reps - 1) / 2)]!;
  };
  const same = async (a: string, b: string): Promise<boolean> => {
    const q = (x: string) => `SELECT * FROM (${x})`;
    const [row] = await session.all(
      `SELECT count(*) AS n FROM ((${q(a)} EXCEPT ALL ${q(b)}) UNION ALL (${q(b)} EXCEPT ALL ${q(a)}))`,
    );
    return Number(row?.n) === 0;
  };

  const loaded = await loadRawRecords(session, store, names);
  await session.run(`CREATE TABLE raw AS ${loaded.sql}`);
  await session.run(`CREATE TABLE bronze AS ${bronzeRowsSql('raw', COLUMNS, now)}`);
  const [{ n }] = (await session.all(`SELECT count(*) AS n FROM raw`)) as [{ n: string }];
  const [{ at }] = (await session.all(
    `SELECT count(*) FILTER (WHERE contains(text, '@')) AS at FROM bronze`,
  )) as [{ at: string }];
  const rows: (string | number)[][] = [];
  const step = async (name: string, sql: string) => rows.push([name, fmt(await time(sql), 0), '', '', '']);
  const compare = async (name: string, before: string, today: string) => {
    const a = await time(before);
    const b = await time(today);
    rows.push([name, fmt(a, 0), fmt(b, 0), `${fmt(a / b, 2)}×`, (await same(before, today)) ? 'yes' : 'NO']);
  };

  const reads: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const table = await loadRawRecords(session, store, names);
    reads.push(performance.now() - t0);
    await table.dispose();
  }
  rows.push([
    'bronze: read files into blocks of lines (JS)',
    fmt(reads.sort((a, b) => a - b)[Math.floor((reps - 1) / 2)]!, 0),
    '',
    '',
    '',
  ]);
  await step('bronze: raw records (split the blocks into lines)', loaded.sql);
  await compare(
    'bronze: rows (typed columns, rescued data)',
    beforeBronzeRowsSql('raw', COLUMNS, now),
    bronzeRowsSql('raw', COLUMNS, now),
  );
  await step('  of which: json_valid + json_type (is an object)', `SELECT ${IS_OBJECT} AS ok FROM raw`);
  await step('  of which: rescued data alone', `SELECT ${rescuedDataSql(COLUMNS)} FROM raw`);
  await step(
    '  reference: DuckDB read_json of the 4 columns',
    `SELECT * FROM read_json(${literal(files[0]!).replace(/^'/, "['")}${files
      .slice(1)
      .map((f) => `, ${literal(f)}`)
      .join(
        '',
      )}], format='newline_delimited', columns={date: 'VARCHAR', "user": 'VARCHAR', text: 'VARCHAR', sentiment: 'VARCHAR'})`,
  );
  await compare(
    'silver: rows',
    beforeSilverRowsSql('SELECT * FROM bronze'),
    silverRowsSql('SELECT * FROM bronze'),
  );
  await step('  of which: date parsing', `SELECT ${parseTwitterDateSql('date')} FROM bronze`);
  await step('  of which: mentions', `SELECT ${mentionsSql('text')} FROM bronze`);
  await compare(
    '  of which: cleaned text',
    `SELECT ${beforeCleanedTextSql('text')} FROM bronze`,
    `SELECT ${cleanedTextSql('text')} FROM bronze`,
  );
  await session.run(`CREATE TABLE silver AS ${silverRowsSql('SELECT * FROM bronze')}`);
  const copy = async (name: string, table: string) => {
    const all: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await session.run(
        `COPY ${table} TO ${literal(nodePath.join(out, `${table}.parquet`))} (FORMAT parquet, COMPRESSION snappy)`,
      );
      all.push(performance.now() - t0);
    }
    rows.push([name, fmt(all.sort((a, b) => a - b)[Math.floor((reps - 1) / 2)]!, 0), '', '', '']);
  };
  await copy('bronze: Parquet write (snappy)', 'bronze');
  await copy('silver: Parquet write (snappy)', 'silver');

  for (const [name, sql] of [
    ['bronze', bronzeRowsSql('raw', COLUMNS, now)],
    ['silver', silverRowsSql('SELECT * FROM bronze')],
    ['raw', loaded.sql],
  ] as const) {
    const plan = await session.all(`EXPLAIN ANALYZE ${sql}`);
    writeFileSync(
      nodePath.join(out, `explain-analyze-${name}.txt`),
      plan.map((r) => String(r.explain_value)).join('\n'),
    );
  }
  await loaded.dispose();
  session.close();
  process.stdout.write(
    `${Number(n).toLocaleString('en-US')} records from ${files.length} files (${dir}); ${Number(at).toLocaleString('en-US')} texts contain '@'; median of ${reps}, ms\n` +
      renderTable(['step', 'before ms', 'src/ today ms', 'gain', 'same rows'], rows) +
      `EXPLAIN ANALYZE of today's SQL: ${out}/explain-analyze-{raw,bronze,silver}.txt\n`,
  );
}

await main();
