/**
 * Every table of test/fixtures/delta-conformance is either read or refused with a clear error. The outcome of
 * each table is pinned in EXPECTED, so a change of behaviour (a table newly refused, or newly read) fails
 * here and must be reflected in docs/delta-support.md. Contents are compared with delta-rs by the interop
 * suite; here the row count of a scan is checked against the Parquet footers and the log's statistics.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileList } from '../../../src/duck/files.js';
import {
  DeltaTable,
  TableNotFound,
  UnsupportedReaderFeature,
  VersionNotFound,
  decodeActionPath,
} from '../../../src/delta/index.js';
import { CONFORMANCE_DIR, countRows, rejection } from '../../helpers/delta.js';

type Outcome =
  /** The snapshot loads and every data file is there: the scan is checked. */
  | 'read'
  /** The snapshot loads, but the folder holds the log only (the data files were not kept in the test data). */
  | 'read, log only'
  /** No commit or checkpoint in the folder. */
  | 'TableNotFound'
  /** Refused with UnsupportedReaderFeature naming this feature. */
  | { refused: string };

const EXPECTED: Record<string, Outcome> = {
  'COVID-19_NYT': 'read',
  cdc_ict_table: 'read',
  'cdf-table': 'read',
  'cdf-table-non-partitioned': 'read',
  'cdf-table-with-cdc-and-dvs': 'read',
  'checkpoint-cdf-table': 'read',
  'checkpoint-v2-table': 'read',
  checkpoint_with_partitions: 'read, log only',
  checkpoints: 'read, log only',
  checkpoints_tombstones: 'TableNotFound',
  checkpoints_vacuumed: 'read, log only',
  concurrent_workers: 'read',
  'delta-0.2.0': 'read',
  'delta-0.8-empty': 'read',
  'delta-0.8.0': 'read',
  'delta-0.8.0-date': 'read',
  'delta-0.8.0-null-partition': 'read',
  'delta-0.8.0-numeric-partition': 'read',
  'delta-0.8.0-partitioned': 'read',
  'delta-0.8.0-special-partition': 'read',
  'delta-1.2.1-only-struct-stats': 'read',
  'delta-2.2.0-partitioned-types': 'read',
  'delta-checkpoint-stats-optional': 'read',
  'delta-live-table': 'read',
  'delta-stats-optional': 'read',
  'golden/data-reader-array-primitives': 'read',
  http_requests: 'read',
  'issue-2152': 'read',
  issue_1374: 'read',
  latest_not_checkpointed: 'read, log only',
  'partition-type-primitives': 'read',
  'python-0.25.5-checkpoint': 'read',
  simple_commit: 'read',
  simple_table: 'read',
  // minReaderVersion 5 does not exist in the protocol (its readerFeatures also list an unknown 'blahabl')
  simple_table_features: { refused: 'readerVersion 5' },
  simple_table_with_cdc: 'read',
  simple_table_with_checkpoint: 'read',
  'spark-shredded-variant-preview-delta': { refused: 'variantShredding-preview' },
  'spark-variant-checkpoint': { refused: 'variantType-preview' },
  'spark-variant-stable-feature-checkpoint': { refused: 'variantType' },
  'table-with-domain-metadata': 'read, log only',
  'table-with-dv-small': 'read',
  'table-without-dv-small': 'read',
  table_failed_last_checkpoint_update: 'read',
  table_with_column_mapping: 'read',
  table_with_deletion_logs: 'read',
  table_with_edge_timestamps: 'read',
  table_with_liquid_clustering: 'read',
  table_with_null_stats_in_notnull_struct: 'read',
  table_with_partitioning_mapping: 'read',
  with_checkpoint_no_last_checkpoint: 'read, log only',
};

describe('Delta conformance tables', () => {
  it('EXPECTED names every folder of the conformance set (plus golden/data-reader-array-primitives)', () => {
    const folders = readdirSync(CONFORMANCE_DIR).filter((n) => n !== 'golden');
    folders.push('golden/data-reader-array-primitives');
    expect(Object.keys(EXPECTED).sort()).toEqual(folders.sort());
  });

  for (const [name, outcome] of Object.entries(EXPECTED)) {
    const label = typeof outcome === 'string' ? outcome : `refused: ${outcome.refused}`;
    it(`${name}: ${label}`, async () => {
      const table = await DeltaTable.forPath(nodePath.join(CONFORMANCE_DIR, name));

      if (outcome === 'TableNotFound') {
        expect(await rejection(table.snapshot())).toBeInstanceOf(TableNotFound);
        expect(await table.exists()).toBe(false);
        return;
      }

      if (typeof outcome === 'object') {
        const err = await rejection(table.snapshot());
        expect(err).toBeInstanceOf(UnsupportedReaderFeature);
        expect((err as unknown as UnsupportedReaderFeature).feature).toBe(outcome.refused);
        expect(err.message).toContain(`unsupported reader feature '${outcome.refused}'`);
        expect(err.code).toBe('DELTA_UNSUPPORTED_READER_FEATURE');
        return;
      }

      const snapshot = await table.snapshot();
      expect(snapshot.version).toBeGreaterThanOrEqual(0);
      expect(snapshot.schema.type).toBe('struct');
      const local = snapshot.files.map((f) => table.store.location(decodeActionPath(f.path)));
      const present = local.filter((p) => existsSync(p));

      if (outcome === 'read, log only') {
        // say so: the log replays, but there is no data to scan
        expect(snapshot.numFiles).toBeGreaterThan(0);
        expect(present).toEqual([]);
        return;
      }

      expect(present).toHaveLength(local.length);
      const deleted = snapshot.files.reduce((n, f) => n + (f.deletionVector?.cardinality ?? 0), 0);
      let physical = 0;
      if (local.length) {
        const [row] = await table.session.all(
          `SELECT sum(num_rows)::BIGINT AS n FROM parquet_file_metadata(${fileList(local)})`,
        );
        physical = Number(row!.n);
      }
      const scanned = await countRows(table, snapshot);
      // the rows of the data files, less those their deletion vectors remove
      expect(scanned).toBe(physical - deleted);
      // and, where every file has stats, what the log says: sum(numRecords) - DV cardinalities
      if (snapshot.numRecords !== undefined) expect(scanned).toBe(snapshot.numRecords);
    });
  }

  it('checkpoints_vacuumed: versions before its oldest checkpoint (5) are VersionNotFound, later ones load', async () => {
    const table = await DeltaTable.forPath(nodePath.join(CONFORMANCE_DIR, 'checkpoints_vacuumed'));
    for (const v of [0, 4])
      expect(await rejection(table.snapshot({ version: v }))).toBeInstanceOf(VersionNotFound);
    for (const v of [5, 7, 10, 12]) expect((await table.snapshot({ version: v })).version).toBe(v);
  });
});
