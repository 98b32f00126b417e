import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeltaTable,
  UnsupportedReaderFeature,
  UnsupportedWriterFeature,
  checkReadSupported,
  checkWriteSupported,
  serializeActions,
  type Action,
  type Metadata,
  type Protocol,
} from '../../../src/delta/index.js';
import { hasFeature } from '../../../src/delta/features.js';
import { idRows, rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-features-');
afterAll(() => dirs.cleanup());

function metadata(
  fieldMeta: Record<string, unknown> = {},
  configuration: Record<string, string> = {},
): Metadata {
  return {
    id: 'm',
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({
      type: 'struct',
      fields: [
        { name: 'id', type: 'long', nullable: true, metadata: {} },
        {
          name: 'nested',
          type: {
            type: 'struct',
            fields: [{ name: 'x', type: 'long', nullable: true, metadata: fieldMeta }],
          },
          nullable: true,
          metadata: {},
        },
      ],
    }),
    partitionColumns: [],
    configuration,
  };
}

const refusal = (fn: () => void): UnsupportedReaderFeature | UnsupportedWriterFeature | undefined => {
  try {
    fn();
  } catch (err) {
    return err as UnsupportedWriterFeature;
  }
  return undefined;
};

describe('checkReadSupported', () => {
  it('reads protocols 1 and 2, and 3 with supported reader features only', () => {
    expect(
      refusal(() => checkReadSupported({ minReaderVersion: 1, minWriterVersion: 2 }, 't')),
    ).toBeUndefined();
    expect(
      refusal(() => checkReadSupported({ minReaderVersion: 2, minWriterVersion: 5 }, 't')),
    ).toBeUndefined();
    const ok: Protocol = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: [
        'columnMapping',
        'deletionVectors',
        'timestampNtz',
        'v2Checkpoint',
        'vacuumProtocolCheck',
        'typeWidening',
      ],
      writerFeatures: ['rowTracking'],
    };
    expect(refusal(() => checkReadSupported(ok, 't'))).toBeUndefined();
    for (const feature of ['variantType', 'variantType-preview', 'catalogManaged', 'somethingNew']) {
      const err = refusal(() =>
        checkReadSupported({ ...ok, readerFeatures: ['deletionVectors', feature] }, 'loc'),
      );
      expect(err).toBeInstanceOf(UnsupportedReaderFeature);
      expect(err!.feature).toBe(feature);
      expect(err!.message).toContain(`'${feature}' in table loc`);
    }
    expect(
      refusal(() => checkReadSupported({ minReaderVersion: 4, minWriterVersion: 7 }, 't'))!.feature,
    ).toBe('readerVersion 4');
  });
});

