/** NIfTI datatype codes: which we support, their sizes and ranges, and names for the rest. */
import { DATATYPE_CODE, type NiftiDatatype } from './types';

export const BYTES_PER_VOXEL: Record<NiftiDatatype, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

const DATATYPE_BY_CODE = new Map<number, NiftiDatatype>(
  (Object.entries(DATATYPE_CODE) as [NiftiDatatype, number][]).map(([name, code]) => [code, name]),
);

/** Codes defined by the NIfTI standard that we recognise but cannot turn into one scalar per voxel. */
const UNSUPPORTED_DATATYPES: Record<number, string> = {
  0: 'DT_UNKNOWN (no datatype)',
  1: 'binary (1 bit per voxel)',
  32: 'complex64',
  128: 'RGB24 (colour)',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32 (colour)',
};

export type DatatypeLookup = { kind: 'supported'; datatype: NiftiDatatype } | { kind: 'unsupported'; name: string } | { kind: 'unknown' };

export function lookupDatatype(code: number): DatatypeLookup {
  const datatype = DATATYPE_BY_CODE.get(code);
  if (datatype) return { kind: 'supported', datatype };
  const name = UNSUPPORTED_DATATYPES[code];
  return name ? { kind: 'unsupported', name } : { kind: 'unknown' };
}

/** Inclusive value range of the integer datatypes (float types have none we enforce here). */
export const INTEGER_RANGE: Partial<Record<NiftiDatatype, readonly [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

export type VoxelArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** A typed-array view of `length` voxels of `datatype` over `buffer` (offset must be aligned). */
export function voxelView(datatype: NiftiDatatype, buffer: ArrayBufferLike, byteOffset: number, length: number): VoxelArray {
  switch (datatype) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, length);
    case 'int8':
      return new Int8Array(buffer, byteOffset, length);
    case 'int16':
      return new Int16Array(buffer, byteOffset, length);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, length);
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'float64':
      return new Float64Array(buffer, byteOffset, length);
  }
}

/** True when this machine stores multi-byte numbers little-endian (x86, ARM in practice). */
export const PLATFORM_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the byte order of every `size`-byte element of `bytes`, in place. */
export function swapBytesInPlace(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  const n = bytes.length - (bytes.length % size);
  for (let i = 0; i < n; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}
