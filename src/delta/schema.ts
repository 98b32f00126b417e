import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { ident } from '../duck/session.js';
import { SchemaMismatch } from './errors.js';

/** Delta's types (PROTOCOL.md "Schema Serialization Format"). Primitives are their type names. */
export type PrimitiveTypeName =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'float'
  | 'double'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz'
  | 'void'
  | 'variant';

export type DataType = PrimitiveTypeName | `decimal(${number},${number})` | StructType | ArrayType | MapType;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

export interface StructType {
  type: 'struct';
  fields: StructField[];
}

export interface ArrayType {
  type: 'array';
  elementType: DataType;
  containsNull: boolean;
}

export interface MapType {
  type: 'map';
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}

const PRIMITIVES = new Set<string>([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'boolean',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
  'void',
  'variant',
]);

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$/;

/** Parses a table's `schemaString`. */
export function parseSchema(schemaString: string): StructType {
  const raw = JSON.parse(schemaString) as unknown;
  const t = parseType(raw);
  if (typeof t !== 'object' || t.type !== 'struct')
    throw new SchemaMismatch('a table schema must be a struct');
  return t;
}

function parseType(raw: unknown): DataType {
  if (typeof raw === 'string') {
    if (PRIMITIVES.has(raw)) return raw as PrimitiveTypeName;
    if (raw === 'decimal') return 'decimal(10,0)';
    const m = DECIMAL.exec(raw);
    if (m) return `decimal(${Number(m[1])},${Number(m[2])})`;
    throw new SchemaMismatch(`unknown Delta type '${raw}'`);
  }
  const obj = raw as Record<string, unknown>;
  switch (obj.type) {
    case 'struct':
      return {
        type: 'struct',
        fields: ((obj.fields as unknown[]) ?? []).map((f) => {
          const field = f as Record<string, unknown>;
          return {
            name: String(field.name),
            type: parseType(field.type),
            nullable: field.nullable !== false,
            metadata: (field.metadata as Record<string, unknown>) ?? {},
          };
        }),
      };
    case 'array':
      return {
        type: 'array',
        elementType: parseType(obj.elementType),
        containsNull: obj.containsNull !== false,
      };
    case 'map':
      return {
        type: 'map',
        keyType: parseType(obj.keyType),
        valueType: parseType(obj.valueType),
        valueContainsNull: obj.valueContainsNull !== false,
      };
    default:
      throw new SchemaMismatch(`unknown Delta type ${JSON.stringify(raw)}`);
  }
}

/** Serialises a schema as a `schemaString`. */
export function serializeSchema(schema: StructType): string {
  return JSON.stringify(schema);
}

/** A nullable field with empty metadata. */
export function field(name: string, type: DataType, nullable = true): StructField {
  return { name, type, nullable, metadata: {} };
}

export function isDecimal(t: DataType): t is `decimal(${number},${number})` {
  return typeof t === 'string' && t.startsWith('decimal(');
}

/** The DuckDB type that holds values of a Delta type. */
export function toDuckType(t: DataType): string {
  if (typeof t === 'string') {
    if (isDecimal(t)) {
      const m = DECIMAL.exec(t)!;
      return `DECIMAL(${m[1]},${m[2]})`;
    }
    switch (t) {
      case 'string':
        return 'VARCHAR';
      case 'long':
        return 'BIGINT';
      case 'integer':
        return 'INTEGER';
      case 'short':
        return 'SMALLINT';
      case 'byte':
        return 'TINYINT';
      case 'float':
        return 'FLOAT';
      case 'double':
        return 'DOUBLE';
      case 'boolean':
        return 'BOOLEAN';
      case 'binary':
        return 'BLOB';
      case 'date':
        return 'DATE';
      case 'timestamp':
        return 'TIMESTAMPTZ';
      case 'timestamp_ntz':
        return 'TIMESTAMP';
      case 'void':
        return 'INTEGER';
      case 'variant':
        throw new SchemaMismatch('the variant type is not supported');
    }
  }
  switch (t.type) {
    case 'struct':
      return `STRUCT(${t.fields.map((f) => `${ident(f.name)} ${toDuckType(f.type)}`).join(', ')})`;
    case 'array':
      return `${toDuckType(t.elementType)}[]`;
    case 'map':
      return `MAP(${toDuckType(t.keyType)}, ${toDuckType(t.valueType)})`;
  }
  throw new SchemaMismatch(`no DuckDB type for ${JSON.stringify(t)}`);
}

/**
 * The Delta type for a DuckDB result column. DuckDB's TIMESTAMP (no zone) becomes Delta `timestamp`,
 * read as UTC, so that tables stay readable without the timestampNtz feature (docs/delta-support.md).
 */
