import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedSession } from '../../../src/duck/session.js';
import { SchemaMismatch, mergeSchemas, parseActions, type Metadata } from '../../../src/delta/index.js';
import {
  canWiden,
  field,
  fromDuckType,
  parseSchema,
  physicalName,
  serializeSchema,
  toDuckType,
  typeToString,
  typesEqual,
  type DataType,
  type StructType,
} from '../../../src/delta/schema.js';
import { CONFORMANCE_DIR } from '../../helpers/delta.js';

const NESTED: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: { comment: 'key' } },
    field('name', 'string'),
    field('price', 'decimal(10,2)'),
    field('ts', 'timestamp'),
    field('ntz', 'timestamp_ntz'),
    field('tags', { type: 'array', elementType: 'string', containsNull: true }),
    field('attrs', { type: 'map', keyType: 'string', valueType: 'integer', valueContainsNull: false }),
    field('user', {
      type: 'struct',
      fields: [field('screen name', 'string'), field('followers', 'long'), field('bytes', 'binary')],
    }),
  ],
};

describe('schema serialisation', () => {
  it('round-trips a nested schema through its schemaString', () => {
    const text = serializeSchema(NESTED);
    expect(parseSchema(text)).toEqual(NESTED);
    expect(serializeSchema(parseSchema(text))).toBe(text);
  });

  it('parses the schemaString of every conformance table that uses only known types, and re-serialises it losslessly', () => {
    for (const name of [
      'delta-2.2.0-partitioned-types',
      'table_with_column_mapping',
      'checkpoint-v2-table',
      'COVID-19_NYT',
    ]) {
      const log = readFileSync(
        nodePath.join(CONFORMANCE_DIR, name, '_delta_log', '00000000000000000000.json'),
        'utf8',
      );
      const meta = parseActions(log, name).find((a): a is { metaData: Metadata } => 'metaData' in a);
      const schema = parseSchema(meta!.metaData.schemaString);
      expect(JSON.parse(serializeSchema(schema))).toEqual(JSON.parse(meta!.metaData.schemaString));
    }
  });

  it('defaults nullable to true and metadata to {}, and accepts decimal spellings', () => {
    const s = parseSchema(
      '{"type":"struct","fields":[{"name":"a","type":"decimal"},{"name":"b","type":"decimal( 5 , 1 )"}]}',
    );
    expect(s.fields).toEqual([
      { name: 'a', type: 'decimal(10,0)', nullable: true, metadata: {} },
      { name: 'b', type: 'decimal(5,1)', nullable: true, metadata: {} },
    ]);
  });

  it('rejects unknown types and a top-level type that is not a struct', () => {
    expect(() => parseSchema('{"type":"struct","fields":[{"name":"a","type":"uuid"}]}')).toThrow(
      SchemaMismatch,
    );
    expect(() => parseSchema('{"type":"array","elementType":"string","containsNull":true}')).toThrow(
      /must be a struct/,
    );
  });
});

describe('toDuckType / fromDuckType', () => {
  it('maps every Delta type to the DuckDB type that holds it', () => {
    const cases: [DataType, string][] = [
      ['string', 'VARCHAR'],
      ['long', 'BIGINT'],
      ['integer', 'INTEGER'],
      ['short', 'SMALLINT'],
      ['byte', 'TINYINT'],
      ['float', 'FLOAT'],
      ['double', 'DOUBLE'],
      ['boolean', 'BOOLEAN'],
      ['binary', 'BLOB'],
      ['date', 'DATE'],
      ['timestamp', 'TIMESTAMPTZ'],
      ['timestamp_ntz', 'TIMESTAMP'],
      ['decimal(38,18)', 'DECIMAL(38,18)'],
      [{ type: 'array', elementType: 'long', containsNull: true }, 'BIGINT[]'],
      [
        { type: 'map', keyType: 'string', valueType: 'double', valueContainsNull: true },
        'MAP(VARCHAR, DOUBLE)',
      ],
      [
        { type: 'struct', fields: [field('a b', 'long'), field('"q"', 'string')] },
        'STRUCT("a b" BIGINT, """q""" VARCHAR)',
      ],
    ];
    for (const [delta, duck] of cases) expect(toDuckType(delta)).toBe(duck);
    expect(() => toDuckType('variant')).toThrow(SchemaMismatch);
  });

  it('DuckDB accepts every type it produces, and fromDuckType maps it back', async () => {
    const session = await sharedSession();
    const cols = NESTED.fields.map((f) => `CAST(NULL AS ${toDuckType(f.type)}) AS "${f.name}"`).join(', ');
    const described = await session.describe(`SELECT ${cols}`);
    const back = described.map((c) => fromDuckType(c.type, c.name));
    NESTED.fields.forEach((f, i) => {
      // TIMESTAMP (no zone) comes back as Delta timestamp by design (docs/delta-support.md)
      const expected = f.type === 'timestamp_ntz' ? 'timestamp' : f.type;
      expect(typesEqual(back[i]!, expected)).toBe(true);
    });
    const unsigned = await session.describe(
      'SELECT 1::UINTEGER a, 1::UBIGINT b, 1::HUGEINT c, 1::UTINYINT d',
    );
    expect(unsigned.map((c) => fromDuckType(c.type, c.name))).toEqual([
      'long',
      'decimal(38,0)',
      'decimal(38,0)',
      'short',
    ]);
    const bad = await session.describe("SELECT INTERVAL '1 day' AS i");
    expect(() => fromDuckType(bad[0]!.type, 'i')).toThrow(/Delta cannot store/);
  });
});

