import type { Metadata, Protocol } from './actions.js';
import { UnsupportedReaderFeature, UnsupportedWriterFeature } from './errors.js';
import { parseSchema, type DataType, type StructType } from './schema.js';

/** Reader features tweetlake implements (docs/delta-support.md lists them with the tables that use them). */
export const SUPPORTED_READER_FEATURES: ReadonlySet<string> = new Set([
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'v2Checkpoint',
  'vacuumProtocolCheck',
  'typeWidening',
  'typeWidening-preview',
]);

/** The highest reader protocol version tweetlake understands. */
export const MAX_READER_VERSION = 3;
/** The highest writer protocol version tweetlake understands. */
export const MAX_WRITER_VERSION = 7;

/** Writer features tweetlake honours when it writes (others make writes fail). */
export const SUPPORTED_WRITER_FEATURES: ReadonlySet<string> = new Set([
  'appendOnly',
  'invariants',
  'checkConstraints',
  'changeDataFeed',
  'generatedColumns',
  'identityColumns',
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'domainMetadata',
  'inCommitTimestamp',
  'vacuumProtocolCheck',
  'typeWidening',
  'typeWidening-preview',
]);

/** Throws unless tweetlake can read a table with this protocol. */
export function checkReadSupported(protocol: Protocol, location: string): void {
  if (protocol.minReaderVersion > MAX_READER_VERSION) {
    throw new UnsupportedReaderFeature(`readerVersion ${protocol.minReaderVersion}`, location);
  }
  if (protocol.minReaderVersion === 3) {
    for (const feature of protocol.readerFeatures ?? []) {
      if (!SUPPORTED_READER_FEATURES.has(feature)) throw new UnsupportedReaderFeature(feature, location);
    }
  }
}

/** Whether a (reader or writer) feature is supported by the table's protocol, legacy versions included. */
export function hasFeature(protocol: Protocol, feature: string): boolean {
  if (
    (protocol.readerFeatures ?? []).includes(feature) ||
    (protocol.writerFeatures ?? []).includes(feature)
  ) {
    return true;
  }
  if (protocol.minWriterVersion >= 7) return false;
  const legacy: Record<string, number> = {
    appendOnly: 2,
    invariants: 2,
    checkConstraints: 3,
    changeDataFeed: 4,
    generatedColumns: 4,
    columnMapping: 5,
    identityColumns: 6,
  };
  const need = legacy[feature];
  return need !== undefined && protocol.minWriterVersion >= need;
}

function anyField(schema: StructType, pred: (meta: Record<string, unknown>) => boolean): string | undefined {
  const visit = (t: DataType, prefix: string): string | undefined => {
    if (typeof t === 'string') return undefined;
    if (t.type === 'struct') {
      for (const f of t.fields) {
        if (pred(f.metadata)) return `${prefix}${f.name}`;
        const inner = visit(f.type, `${prefix}${f.name}.`);
        if (inner) return inner;
      }
    } else if (t.type === 'array') return visit(t.elementType, prefix);
    else if (t.type === 'map') return visit(t.keyType, prefix) ?? visit(t.valueType, prefix);
    return undefined;
  };
  return visit(schema, '');
}

/** What a write intends to do, so the check can allow features that the write does not touch. */
export interface WriteIntent {
  removesData: boolean;
}

/**
 * Throws unless tweetlake can write to a table with this protocol and metadata while honouring every
 * active writer feature. Features that are supported but inactive (no column uses them) are fine.
 */
export function checkWriteSupported(
  protocol: Protocol,
  metadata: Metadata,
  location: string,
  intent: WriteIntent,
): void {
  checkReadSupported(protocol, location);
  if (protocol.minWriterVersion > MAX_WRITER_VERSION) {
    throw new UnsupportedWriterFeature(`writerVersion ${protocol.minWriterVersion}`, location);
  }
  if (protocol.minWriterVersion === 7) {
    for (const feature of protocol.writerFeatures ?? []) {
      if (!SUPPORTED_WRITER_FEATURES.has(feature)) throw new UnsupportedWriterFeature(feature, location);
    }
  }
  const schema = parseSchema(metadata.schemaString);
  const config = metadata.configuration ?? {};
  if (hasFeature(protocol, 'invariants')) {
    const col = anyField(schema, (m) => m['delta.invariants'] !== undefined);
    if (col) throw new UnsupportedWriterFeature('invariants', location, `column '${col}' has an invariant`);
  }
  if (hasFeature(protocol, 'checkConstraints')) {
    const key = Object.keys(config).find((k) => k.startsWith('delta.constraints.'));
    if (key) throw new UnsupportedWriterFeature('checkConstraints', location, `constraint '${key}' is set`);
  }
  if (hasFeature(protocol, 'generatedColumns')) {
    const col = anyField(schema, (m) => m['delta.generationExpression'] !== undefined);
    if (col) throw new UnsupportedWriterFeature('generatedColumns', location, `column '${col}' is generated`);
  }
  if (hasFeature(protocol, 'identityColumns')) {
    const col = anyField(schema, (m) => m['delta.identity.start'] !== undefined);
    if (col)
      throw new UnsupportedWriterFeature(
        'identityColumns',
        location,
        `column '${col}' is an identity column`,
      );
  }
  if (hasFeature(protocol, 'columnMapping')) {
    const mode = config['delta.columnMapping.mode'] ?? 'none';
    if (mode !== 'none') {
      throw new UnsupportedWriterFeature('columnMapping', location, `column mapping mode is '${mode}'`);
    }
  }
  if (
    intent.removesData &&
    hasFeature(protocol, 'changeDataFeed') &&
    config['delta.enableChangeDataFeed'] === 'true'
  ) {
    throw new UnsupportedWriterFeature(
      'changeDataFeed',
      location,
      'the change data feed is enabled and this operation removes data (tweetlake writes no change data files)',
    );
  }
}
