/**
 * A writer process for the concurrency test: appends `count` commits of one row each (id
 * `<writer>-<seq>`) to the existing table at `dir`, then prints one JSON line: { writer, versions }.
 * With `startAt` (ms since the epoch) it loads the table first, then waits until that time, so that
 * writers started one after the other begin writing together.
 *
 *   node --import tsx test/helpers/append-writer.ts <dir> <writer> <count> [startAt]
 */
import { DeltaTable } from '../../src/delta/index.js';
import { field, type StructType } from '../../src/delta/schema.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'string'), field('writer', 'string'), field('seq', 'long')],
};

const [dir, writer, countText, startAt] = process.argv.slice(2);
if (!dir || !writer || !countText) throw new Error('usage: append-writer <dir> <writer> <count> [startAt]');
const table = await DeltaTable.forPath(dir);
await table.snapshot(); // warm up (DuckDB, module loading) before the start signal
const wait = Number(startAt ?? 0) - Date.now();
if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
const versions: number[] = [];
for (let seq = 0; seq < Number(countText); seq++) {
  const result = await table.write({ rows: [{ id: `${writer}-${seq}`, writer, seq }], schema: SCHEMA });
  versions.push(result.version);
}
process.stdout.write(JSON.stringify({ writer, versions }) + '\n');
