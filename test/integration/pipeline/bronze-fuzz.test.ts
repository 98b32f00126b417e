/**
 * Fuzzing bronze: random source folders (test/helpers/fuzz-source.ts) through the real bronze
 * stream, in batches of random byte budgets. After every run: no crash, every table readable,
 * records read = bronze rows + quarantine rows, and for each file whose content is known, exactly
 * its records and its JSON objects.
 */
import { mkdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession } from '../../../src/duck/session.js';
import { StreamingQuery } from '../../../src/engine/query.js';
import { Trigger } from '../../../src/engine/trigger.js';
import { lakehousePaths } from '../../../src/pipeline/paths.js';
import { bronzeQuery } from '../../../src/pipeline/stages.js';
import { tempDirs } from '../../helpers/delta.js';
import { FUZZ_MAX_RECORD_BYTES, fuzzSource, writeFuzzSource } from '../../helpers/fuzz-source.js';

let session: DuckSession;
const dirs = tempDirs('tweetlake-bronze-fuzz-');
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => {
  session?.close();
  dirs.cleanup();
});

/** Rows per source file of a table (read back through our own reader). */
async function perFile(path: string): Promise<Map<string, number>> {
  const table = await DeltaTable.forPath(path, session);
  if (!(await table.exists())) return new Map();
  const plan = await table.scan();
  try {
    const rows = await session.all(`SELECT source_file AS f, count(*) AS n FROM (${plan.sql}) GROUP BY 1`);
    return new Map(rows.map((r) => [String(r.f), Number(r.n)]));
  } finally {
    await plan.dispose();
  }
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('bronze on random source folders', () => {
  it('property: no crash, input records = bronze + quarantined, each known file exactly as written', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzSource, fc.integer({ min: 64, max: 4096 }), async (files, budget) => {
        const base = dirs.make();
        const source = nodePath.join(base, 'source');
        mkdirSync(source);
        writeFuzzSource(source, files);
        const paths = lakehousePaths(nodePath.join(base, 'lake'));
        const q = new StreamingQuery({
          ...bronzeQuery({
            paths,
            source,
            session,
            classifier: async () => {
              throw new Error('no model in bronze');
            },
            maxBytesPerTrigger: budget,
            maxFilesPerTrigger: 3,
            maxRecordBytes: FUZZ_MAX_RECORD_BYTES,
          }),
          trigger: Trigger.availableNow(),
        });
        await q.start();
        await q.awaitTermination();
        const bronze = await perFile(paths.tables.bronze);
        const quarantine = await perFile(paths.tables.quarantine);
        const read = q.recentProgress.reduce((n, p) => n + (p.metrics.inputRecords ?? 0), 0);
        expect(read).toBe(total(bronze) + total(quarantine));
        for (const f of files) {
          if (!f.expected) continue;
          const path = nodePath.join(source, f.name);
          expect((bronze.get(path) ?? 0) + (quarantine.get(path) ?? 0), `records of ${f.name}`).toBe(
            f.expected.records,
          );
          expect(bronze.get(path) ?? 0, `objects of ${f.name}`).toBe(f.expected.objects);
        }
      }),
      { numRuns: 12, seed: 20_261_201 },
    );
  }, 120_000);
});
