/**
 * The bronze and quarantine tables that random source folders (test/helpers/fuzz-source.ts) give
 * are read by delta-rs with the same rows as tweetlake reads them.
 */
import { mkdirSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../src/delta/index.js';
import { DuckSession } from '../../src/duck/session.js';
import { StreamingQuery } from '../../src/engine/query.js';
import { Trigger } from '../../src/engine/trigger.js';
import { lakehousePaths } from '../../src/pipeline/paths.js';
import { bronzeQuery } from '../../src/pipeline/stages.js';
import { FUZZ_MAX_RECORD_BYTES, fuzzSource, writeFuzzSource } from '../helpers/fuzz-source.js';
import { deltaRsDump, rowsDiff, tempDir, tweetlakeRows } from './helpers.js';

describe('fuzzed bronze tables, read by delta-rs', () => {
  let root = '';
  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('delta-rs reads the bronze and quarantine tables of random sources as tweetlake does', async () => {
    root = await tempDir('tweetlake-interop-fuzz-');
    const session = await DuckSession.create();
    const tables: string[] = [];
    try {
      for (const [i, files] of fc.sample(fuzzSource, { numRuns: 4, seed: 4242 }).entries()) {
        const source = nodePath.join(root, `source-${i}`);
        mkdirSync(source);
        writeFuzzSource(source, files);
        const paths = lakehousePaths(nodePath.join(root, `lake-${i}`));
        const q = new StreamingQuery({
          ...bronzeQuery({
            paths,
            source,
            session,
            classifier: async () => {
              throw new Error('no model in bronze');
            },
            maxBytesPerTrigger: 512,
            maxRecordBytes: FUZZ_MAX_RECORD_BYTES,
          }),
          trigger: Trigger.availableNow(),
        });
        await q.start();
        await q.awaitTermination();
        tables.push(paths.tables.bronze, paths.tables.quarantine);
      }
      const present: string[] = [];
      for (const t of tables) if (await (await DeltaTable.forPath(t, session)).exists()) present.push(t);
      expect(present.length).toBeGreaterThan(4);
      const dumps = await deltaRsDump(present.map((table) => ({ table })));
      for (const d of dumps) {
        expect(d.error, d.table).toBeUndefined();
        expect(d.rowsError, d.table).toBeUndefined();
        const table = await DeltaTable.forPath(d.table, session);
        const ours = await tweetlakeRows(table, await table.snapshot());
        expect(rowsDiff(ours, d), d.table).toBeUndefined();
      }
    } finally {
      session.close();
    }
  });
});