describe('checkWriteSupported', () => {
  const v7 = (...writerFeatures: string[]): Protocol => ({
    minReaderVersion: 1,
    minWriterVersion: 7,
    writerFeatures,
  });
  const append = { removesData: false };

  it('refuses writer features it does not implement, and writer versions above 7', () => {
    for (const f of ['rowTracking', 'clustering', 'v2Checkpoint', 'icebergCompatV1', 'variantType']) {
      const err = refusal(() => checkWriteSupported(v7('appendOnly', f), metadata(), 't', append));
      expect(err).toBeInstanceOf(UnsupportedWriterFeature);
      expect(err!.feature).toBe(f);
    }
    expect(
      refusal(() =>
        checkWriteSupported({ minReaderVersion: 1, minWriterVersion: 8 }, metadata(), 't', append),
      )!.feature,
    ).toBe('writerVersion 8');
  });

  it('writes when a supported feature is listed but unused, and refuses once it is in use', () => {
    const cases: [string, Protocol, Metadata][] = [
      [
        'invariants',
        v7('invariants'),
        metadata({ 'delta.invariants': '{"expression":{"expression":"x > 0"}}' }),
      ],
      ['generatedColumns', v7('generatedColumns'), metadata({ 'delta.generationExpression': 'id + 1' })],
      [
        'identityColumns',
        v7('identityColumns'),
        metadata({ 'delta.identity.start': 1, 'delta.identity.step': 1 }),
      ],
      ['checkConstraints', v7('checkConstraints'), metadata({}, { 'delta.constraints.positive': 'id > 0' })],
      ['columnMapping', v7('columnMapping'), metadata({}, { 'delta.columnMapping.mode': 'name' })],
      // the same through legacy writer versions
      ['invariants', { minReaderVersion: 1, minWriterVersion: 2 }, metadata({ 'delta.invariants': 'x' })],
      [
        'identityColumns',
        { minReaderVersion: 1, minWriterVersion: 6 },
        metadata({ 'delta.identity.start': 1 }),
      ],
    ];
    for (const [feature, protocol, active] of cases) {
      expect(
        refusal(() => checkWriteSupported(protocol, metadata(), 't', append)),
        `${feature} unused`,
      ).toBeUndefined();
      const err = refusal(() => checkWriteSupported(protocol, active, 't', append));
      expect(err, `${feature} in use`).toBeInstanceOf(UnsupportedWriterFeature);
      expect(err!.feature).toBe(feature);
    }
  });

  it('with the change data feed on, allows appends and refuses operations that remove data', () => {
    const cdf = metadata({}, { 'delta.enableChangeDataFeed': 'true' });
    for (const protocol of [v7('changeDataFeed'), { minReaderVersion: 1, minWriterVersion: 4 }]) {
      expect(refusal(() => checkWriteSupported(protocol, cdf, 't', append))).toBeUndefined();
      expect(refusal(() => checkWriteSupported(protocol, cdf, 't', { removesData: true }))!.feature).toBe(
        'changeDataFeed',
      );
    }
  });

  it('knows which legacy writer versions imply which features', () => {
    const v = (n: number): Protocol => ({ minReaderVersion: 1, minWriterVersion: n });
    expect(hasFeature(v(2), 'appendOnly')).toBe(true);
    expect(hasFeature(v(2), 'checkConstraints')).toBe(false);
    expect(hasFeature(v(3), 'checkConstraints')).toBe(true);
    expect(hasFeature(v(4), 'changeDataFeed')).toBe(true);
    expect(hasFeature(v(5), 'columnMapping')).toBe(true);
    expect(hasFeature(v(6), 'identityColumns')).toBe(true);
    expect(hasFeature(v(6), 'deletionVectors')).toBe(false);
    expect(hasFeature(v7('appendOnly'), 'invariants')).toBe(false);
    expect(hasFeature({ ...v7(), readerFeatures: ['deletionVectors'] }, 'deletionVectors')).toBe(true);
  });
});

/** Writes version 1 of a table by hand (as another engine would): the given protocol and metadata actions. */
async function commitVersion1(dir: string, ...actions: Action[]): Promise<void> {
  await fs.writeFile(
    nodePath.join(dir, '_delta_log', '00000000000000000001.json'),
    serializeActions(actions),
  );
}

describe('refusals on real tables', () => {
  it('a write to a table with an active unsupported feature fails before anything is written', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 1));
    // upgrade the table to use rowTracking, as Spark would
    const s = await t.snapshot();
    await commitVersion1(
      dir,
      { protocol: { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['rowTracking'] } },
      { metaData: s.metadata },
    );
    const err = await rejection(t.write(idRows(1, 1)));
    expect(err).toBeInstanceOf(UnsupportedWriterFeature);
    expect((await t.snapshot()).version).toBe(1);
    expect((await fs.readdir(dir)).filter((n) => n.endsWith('.parquet'))).toHaveLength(1);
    await expect(t.optimize()).rejects.toBeInstanceOf(UnsupportedWriterFeature);
    await expect(t.vacuum()).rejects.toBeInstanceOf(UnsupportedWriterFeature);
  });

  it('column mapping in id mode: the snapshot loads, the scan is refused', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 1));
    const s = await t.snapshot();
    await commitVersion1(
      dir,
      { protocol: { minReaderVersion: 2, minWriterVersion: 5 } },
      { metaData: { ...s.metadata, configuration: { 'delta.columnMapping.mode': 'id' } } },
    );
    const snap = await t.snapshot();
    expect(snap.columnMappingMode).toBe('id');
    const err = await rejection(t.scan(snap));
    expect(err).toBeInstanceOf(UnsupportedReaderFeature);
    expect(err.message).toContain('columnMapping (id mode)');
  });
});
