import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CorruptLog,
  DeltaTable,
  UnsupportedReaderFeature,
  type DeletionVectorDescriptor,
} from '../../../src/delta/index.js';
import {
  decodeDeletionVectorBitmap,
  deletionVectorPath,
  readDeletionVector,
  z85Decode,
} from '../../../src/delta/deletion-vectors.js';
import { LocalObjectStore } from '../../../src/storage/index.js';
import { DV_SMALL, CONFORMANCE_DIR, countRows, readRows, rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-dv-');
afterAll(() => dirs.cleanup());

const INLINE_EXAMPLE: DeletionVectorDescriptor = {
  storageType: 'i',
  pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L',
  sizeInBytes: 40,
  cardinality: 6,
};

describe('z85Decode', () => {
  it('decodes the Z85 specification example', () => {
    expect([...z85Decode('HelloWorld')]).toEqual([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  });

  it('rejects text whose length is not a multiple of 5, and characters outside the alphabet', () => {
    expect(() => z85Decode('abcd')).toThrow(CorruptLog);
    expect(() => z85Decode('abc"e')).toThrow(/invalid Z85 character/);
  });
});

describe('deletionVectorPath', () => {
  it('decodes the UUID of a relative (u) DV, with and without a random prefix (PROTOCOL.md example 1)', () => {
    const base = { offset: 4, sizeInBytes: 40, cardinality: 6 };
    expect(deletionVectorPath({ ...base, storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^' })).toBe(
      'ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin',
    );
    expect(deletionVectorPath({ ...base, storageType: 'u', pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA' })).toBe(
      'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin',
    );
    expect(
      deletionVectorPath({ ...base, storageType: 'p', pathOrInlineDv: 'file:///t/deletion_vector_x.bin' }),
    ).toBe('file:///t/deletion_vector_x.bin');
    expect(() => deletionVectorPath(INLINE_EXAMPLE)).toThrow(CorruptLog);
  });
});

describe('readDeletionVector', () => {
  const store = new LocalObjectStore(nodePath.join(CONFORMANCE_DIR, 'table-with-dv-small'));

  it('decodes the inline example of PROTOCOL.md to rows 3, 4, 7, 11, 18, 29', async () => {
    expect(await readDeletionVector(store, INLINE_EXAMPLE)).toEqual([3, 4, 7, 11, 18, 29]);
  });

  it('reads the on-disk DV of table-with-dv-small: rows 0 and 9', async () => {
    expect(await readDeletionVector(store, DV_SMALL)).toEqual([0, 9]);
  });

  it('checks the descriptor against the file: size and cardinality', async () => {
    expect(await rejection(readDeletionVector(store, { ...DV_SMALL, sizeInBytes: 30 }))).toBeInstanceOf(
      CorruptLog,
    );
    const err = await rejection(readDeletionVector(store, { ...DV_SMALL, cardinality: 3 }));
    expect(err).toBeInstanceOf(CorruptLog);
    expect(err.message).toMatch(/decodes to 2 rows/);
    expect(
      await rejection(readDeletionVector(store, { ...INLINE_EXAMPLE, storageType: 'x' })),
    ).toBeInstanceOf(CorruptLog);
  });

  it('refuses a DV at a remote absolute path instead of reading the wrong file', async () => {
    const dv = {
      storageType: 'p',
      pathOrInlineDv: 's3://bucket/t/deletion_vector_x.bin',
      offset: 1,
      sizeInBytes: 36,
      cardinality: 2,
    };
    expect(await rejection(readDeletionVector(store, dv))).toBeInstanceOf(UnsupportedReaderFeature);
  });

  it('rejects a bitmap with a wrong magic number', () => {
    expect(() => decodeDeletionVectorBitmap(new Uint8Array(16))).toThrow(/magic/);
  });

  it('reads every on-disk DV of the conformance tables with the cardinality its descriptor states', async () => {
    let checked = 0;
    for (const name of ['table-with-dv-small', 'table_with_deletion_logs', 'cdf-table-with-cdc-and-dvs']) {
      const t = await DeltaTable.forPath(nodePath.join(CONFORMANCE_DIR, name));
      const s = await t.snapshot();
      for (const f of s.files) {
        if (!f.deletionVector) continue;
        const rows = await readDeletionVector(t.store, f.deletionVector);
        expect(rows).toHaveLength(f.deletionVector.cardinality);
        expect([...rows].sort((a, b) => a - b)).toEqual(rows);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});

describe('scanning a table with a deletion vector', () => {
  it('table-with-dv-small: the DV removes values 0 and 9 of 0..9', async () => {
    const t = await DeltaTable.forPath(nodePath.join(CONFORMANCE_DIR, 'table-with-dv-small'));
    const rows = await readRows(t);
    expect(rows.map((r) => Number(r.value))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // version 0 has no DV: all 10 rows
    expect(await countRows(t, await t.snapshot({ version: 0 }))).toBe(10);
  });

  it('a copy of the table with the DV moved inline (the PROTOCOL.md example) removes rows 3, 4, 7 of 0..9', async () => {
    const src = nodePath.join(CONFORMANCE_DIR, 'table-with-dv-small');
    const dir = dirs.make();
    await fs.cp(src, dir, { recursive: true });
    await fs.chmod(nodePath.join(dir, '_delta_log'), 0o755);
    const commit = nodePath.join(dir, '_delta_log', '00000000000000000001.json');
    await fs.chmod(commit, 0o644);
    // The data file holds values 0..9 at row indexes 0..9; of the example's rows 3, 4, 7, 11, 18, 29 only the
    // first three exist in it. Only the descriptor is rewritten; the scan must apply the inline bitmap.
    const text = await fs.readFile(commit, 'utf8');
    const inline = JSON.stringify(INLINE_EXAMPLE);
    const rewritten = text.replace(/"deletionVector":\{[^}]*\}/, `"deletionVector":${inline}`);
    expect(rewritten).not.toBe(text);
    await fs.writeFile(commit, rewritten);
    const t = await DeltaTable.forPath(dir);
    const rows = await readRows(t);
    expect(rows.map((r) => Number(r.value))).toEqual([0, 1, 2, 5, 6, 8, 9]);
  });
});
