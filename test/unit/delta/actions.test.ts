import { readFileSync, readdirSync, existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeActionPath,
  dvUniqueId,
  encodeActionPath,
  logicalFileKey,
  parseActions,
  serializeActions,
  type Action,
  type AddFile,
} from '../../../src/delta/actions.js';
import { partitionDir } from '../../../src/delta/partition-values.js';
import { DV_SMALL, CONFORMANCE_DIR } from '../../helpers/delta.js';

describe('parseActions / serializeActions', () => {
  const actions: Action[] = [
    { commitInfo: { timestamp: 1, operation: 'WRITE', operationParameters: { mode: 'Append' } } },
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: 'id-1',
        format: { provider: 'parquet', options: {} },
        schemaString: '{"type":"struct","fields":[]}',
        partitionColumns: [],
        configuration: { 'delta.appendOnly': 'true' },
        createdTime: 5,
      },
    },
    { txn: { appId: 'app', version: 3, lastUpdated: 7 } },
    {
      add: {
        path: 'p=a%20b/f.parquet',
        partitionValues: { p: 'a b', q: null },
        size: 10,
        modificationTime: 2,
        dataChange: true,
        stats: '{"numRecords":1}',
      },
    },
    { remove: { path: 'g.parquet', deletionTimestamp: 3, dataChange: true } },
    { domainMetadata: { domain: 'd', configuration: '{}', removed: false } },
    { cdc: { path: '_change_data/c.parquet', partitionValues: {}, size: 1, dataChange: false } },
  ];

  it('round-trips every known action, one JSON object per line', () => {
    const text = serializeActions(actions);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trim().split('\n')).toHaveLength(actions.length);
    expect(parseActions(text, 'x.json')).toEqual(actions);
  });

  it('ignores unknown actions, unknown fields and blank lines, as the protocol requires', () => {
    const text = [
      '{"futureAction":{"x":1}}',
      '',
      '{"add":{"path":"a","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true,"newField":42}}',
      '   ',
      '{"checkpointMetadata":{"version":4}}',
      '{"sidecar":{"path":"s.parquet","sizeInBytes":1,"modificationTime":1}}',
      '{"add":null}',
    ].join('\n');
    const parsed = parseActions(text, 'x.json');
    expect(parsed.map((a) => Object.keys(a)[0])).toEqual(['add', 'checkpointMetadata', 'sidecar']);
    expect((parsed[0] as { add: { size: number } }).add.size).toBe(1);
  });

  it('rejects a line that is not a JSON object, naming the file and line', () => {
    expect(() => parseActions('{"add":{}}\n{"add": {', '00000000000000000003.json')).toThrow(
      /00000000000000000003\.json:2/,
    );
    expect(() => parseActions('[1,2]', 'f.json')).toThrow(/must be a JSON object/);
  });
});

describe('dvUniqueId / logicalFileKey', () => {
  it('builds the protocol unique id: storageType + pathOrInlineDv [+ @offset]', () => {
    expect(dvUniqueId(undefined)).toBe('');
    expect(dvUniqueId(null)).toBe('');
    expect(
      dvUniqueId({
        storageType: 'u',
        pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^',
        offset: 4,
        sizeInBytes: 40,
        cardinality: 6,
      }),
    ).toBe('uab^-aqEH.-t@S}K{vb[*k^@4');
    expect(
      dvUniqueId({
        storageType: 'i',
        pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L',
        sizeInBytes: 40,
        cardinality: 6,
      }),
    ).toBe('iwi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L');
  });

  it('keys a logical file by its decoded path and DV, so encoded and plain paths match', () => {
    expect(logicalFileKey({ path: 'x=A%2FA/f.parquet' })).toBe(logicalFileKey({ path: 'x=A/A/f.parquet' }));
    expect(logicalFileKey({ path: 'f.parquet' })).not.toBe(
      logicalFileKey({ path: 'f.parquet', deletionVector: DV_SMALL }),
    );
    expect(logicalFileKey({ path: 'f.parquet', deletionVector: DV_SMALL })).not.toBe(
      logicalFileKey({ path: 'f.parquet', deletionVector: { ...DV_SMALL, offset: 43 } }),
    );
  });
});

describe('encodeActionPath / decodeActionPath', () => {
  it('matches the paths Spark wrote for special partition values (delta-0.8.0-special-partition)', () => {
    const table = nodePath.join(CONFORMANCE_DIR, 'delta-0.8.0-special-partition');
    const log = readFileSync(nodePath.join(table, '_delta_log', '00000000000000000000.json'), 'utf8');
    const adds = parseActions(log, 'log')
      .filter((a): a is { add: AddFile } => 'add' in a)
      .map((a) => a.add);
    expect(adds.map((a) => a.partitionValues.x).sort()).toEqual(['A/A', 'B B']);
    for (const add of adds) {
      const fileName = add.path.split('/').at(-1)!;
      // the directory tweetlake would write for the value, then encoded as an action path
      const relative = `${partitionDir('x', add.partitionValues.x!)}/${fileName}`;
      expect(encodeActionPath(relative)).toBe(add.path);
      // decoding the action path names the real file on disk
      const decoded = decodeActionPath(add.path);
      expect(decoded).toBe(relative);
      expect(existsSync(nodePath.join(table, decoded))).toBe(true);
    }
    // the directories on disk are exactly the escaped values
    expect(
      readdirSync(table)
        .filter((n) => n.startsWith('x='))
        .sort(),
    ).toEqual(['x=A%2FA', 'x=B%20B']);
  });

  it('round-trips unusual file names and keeps "/", "=" and ","', () => {
    for (const p of [
      'a/b=c,d/e f.parquet',
      'ü/€/%41.parquet',
      'x=__HIVE_DEFAULT_PARTITION__/p.parquet',
      'plain.parquet',
    ]) {
      const enc = encodeActionPath(p);
      expect(enc.split('/')).toHaveLength(p.split('/').length);
      expect(enc).not.toMatch(/[ €ü]/);
      expect(decodeActionPath(enc)).toBe(p);
    }
    expect(encodeActionPath('k=v,w/f.parquet')).toBe('k=v,w/f.parquet');
  });

  it('leaves a path with a stray % (not valid URI encoding) as it is', () => {
    expect(decodeActionPath('test%file%prefix-part-0.parquet')).toBe('test%file%prefix-part-0.parquet');
  });
});
