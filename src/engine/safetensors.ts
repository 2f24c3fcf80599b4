/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}},
 * then raw little-endian data. Every header entry is validated (offsets inside the file,
 * byte size = product(shape) × element size, no overlaps) before any tensor is decoded.
 */
import { constants as bufferConstants } from 'node:buffer';
import { SafetensorsError } from './errors';
import { writeFileAtomic } from './util/atomic';
import { readRegularFile } from './util/fileio';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const ELEMENT_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes of this tensor (a view into the file buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Header JSON larger than this is refused (the format's own reference limit is 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function parseSafetensors(buf: Uint8Array, file = '<safetensors>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError('safetensors/invalid', msg, file);
  };
  if (buf.byteLength < 8) fail(`file is ${buf.byteLength} bytes; a safetensors file starts with an 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > buf.byteLength) {
    fail(`header length ${headerLen} does not fit in a ${buf.byteLength}-byte file (not a safetensors file, or truncated)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    return fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    const { dtype, shape, begin, end } = parseTensorEntry(name, raw, dataLen, fail);
    if (end > begin) spans.push([begin, end, name]); // an empty tensor occupies no bytes and overlaps nothing
    tensors.set(name, { dtype, shape, bytes: buf.subarray(dataStart + begin, dataStart + end) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(`tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  }
  return { tensors, metadata };
}

/** The header's `__metadata__`: string values only. */
function parseMetadata(raw: unknown, fail: (msg: string) => never): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
    metadata[k] = v;
  }
  return metadata;
}

/** One tensor's header entry, checked against the data section's length (`dataLen` bytes). */
function parseTensorEntry(
  name: string,
  raw: unknown,
  dataLen: number,
  fail: (msg: string) => never,
): { dtype: SafetensorsDtype; shape: number[]; begin: number; end: number } {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== 'object' || e === null) fail(`tensor '${name}': entry is not an object`);
  // Own keys only: `'constructor' in ELEMENT_SIZE` is true.
  if (typeof e.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(ELEMENT_SIZE, e.dtype))
    fail(`tensor '${name}': unsupported dtype ${JSON.stringify(e.dtype)}`);
  const dtype = e.dtype as SafetensorsDtype;
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    fail(`tensor '${name}': shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
  const shape = e.shape as number[];
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
    fail(`tensor '${name}': data_offsets ${JSON.stringify(off)} are not [begin, end]`);
  }
  const [begin, end] = off as [number, number];
  if (end > dataLen) fail(`tensor '${name}': data [${begin}, ${end}) runs past the end of the data (${dataLen} bytes; file truncated?)`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count * ELEMENT_SIZE[dtype] !== end - begin) {
    fail(
      `tensor '${name}': shape [${shape.join(', ')}] of ${dtype} needs ${count * ELEMENT_SIZE[dtype]} bytes but its data has ${end - begin}`,
    );
  }
  return { dtype, shape, begin, end };
}

/** Largest safetensors file read: what one Node buffer can hold. */
export const MAX_SAFETENSORS_BYTES = bufferConstants.MAX_LENGTH;

/** Reads a safetensors file: a regular file of at most `maxBytes` (FIFOs and devices refused). */
export function readSafetensors(path: string, opts: { maxBytes?: number; what?: string } = {}): SafetensorsFile {
  const buf = readRegularFile(path, {
    what: opts.what ?? 'safetensors file',
    maxBytes: opts.maxBytes ?? MAX_SAFETENSORS_BYTES,
    as: SafetensorsError,
    code: 'safetensors/unreadable',
    tooLargeCode: 'safetensors/too-large',
  });
  return parseSafetensors(buf, path);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decodes a floating-point (or integer) tensor to Float32 (F16/BF16/F64/ints converted). */
export function toFloat32(t: TensorEntry, name = 'tensor'): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
      break;
    default:
      throw new SafetensorsError('safetensors/dtype', `${name}: cannot convert dtype ${t.dtype as string} to float32`);
  }
  return out;
}

/** Looks up a tensor and returns it as Float32 with its shape; a clear error names what is missing. */
export function getFloat32(
  file: SafetensorsFile,
  name: string,
  expectShape?: number[],
  source = '<safetensors>',
): { shape: number[]; data: Float32Array } {
  const t = file.tensors.get(name);
  if (!t) throw new SafetensorsError('safetensors/missing-tensor', `tensor '${name}' is missing`, source);
  if (expectShape && (expectShape.length !== t.shape.length || expectShape.some((d, i) => d !== t.shape[i]))) {
    throw new SafetensorsError(
      'safetensors/shape-mismatch',
      `tensor '${name}' has shape [${t.shape.join(', ')}], expected [${expectShape.join(', ')}]`,
      source,
    );
  }
  return { shape: t.shape, data: toFloat32(t, name) };
}

const ARRAY_DTYPE: Record<NonNullable<TensorToWrite['dtype']>, new (length: number) => TensorToWrite['data']> = {
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U8: Uint8Array,
};

export interface TensorToWrite {
  dtype?: 'F32' | 'F64' | 'I64' | 'U8';
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}

/** Serialises tensors (in the given order) to safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const dtype =
      t.dtype ??
      (t.data instanceof Float64Array ? 'F64' : t.data instanceof BigInt64Array ? 'I64' : t.data instanceof Uint8Array ? 'U8' : 'F32');
    if (name === '__metadata__') throw new SafetensorsError('safetensors/bad-name', `'__metadata__' is reserved and cannot name a tensor`);
    if (!(t.data instanceof ARRAY_DTYPE[dtype]))
      throw new SafetensorsError(
        'safetensors/dtype',
        `tensor '${name}': dtype ${dtype} needs a ${ARRAY_DTYPE[dtype].name}, got ${t.data.constructor.name}`,
      );
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new SafetensorsError(
        'safetensors/shape-mismatch',
        `tensor '${name}': shape [${t.shape.join(', ')}] holds ${count} values but ${t.data.length} were given`,
      );
    // Typed arrays are little-endian on every platform Node runs on that we support.
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.byteLength;
  for (const b of parts) {
    out.set(b, p);
    p += b.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temp file + rename). */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
