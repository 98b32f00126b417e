/**
 * Where the model-free stages spend their time, and what the changes proposed in docs/BENCHMARKS.md
 * ("Profile") would gain: each step of bronze and silver timed on one batch of a generated source,
 * as src/ does it today and as proposed (SQL below, scratch copies; src/ is not changed), with a check
 * that both give exactly the same rows. Also writes DuckDB's EXPLAIN ANALYZE of the current bronze and
 * silver SQL next to --out.
 *
 *   npx tsx bench/profile/stage-sql.ts [--source bench/.work/sources/100k-10f-seed42] [--reps 3] [--out DIR]
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { DuckSession, literal } from '../../dist/duck/session.js';
import { rawRecordsSql } from '../../dist/engine/file-source.js';
import { bronzeRowsSql, rescuedDataSql } from '../../dist/pipeline/bronze.js';
import {
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

/**
 * Proposal 1 (src/engine/file-source.ts, rawRecordsSql, the JSON Lines branch): DuckDB's trim() and
 * rtrim(x, chars) cost ~1 µs per 200-byte line (they dominate the step); drop a line's trailing CRs
 * only when it ends with one, and test for a blank line (spaces only, as trim() sees it) with
 * regexp_matches(line, '[^ ]'). One row per line with unnest + generate_subscripts instead of a
 * lateral join with range(). Same rows.
 */
export function proposedRawRecordsSql(files: string[]): string {
  const current = rawRecordsSql(files);
  const from = `SELECT source_file, CAST(i AS BIGINT) AS line_number, rtrim(parts[i], chr(13)) AS line, CAST(NULL AS VARCHAR) AS file_error
    FROM lined, range(1, len(parts) + 1) r(i) WHERE trim(rtrim(parts[i], chr(13))) <> ''`;
  const to = `SELECT source_file, CAST(i AS BIGINT) AS line_number, line, CAST(NULL AS VARCHAR) AS file_error FROM (
      SELECT source_file, i, CASE WHEN ends_with(p, chr(13)) THEN rtrim(p, chr(13)) ELSE p END AS line
      FROM (SELECT source_file, unnest(parts) AS p, generate_subscripts(parts, 1) AS i FROM lined))
    WHERE regexp_matches(line, '[^ ]')`;
  if (!current.includes(from)) throw new Error('rawRecordsSql changed: update the proposal');
  return current.replace(from, to);
}

/**
 * Proposal 2 (src/pipeline/bronze.ts, bronzeRowsSql): parse each record once for the four types and
 * once for the four values (json_type / json_extract_string take a list of paths), and build
 * _rescued_data (two json_merge_patch calls per row today) only for records that have a key the
 * schema does not know or a non-string value; CASE evaluates its THEN only on the rows it selects.
 */
export function proposedBronzeRowsSql(
  raw: string,
  columns: readonly string[],
  processingTime: string,
): string {
  const keys = `[${columns.map(literal).join(', ')}]`;
  const cols = columns
    .map((c, i) => `CASE WHEN t[${i + 1}] = 'VARCHAR' THEN v[${i + 1}] END AS "${c.replace(/"/g, '""')}"`)
    .join(', ');
  const clean = `list_has_all(${keys}, json_keys(line)) AND list_bool_and(list_transform(t, x -> x IS NULL OR x IN ('VARCHAR', 'NULL')))`;
  return `SELECT ${cols}, CASE WHEN ${clean} THEN NULL ELSE ${rescuedDataSql(columns)} END AS _rescued_data, source_file,
      CAST(${literal(processingTime)} AS TIMESTAMPTZ) AS processing_time
    FROM (SELECT line, source_file, json_type(line, ${keys}) AS t, json_extract_string(line, ${keys}) AS v FROM ${raw} WHERE ${IS_OBJECT})`;
}

/** src/pipeline/silver.ts's MENTION_STRIP (not exported). */
const MENTION_STRIP = String.raw`(^|[^A-Za-z0-9_@.])@[A-Za-z0-9_]{1,15}([^\p{L}\p{N}_@]|$)`;

/**
 * Proposal 3 (src/pipeline/silver.ts, cleanedTextSql): `regexp_replace(x, '\s+', ' ', 'g')` rewrites
 * every single space of every text (~15 matches per tweet); replace only what changes, runs of two or
 * more white-space characters and single non-space ones: '[\t\n\f\r ]{2,}|[\t\n\f\r]' (RE2's \s is
 * exactly [\t\n\f\r ]). Same text.
 */