export function fromDuckType(t: DuckDBType, column: string): DataType {
  switch (t.typeId) {
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.ENUM:
      return 'string';
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
      return 'long';
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return 'integer';
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return 'short';
    case DuckDBTypeId.TINYINT:
      return 'byte';
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
      return 'decimal(38,0)';
    case DuckDBTypeId.FLOAT:
      return 'float';
    case DuckDBTypeId.DOUBLE:
      return 'double';
    case DuckDBTypeId.BOOLEAN:
      return 'boolean';
    case DuckDBTypeId.BLOB:
      return 'binary';
    case DuckDBTypeId.DATE:
      return 'date';
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS:
      return 'timestamp';
    case DuckDBTypeId.SQLNULL:
      return 'string';
    case DuckDBTypeId.DECIMAL:
      return `decimal(${t.width},${t.scale})`;
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { type: 'array', elementType: fromDuckType(t.valueType, column), containsNull: true };
    case DuckDBTypeId.MAP:
      return {
        type: 'map',
        keyType: fromDuckType(t.keyType, column),
        valueType: fromDuckType(t.valueType, column),
        valueContainsNull: true,
      };
    case DuckDBTypeId.STRUCT:
      return {
        type: 'struct',
        fields: t.entryNames.map((n, i) => field(n, fromDuckType(t.entryTypes[i]!, `${column}.${n}`))),
      };
    default:
      throw new SchemaMismatch(
        `column '${column}' has DuckDB type ${t.toString()}, which Delta cannot store`,
      );
  }
}

/**
 * The Delta type of a data column: DuckDB's TIMESTAMP (no zone) is `timestamp` (UTC), except for a
 * table column of type `timestamp_ntz`, which it fills as it is (wall-clock time, no zone).
 */
export function dataColumnType(name: string, type: DuckDBType, table: StructType | undefined): DataType {
  const target = table?.fields.find((f) => f.name === name)?.type;
  const zoneless = [
    DuckDBTypeId.TIMESTAMP,
    DuckDBTypeId.TIMESTAMP_MS,
    DuckDBTypeId.TIMESTAMP_S,
    DuckDBTypeId.TIMESTAMP_NS,
  ];
  if (target === 'timestamp_ntz' && zoneless.includes(type.typeId)) return 'timestamp_ntz';
  return fromDuckType(type, name);
}

/** Whether a type, or any type nested in it, is `primitive`. */
export function usesType(type: DataType, primitive: string): boolean {
  if (typeof type === 'string') return type === primitive;
  if (type.type === 'struct') return type.fields.some((f) => usesType(f.type, primitive));
  if (type.type === 'array') return usesType(type.elementType, primitive);
  return usesType(type.keyType, primitive) || usesType(type.valueType, primitive);
}

/** Whether values of type `from` can be written to a column of type `to` without loss. */
export function canWiden(from: DataType, to: DataType): boolean {
  if (typesEqual(from, to)) return true;
  if (typeof from === 'string' && typeof to === 'string') {
    const ints = ['byte', 'short', 'integer', 'long'];
    const fi = ints.indexOf(from);
    const ti = ints.indexOf(to);
    if (fi >= 0 && ti >= 0) return fi <= ti;
    if (fi >= 0 && to === 'double') return fi <= 2;
    if (from === 'float' && to === 'double') return true;
    if (from === 'date' && (to === 'timestamp' || to === 'timestamp_ntz')) return true;
    if (from === 'void') return true;
    if (isDecimal(to) && (fi >= 0 || isDecimal(from))) return true; // checked by the cast at write time
    return false;
  }
  if (typeof from === 'object' && typeof to === 'object') {
    if (from.type === 'array' && to.type === 'array') return canWiden(from.elementType, to.elementType);
    if (from.type === 'map' && to.type === 'map') {
      return canWiden(from.keyType, to.keyType) && canWiden(from.valueType, to.valueType);
    }
    if (from.type === 'struct' && to.type === 'struct') {
      return from.fields.every((f) => {
        const target = to.fields.find((g) => g.name.toLowerCase() === f.name.toLowerCase());
        return target !== undefined && canWiden(f.type, target.type);
      });
    }
  }
  return false;
}

/** Structural equality of two types, ignoring field metadata and nullability. */
export function typesEqual(a: DataType, b: DataType): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if (a.type !== b.type) return false;
  if (a.type === 'array' && b.type === 'array') return typesEqual(a.elementType, b.elementType);
  if (a.type === 'map' && b.type === 'map')
    return typesEqual(a.keyType, b.keyType) && typesEqual(a.valueType, b.valueType);
  if (a.type === 'struct' && b.type === 'struct') {
    return (
      a.fields.length === b.fields.length &&
      a.fields.every((f, i) => f.name === b.fields[i]!.name && typesEqual(f.type, b.fields[i]!.type))
    );
  }
  return false;
}

/** Human-readable type, as Spark prints it (e.g. `array<string>`). */
export function typeToString(t: DataType): string {
  if (typeof t === 'string') return t;
  switch (t.type) {
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}:${typeToString(f.type)}`).join(',')}>`;
    case 'array':
      return `array<${typeToString(t.elementType)}>`;
    case 'map':
      return `map<${typeToString(t.keyType)},${typeToString(t.valueType)}>`;
  }
}

/** Column-mapping mode of a table ('none' unless the table property says otherwise). */
export type ColumnMappingMode = 'none' | 'name' | 'id';

/** The physical name of a field under a column-mapping mode. */
export function physicalName(f: StructField, mode: ColumnMappingMode): string {
  if (mode === 'none') return f.name;
  const p = f.metadata['delta.columnMapping.physicalName'];
  return typeof p === 'string' ? p : f.name;
}

/** The column-mapping id of a field, if it has one. */
export function columnMappingId(f: StructField): number | undefined {
  const id = f.metadata['delta.columnMapping.id'];
  return typeof id === 'number' ? id : undefined;
}
