import { DeltaTable } from '../../src/delta/index.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/t1', { recursive: true, force: true });
const t = await DeltaTable.forPath('/tmp/t1');
console.log(
  await t.write({
    rows: [
      { a: 1, b: 'x', ts: '2020-01-01T00:00:00Z' },
      { a: 2, b: 'y', ts: '2021-01-01T00:00:00Z' },
    ],
  }),
);
console.log(await t.write({ sql: `SELECT 3::BIGINT a, 'z' b, TIMESTAMPTZ '2022-01-01 00:00:00+00' ts` }));
for (let i = 0; i < 10; i++) await t.write({ sql: `SELECT ${i + 10}::BIGINT a, 'w' b` });
let s = await t.snapshot();
console.log(
  'v',
  s.version,
  'files',
  s.numFiles,
  'rows',
  s.numRecords,
  s.schema.fields.map((f) => f.name + ':' + JSON.stringify(f.type)).join(','),
);
const p = await t.scan();
console.log(await t.session.all(`SELECT * FROM (${p.sql}) ORDER BY a LIMIT 3`));
console.log(await t.optimize());
s = await t.snapshot();
console.log('after optimize v', s.version, 'files', s.numFiles, 'rows', s.numRecords);
console.log(await t.vacuum({ retentionHours: 0, enforceRetentionDuration: false }));
console.log(
  (await t.history(3)).map((h) => `${h.version} ${h.operation} ${JSON.stringify(h.operationMetrics)}`),
);
console.log(await t.write({ sql: `SELECT 100 a, 'o' b, 1.5 c` }, { mode: 'overwrite', mergeSchema: true }));
s = await t.snapshot({ version: 3 });
console.log('v3 rows', s.numRecords);
s = await t.snapshot();
const p2 = await t.scan(s);
console.log(await t.session.all(`SELECT * FROM (${p2.sql})`));
const tp = await DeltaTable.forPath('/tmp/t2');
rmSync('/tmp/t2', { recursive: true, force: true });
console.log(
  await tp.write(
    { sql: `SELECT i::INT id, i % 3 AS p, CASE WHEN i%2=0 THEN 'a b/c' ELSE NULL END q FROM range(20) t(i)` },
    { partitionBy: ['p', 'q'] },
  ),
);
const sp = await tp.snapshot();
console.log(sp.files.map((f) => f.path + ' ' + JSON.stringify(f.partitionValues)));
const pp = await tp.scan(sp);
console.log(await tp.session.all(`SELECT p, q, count(*) n FROM (${pp.sql}) GROUP BY ALL ORDER BY ALL`));