export function proposedCleanedTextSql(col: string): string {
  const strip = (x: string) => `regexp_replace(${x}, '${MENTION_STRIP}', '\\1\\2', 'g')`;
  return `trim(regexp_replace(${strip(strip(col))}, '[\\t\\n\\f\\r ]{2,}|[\\t\\n\\f\\r]', ' ', 'g'))`;
}

/** silverRowsSql with proposal 3. */
export function proposedSilverRowsSql(bronze: string): string {
  return `SELECT "timestamp", unnest(CASE WHEN coalesce(len(ms), 0) = 0 THEN [CAST(NULL AS VARCHAR)] ELSE ms END) AS mention, cleaned_text, sentiment FROM (
      SELECT ${parseTwitterDateSql('date')} AS "timestamp", ${mentionsSql('text')} AS ms, ${proposedCleanedTextSql('text')} AS cleaned_text, sentiment FROM (${bronze}))`;
}

async function main(): Promise<void> {
  const dir = nodePath.resolve(arg('source', 'bench/.work/sources/100k-10f-seed42'));
  const reps = Number(arg('reps', '3'));
  const out = nodePath.resolve(arg('out', 'bench/.work/profile'));
  mkdirSync(out, { recursive: true });
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.startsWith('_'))
    .map((f) => nodePath.join(dir, f))
    .sort();
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

  await session.run(`CREATE TABLE raw AS ${rawRecordsSql(files)}`);
  await session.run(`CREATE TABLE bronze AS ${bronzeRowsSql('raw', COLUMNS, now)}`);
  const [{ n }] = (await session.all(`SELECT count(*) AS n FROM raw`)) as [{ n: string }];
  const [{ at }] = (await session.all(
    `SELECT count(*) FILTER (WHERE contains(text, '@')) AS at FROM bronze`,
  )) as [{ at: string }];
  const rows: (string | number)[][] = [];
  const step = async (name: string, sql: string) => rows.push([name, fmt(await time(sql), 0), '', '', '']);
  const compare = async (name: string, current: string, proposed: string) => {
    const a = await time(current);
    const b = await time(proposed);
    rows.push([
      name,
      fmt(a, 0),
      fmt(b, 0),
      `${fmt(a / b, 2)}×`,
      (await same(current, proposed)) ? 'yes' : 'NO',
    ]);
  };

  await compare(
    'bronze: raw records (read files, split lines)',
    rawRecordsSql(files),
    proposedRawRecordsSql(files),
  );
  await step(
    '  of which: read_blob + decode only',
    `SELECT filename, decode(content) AS t FROM read_blob(${literal(files[0]!)}${files
      .slice(1)
      .map((f) => `, ${literal(f)}`)
      .join('')})`.replace(/read_blob\((.*)\)$/, 'read_blob([$1])'),
  );
  await compare(
    'bronze: rows (typed columns, rescued data)',
    bronzeRowsSql('raw', COLUMNS, now),
    proposedBronzeRowsSql('raw', COLUMNS, now),
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
    silverRowsSql('SELECT * FROM bronze'),
    proposedSilverRowsSql('SELECT * FROM bronze'),
  );
  await step('  of which: date parsing', `SELECT ${parseTwitterDateSql('date')} FROM bronze`);
  await step('  of which: mentions', `SELECT ${mentionsSql('text')} FROM bronze`);
  await compare(
    '  of which: cleaned text',
    `SELECT ${cleanedTextSql('text')} FROM bronze`,
    `SELECT ${proposedCleanedTextSql('text')} FROM bronze`,
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
    ['raw', rawRecordsSql(files)],
  ] as const) {
    const plan = await session.all(`EXPLAIN ANALYZE ${sql}`);
    writeFileSync(
      nodePath.join(out, `explain-analyze-${name}.txt`),
      plan.map((r) => String(r.explain_value)).join('\n'),
    );
  }
  session.close();
  process.stdout.write(
    `${Number(n).toLocaleString('en-US')} records from ${files.length} files (${dir}); ${Number(at).toLocaleString('en-US')} texts contain '@'; median of ${reps}, ms\n` +
      renderTable(['step', 'src/ today ms', 'proposed ms', 'gain', 'same rows'], rows) +
      `EXPLAIN ANALYZE of today's SQL: ${out}/explain-analyze-{raw,bronze,silver}.txt\n`,
  );
}

await main();
