import type { ObjectStore } from '../storage/object-store.js';
import type { DeletionVectorDescriptor } from './actions.js';
import { decodeActionPath } from './actions.js';
import { CorruptLog, UnsupportedReaderFeature } from './errors.js';

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_INDEX = new Map([...Z85].map((c, i) => [c, i]));
const DV_MAGIC = 1681511377;
const DV_NATIVE_MAGIC = 1681511376;

/** Decodes Z85 text (length a multiple of 5) to bytes. */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) throw new CorruptLog(`Z85 text length ${text.length} is not a multiple of 5`);
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85_INDEX.get(text[i + j]!);
      if (digit === undefined) throw new CorruptLog(`invalid Z85 character '${text[i + j]}'`);
      value = value * 85 + digit;
    }
    out[o] = (value >>> 24) & 0xff;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

/** The file a 'u' or 'p' deletion vector lives in, relative to the table root (or absolute). */
export function deletionVectorPath(dv: DeletionVectorDescriptor): string {
  if (dv.storageType === 'p') return decodeActionPath(dv.pathOrInlineDv);
  if (dv.storageType !== 'u') throw new CorruptLog(`deletion vector of type '${dv.storageType}' has no file`);
  const encoded = dv.pathOrInlineDv;
  const prefix = encoded.slice(0, encoded.length - 20);
  const b = z85Decode(encoded.slice(-20));
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return `${prefix ? `${prefix}/` : ''}deletion_vector_${uuid}.bin`;
}

/** Reads the row indexes a deletion vector removes, ascending. */
export async function readDeletionVector(
  store: ObjectStore,
  dv: DeletionVectorDescriptor,
): Promise<number[]> {
  let bitmap: Uint8Array;
  if (dv.storageType === 'i') {
    bitmap = z85Decode(dv.pathOrInlineDv).subarray(0, dv.sizeInBytes);
  } else if (dv.storageType === 'u' || dv.storageType === 'p') {
    const path = deletionVectorPath(dv);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !path.startsWith('file://')) {
      throw new UnsupportedReaderFeature(`deletion vector at remote path ${path}`, store.root);
    }
    const offset = dv.offset ?? 1;
    const head = await store.getRange(path.replace(/^file:\/\//, ''), offset, 4 + dv.sizeInBytes);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const size = view.getInt32(0, false);
    if (size !== dv.sizeInBytes) {
      throw new CorruptLog(
        `deletion vector in ${path} at ${offset}: size ${size}, descriptor says ${dv.sizeInBytes}`,
      );
    }
    bitmap = head.subarray(4, 4 + size);
  } else {
    throw new CorruptLog(`unknown deletion vector storage type '${dv.storageType}'`);
  }
  const rows = decodeDeletionVectorBitmap(bitmap);
  if (rows.length !== dv.cardinality) {
    throw new CorruptLog(`deletion vector decodes to ${rows.length} rows, descriptor says ${dv.cardinality}`);
  }
  return rows;
}

/**
 * Decodes Delta's magic-prefixed RoaringBitmapArray to its values, ascending: the portable 64-bit
 * format (magic 1681511377) or the native format (magic 1681511376: a count of 32-bit bitmaps, each
 * preceded by its size, bitmap i holding the values with high 32 bits i), as in PROTOCOL.md's inline example.
 */
export function decodeDeletionVectorBitmap(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const bigEndian of [true, false]) {
    if (view.getInt32(0, !bigEndian) !== DV_NATIVE_MAGIC) continue;
    const count = view.getInt32(4, !bigEndian);
    let pos = 8;
    const out: number[] = [];
    for (let high = 0; high < count; high++) {
      const size = view.getInt32(pos, !bigEndian);
      pos += 4;
      decodeRoaring32(view, pos, (low) => out.push(high * 2 ** 32 + low));
      pos += size;
    }
    return out;
  }
  if (view.getInt32(0, true) !== DV_MAGIC) throw new CorruptLog('deletion vector has a wrong magic number');
  const buckets = Number(view.getBigUint64(4, true));
  let pos = 12;
  const out: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const high = view.getUint32(pos, true);
    pos += 4;
    pos = decodeRoaring32(view, pos, (low) => out.push(high * 2 ** 32 + low));
  }
  return out;
}

const SERIAL_COOKIE_NO_RUN = 12346;
const SERIAL_COOKIE = 12347;
const NO_OFFSET_THRESHOLD = 4;

/** Decodes one 32-bit RoaringBitmap (standard portable format) starting at `pos`; returns the end. */
function decodeRoaring32(view: DataView, start: number, emit: (value: number) => void): number {
  let pos = start;
  const cookie = view.getUint32(pos, true);
  pos += 4;
  let size: number;
  let runBitmap: Uint8Array | undefined;
  if ((cookie & 0xffff) === SERIAL_COOKIE) {
    size = (cookie >>> 16) + 1;
    const bytes = Math.ceil(size / 8);
    runBitmap = new Uint8Array(view.buffer, view.byteOffset + pos, bytes);
    pos += bytes;
  } else if (cookie === SERIAL_COOKIE_NO_RUN) {
    size = view.getUint32(pos, true);
    pos += 4;
  } else {
    throw new CorruptLog(`roaring bitmap has an unknown cookie ${cookie}`);
  }
  const keys: number[] = [];
  const cards: number[] = [];
  for (let i = 0; i < size; i++) {
    keys.push(view.getUint16(pos, true));
    cards.push(view.getUint16(pos + 2, true) + 1);
    pos += 4;
  }
  if (!runBitmap || size >= NO_OFFSET_THRESHOLD) pos += 4 * size; // offset header: not needed
  for (let i = 0; i < size; i++) {
    const base = keys[i]! * 65536;
    const isRun = runBitmap !== undefined && (runBitmap[i >> 3]! & (1 << (i & 7))) !== 0;
    if (isRun) {
      const runs = view.getUint16(pos, true);
      pos += 2;
      for (let r = 0; r < runs; r++) {
        const s = view.getUint16(pos, true);
        const len = view.getUint16(pos + 2, true);
        pos += 4;
        for (let v = s; v <= s + len; v++) emit(base + v);
      }
    } else if (cards[i]! <= 4096) {
      for (let k = 0; k < cards[i]!; k++) {
        emit(base + view.getUint16(pos, true));
        pos += 2;
      }
    } else {
      for (let w = 0; w < 1024; w++) {
        const word = view.getBigUint64(pos, true);
        pos += 8;
        if (word === 0n) continue;
        for (let bit = 0; bit < 64; bit++) {
          if ((word >> BigInt(bit)) & 1n) emit(base + w * 64 + bit);
        }
      }
    }
  }
  return pos;
}
