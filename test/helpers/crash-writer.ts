/**
 * A writer process for the crash test, meant to be killed: it resumes the idempotent batch sequence of
 * application `appId` on the existing table at `dir` (the next batch is the table's txn version + 1),
 * prints `ready <batch>`, then commits batches until it is killed. Batch b holds (b % 4) + 1 rows
 * { batch: b, i }, committed with the txn action (appId, b), so a half-written batch is never visible.
 *
 *   node --import tsx test/helpers/crash-writer.ts <dir> <appId>
 */
import { DeltaTable } from '../../src/delta/index.js';
import { field, type StructType } from '../../src/delta/schema.js';

const SCHEMA: StructType = { type: 'struct', fields: [field('batch', 'long'), field('i', 'long')] };

const [dir, appId] = process.argv.slice(2);
if (!dir || !appId) throw new Error('usage: crash-writer <dir> <appId>');
const table = await DeltaTable.forPath(dir);
let batch = ((await table.snapshot()).txnVersion(appId) ?? -1) + 1;
process.stdout.write(`ready ${batch}\n`);
for (;;) {
  const rows = Array.from({ length: (batch % 4) + 1 }, (_, i) => ({ batch, i }));
  await table.write({ rows, schema: SCHEMA }, { txn: { appId, version: batch } });
  batch++;
}
