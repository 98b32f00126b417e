/**
 * A table schema with a column of every primitive Delta type, and rows for it with edge values
 * (extremes, NaN and infinities, unicode and control bytes in binary, empty strings, nulls, old and
 * far dates): partitioned by all of them, it exercises PROTOCOL.md "Partition Value Serialization".
 */
import { field, type StructType } from '../../src/delta/index.js';

/** A table partitioned by a column of every primitive type (timestamp_ntz needs an explicit schema). */
export const EVERY_TYPE: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long'),
    field('s', 'string'),
    field('b', 'binary'),
    field('i8', 'byte'),
    field('i16', 'short'),
    field('i32', 'integer'),
    field('i64', 'long'),
    field('f', 'float'),
    field('d', 'double'),
    field('dec', 'decimal(10,2)'),
    field('bool', 'boolean'),
    field('day', 'date'),
    field('ts', 'timestamp'),
    field('ntz', 'timestamp_ntz'),
  ],
};
export const EVERY_TYPE_ROWS = `SELECT * FROM (VALUES
  (0::BIGINT, 'a', encode('😈'), (-128)::TINYINT, (-32768)::SMALLINT, (-2147483648)::INTEGER, (-9223372036854775808)::BIGINT,
      1.1::FLOAT, 1e20::DOUBLE, 12.30::DECIMAL(10,2), true,
      DATE '2024-02-29', TIMESTAMPTZ '2024-01-01 10:00:00.123456+00', TIMESTAMP '2024-01-01 10:00:00.5'),
  (1, 'ü😈 x/y=z', '\\x01\\x02'::BLOB, 127, 32767, 2147483647, 9223372036854775807, 'NaN', 'Infinity', -0.05, false,
      DATE '0001-01-01', TIMESTAMPTZ '1970-01-01 00:00:00+00', TIMESTAMP '1999-12-31 23:59:59'),
  (2, '', ''::BLOB, 0, 0, 0, 0, '-Infinity', 0.0, 0.00, NULL,
      DATE '9999-12-31', TIMESTAMPTZ '2024-01-01 10:00:00+00', TIMESTAMP '2024-01-01 10:00:00'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, '%', encode('plain'), 1, 2, 3, 4, 0.5, 1.5e-7, 99999999.99, true,
      DATE '1970-01-01', TIMESTAMPTZ '2262-04-11 23:47:16.854775+00', TIMESTAMP '1900-01-01 00:00:00.000001')
  ) t(id, s, b, i8, i16, i32, i64, f, d, dec, bool, day, ts, ntz)`;
export const PARTITIONS = EVERY_TYPE.fields.slice(1).map((f) => f.name);