describe('canWiden', () => {
  it('allows exactly the lossless widenings', () => {
    const yes: [DataType, DataType][] = [
      ['byte', 'short'],
      ['byte', 'long'],
      ['integer', 'long'],
      ['integer', 'double'],
      ['float', 'double'],
      ['date', 'timestamp'],
      ['date', 'timestamp_ntz'],
      ['void', 'string'],
      ['long', 'long'],
      ['long', 'decimal(20,0)'],
      [
        { type: 'array', elementType: 'integer', containsNull: true },
        { type: 'array', elementType: 'long', containsNull: true },
      ],
      [
        { type: 'struct', fields: [field('A', 'integer')] },
        { type: 'struct', fields: [field('a', 'long'), field('b', 'string')] },
      ],
    ];
    const no: [DataType, DataType][] = [
      ['long', 'integer'],
      ['long', 'double'],
      ['double', 'float'],
      ['string', 'long'],
      ['long', 'string'],
      ['timestamp', 'date'],
      ['boolean', 'integer'],
      [{ type: 'array', elementType: 'string', containsNull: true }, 'string'],
      [
        { type: 'struct', fields: [field('z', 'long')] },
        { type: 'struct', fields: [field('a', 'long')] },
      ],
      [
        { type: 'map', keyType: 'string', valueType: 'long', valueContainsNull: true },
        { type: 'map', keyType: 'string', valueType: 'integer', valueContainsNull: true },
      ],
    ];
    for (const [from, to] of yes)
      expect(canWiden(from, to), `${typeToString(from)} -> ${typeToString(to)}`).toBe(true);
    for (const [from, to] of no)
      expect(canWiden(from, to), `${typeToString(from)} -> ${typeToString(to)}`).toBe(false);
  });

  it('prints types as Spark does', () => {
    expect(typeToString(NESTED.fields[6]!.type)).toBe('map<string,integer>');
    expect(typeToString(NESTED.fields[7]!.type)).toBe(
      'struct<screen name:string,followers:long,bytes:binary>',
    );
  });
});

describe('mergeSchemas', () => {
  const table: StructType = { type: 'struct', fields: [field('id', 'long', false), field('text', 'string')] };

  it('keeps the table schema (same object) when the data fits, including narrower types and fewer columns', () => {
    expect(mergeSchemas(table, { type: 'struct', fields: [field('id', 'integer')] }, false, 't')).toBe(table);
  });

  it('refuses new columns without mergeSchema, naming them; appends them as nullable with it', () => {
    const data: StructType = {
      type: 'struct',
      fields: [field('id', 'long'), field('score', 'double', false)],
    };
    expect(() => mergeSchemas(table, data, false, 't')).toThrow(/score.*mergeSchema/);
    const merged = mergeSchemas(table, data, true, 't');
    expect(merged.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['id', 'long', false],
      ['text', 'string', true],
      ['score', 'double', true],
    ]);
  });

  it('refuses a type that cannot be widened, and a column that differs only in case', () => {
    const err = (() => {
      try {
        mergeSchemas(table, { type: 'struct', fields: [field('text', 'long')] }, true, 'loc');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(SchemaMismatch);
    expect(err!.message).toMatch(/'text' is long in the data but string in table loc/);
    expect(() => mergeSchemas(table, { type: 'struct', fields: [field('ID', 'long')] }, true, 't')).toThrow(
      /differs only in case/,
    );
  });
});

describe('physicalName', () => {
  it('uses the column-mapping physical name only when a mapping mode is on', () => {
    const f = {
      name: 'Super Name',
      type: 'string' as const,
      nullable: true,
      metadata: { 'delta.columnMapping.physicalName': 'col-1' },
    };
    expect(physicalName(f, 'none')).toBe('Super Name');
    expect(physicalName(f, 'name')).toBe('col-1');
    expect(physicalName(field('x', 'long'), 'name')).toBe('x');
  });
});
