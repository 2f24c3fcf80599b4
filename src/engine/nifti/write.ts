/**
 * Writing NIfTI-1/2 single files (.nii, or .nii.gz by extension). The affine goes into both
 * the sform (exact) and the qform (its rotation + voxel sizes), so every reader agrees on
 * where voxels are. Values are checked against the target datatype: nothing wraps or turns
 * into garbage silently.
 */
import { gzipSync } from 'node:zlib';
import { NiftiError } from '../errors';
import { affineProblem, columnNorm, qformFromAffine, toAffine } from './affine';
import { BYTES_PER_VOXEL, INTEGER_RANGE, PLATFORM_LITTLE_ENDIAN, swapBytesInPlace, voxelView, type VoxelArray } from './datatypes';
import { NIFTI1_HEADER_SIZE, NIFTI1_VOX_OFFSET, NIFTI2_HEADER_SIZE, NIFTI2_MAGIC, NIFTI2_VOX_OFFSET } from './header';
import { DATATYPE_CODE, type NiftiDatatype, type Volume } from './types';
import { writeFileAtomic } from '../util/atomic';

/** What can be written: a Volume, or the same fields with 1–7 dims (e.g. 4-D for time series). */
export interface NiftiImage {
  dims: readonly number[];
  /** 4×4 voxel → world (RAS+ mm) affine, row-major. */
  affine: ArrayLike<number>;
  /** x fastest, then y, z, then volumes. */
  data: ArrayLike<number>;
  /** If given, must agree with the affine's column norms (it is not written separately). */
  spacing?: readonly number[];
}

export interface WriteOptions {
  /** On-disk datatype; default float32. */
  datatype?: NiftiDatatype;
  /** NIfTI-1 (default) or NIfTI-2. */
  version?: 1 | 2;
  /** Byte order; default little-endian. */
  littleEndian?: boolean;
  /** Stored = (value − sclInter) / sclSlope, rounded for integer types; default 1 and 0. */
  sclSlope?: number;
  sclInter?: number;
  /** Header description (ASCII, at most 80 characters kept). */
  description?: string;
  /** zlib level for .nii.gz (default 1: fast; phantoms write hundreds of MB). */
  gzipLevel?: number;
  /** Name for error messages. */
  file?: string;
}

export const DEFAULT_GZIP_LEVEL = 1;

function badInput(message: string, file: string | undefined): NiftiError {
  return new NiftiError('nifti/bad-input', message, file);
}

/** The uncompressed (or, with `gzip`, compressed) bytes of a NIfTI file holding `image`. */
export function encodeNifti(image: NiftiImage | Volume, opts: WriteOptions & { gzip?: boolean } = {}): Uint8Array {
  const file = opts.file;
  const version = opts.version ?? 1;
  const datatype = opts.datatype ?? 'float32';
  const littleEndian = opts.littleEndian ?? true;
  const slope = opts.sclSlope ?? 1;
  const inter = opts.sclInter ?? 0;
  if (version !== 1 && version !== 2) throw badInput(`NIfTI version must be 1 or 2, got ${String(version)}`, file);
  if (!(datatype in BYTES_PER_VOXEL)) throw badInput(`cannot write datatype '${String(datatype)}'`, file);
  if (!Number.isFinite(slope) || slope === 0 || !Number.isFinite(inter))
    throw badInput(`scl_slope must be finite and non-zero and scl_inter finite, got ${slope} and ${inter}`, file);

  const dims = Array.from(image.dims);
  if (dims.length < 1 || dims.length > 7) throw badInput(`an image has 1 to 7 dimensions, got ${dims.length}`, file);
  const maxDim = version === 1 ? 32767 : 2 ** 31 - 1;
  dims.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1 || d > maxDim)
      throw badInput(`dims[${i}] is ${d}; must be an integer in 1..${maxDim}${version === 1 ? ' (use NIfTI-2 for larger)' : ''}`, file);
  });
  const count = dims.reduce((p, d) => p * d, 1);
  if (image.data.length !== count) throw badInput(`data has ${image.data.length} values but dims ${dims.join('×')} need ${count}`, file);

  const problem = affineProblem(image.affine);
  if (problem) throw new NiftiError('nifti/bad-affine', `cannot write: ${problem}`, file);
  const affine = toAffine(image.affine);
  if (image.spacing) {
    image.spacing.slice(0, 3).forEach((s, j) => {
      const norm = columnNorm(affine, j);
      if (!(Math.abs(s - norm) <= 1e-4 * norm + 1e-6))
        throw badInput(`spacing[${j}] is ${s} but the affine's voxel size along axis ${j} is ${norm}`, file);
    });
  }

  const voxOffset = version === 1 ? NIFTI1_VOX_OFFSET : NIFTI2_VOX_OFFSET;
  const bytesPerVoxel = BYTES_PER_VOXEL[datatype];
  const out = new Uint8Array(voxOffset + count * bytesPerVoxel);
  const header = { dims, datatype, affine, voxOffset, slope, inter, description: opts.description ?? '' };
  if (version === 1) writeHeader1(new DataView(out.buffer), littleEndian, header);
  else writeHeader2(new DataView(out.buffer), littleEndian, header);

  // voxOffset (352 or 544) is a multiple of 8, so the view is aligned for every datatype.
  const target = voxelView(datatype, out.buffer, voxOffset, count);
  fillStored(target, image.data, datatype, slope, inter, file);
  if (littleEndian !== PLATFORM_LITTLE_ENDIAN) swapBytesInPlace(out.subarray(voxOffset), bytesPerVoxel);
  return opts.gzip ? gzipSync(out, { level: opts.gzipLevel ?? DEFAULT_GZIP_LEVEL }) : out;
}

/** Writes `image` to `path` atomically; gzip-compressed when the name ends in .gz. */
export function writeNifti(path: string, image: NiftiImage | Volume, opts: WriteOptions = {}): void {
  const bytes = encodeNifti(image, { ...opts, file: opts.file ?? path, gzip: path.toLowerCase().endsWith('.gz') });
  writeFileAtomic(path, bytes);
}

/** Converts values to stored numbers: inverse scaling, rounding and range checks for integers. */
function fillStored(
  target: VoxelArray,
  data: ArrayLike<number>,
  datatype: NiftiDatatype,
  slope: number,
  inter: number,
  file: string | undefined,
): void {
  const scaled = slope !== 1 || inter !== 0;
  const range = INTEGER_RANGE[datatype];
  const n = target.length;
  if (range) {
    const [lo, hi] = range;
    for (let i = 0; i < n; i++) {
      const v = data[i];
      const s = Math.round(scaled ? (v - inter) / slope : v);
      if (!(s >= lo && s <= hi)) {
        if (Number.isNaN(v)) throw new NiftiError('nifti/nan-to-integer', `voxel ${i} is NaN, which ${datatype} cannot store`, file);
        throw new NiftiError(
          'nifti/value-out-of-range',
          `voxel ${i} is ${v}${scaled ? ` (stored ${s} with scl_slope ${slope}, scl_inter ${inter})` : ''}, outside ${datatype}'s range ${lo}..${hi}`,
          file,
        );
      }
      target[i] = s;
    }
    return;
  }
  if (!scaled && datatype === 'float64') {
    for (let i = 0; i < n; i++) target[i] = data[i];
    return;
  }
  for (let i = 0; i < n; i++) {
    const s = scaled ? (data[i] - inter) / slope : data[i];
    if (datatype === 'float32' && Number.isFinite(s) && !Number.isFinite(Math.fround(s))) {
      throw new NiftiError('nifti/value-out-of-range', `voxel ${i} is ${data[i]}, beyond float32's range`, file);
    }
    target[i] = s;
  }
}

interface HeaderFields {
  dims: number[];
  datatype: NiftiDatatype;
  affine: Float64Array;
  voxOffset: number;
  slope: number;
  inter: number;
  description: string;
}

/** xyzt_units: millimetres, plus seconds when there is a time axis. */
function xyztUnits(ndim: number): number {
  return 2 + (ndim > 3 ? 8 : 0);
}

function writeAscii(view: DataView, offset: number, text: string, maxLength: number): void {
  for (let i = 0; i < Math.min(text.length, maxLength); i++) {
    const c = text.charCodeAt(i);
    view.setUint8(offset + i, c >= 32 && c < 127 ? c : 0x3f);
  }
}

/** pixdim[0..7]: qfac, voxel sizes, then 1 for any further axes (e.g. the time step). */
function pixdims(q: ReturnType<typeof qformFromAffine>): number[] {
  return [q.qfac, ...q.zooms, 1, 1, 1, 1];
}

function writeHeader1(v: DataView, le: boolean, h: HeaderFields): void {
  const q = qformFromAffine(h.affine);
  v.setInt32(0, NIFTI1_HEADER_SIZE, le);
  v.setUint8(38, 0x72); // 'regular' = 'r', as nibabel and FSL write it
  v.setInt16(40, h.dims.length, le);
  for (let i = 1; i <= 7; i++) v.setInt16(40 + 2 * i, h.dims[i - 1] ?? 1, le);
  v.setInt16(70, DATATYPE_CODE[h.datatype], le);
  v.setInt16(72, BYTES_PER_VOXEL[h.datatype] * 8, le);
  pixdims(q).forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, h.voxOffset, le);
  v.setFloat32(112, h.slope, le);
  v.setFloat32(116, h.inter, le);
  v.setUint8(123, xyztUnits(h.dims.length));
  writeAscii(v, 148, h.description, 80);
  v.setInt16(252, 1, le); // qform_code: scanner
  v.setInt16(254, 1, le); // sform_code: scanner
  [q.b, q.c, q.d, ...q.offset].forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
  for (let i = 0; i < 12; i++) v.setFloat32(280 + 4 * i, h.affine[i], le);
  writeAscii(v, 344, 'n+1', 3); // magic "n+1\0"; bytes 348–351 (no extensions) stay 0
}

function writeHeader2(v: DataView, le: boolean, h: HeaderFields): void {
  const q = qformFromAffine(h.affine);
  v.setInt32(0, NIFTI2_HEADER_SIZE, le);
  NIFTI2_MAGIC.forEach((b, i) => v.setUint8(4 + i, b));
  v.setInt16(12, DATATYPE_CODE[h.datatype], le);
  v.setInt16(14, BYTES_PER_VOXEL[h.datatype] * 8, le);
  v.setBigInt64(16, BigInt(h.dims.length), le);
  for (let i = 1; i <= 7; i++) v.setBigInt64(16 + 8 * i, BigInt(h.dims[i - 1] ?? 1), le);
  pixdims(q).forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
  v.setBigInt64(168, BigInt(h.voxOffset), le);
  v.setFloat64(176, h.slope, le);
  v.setFloat64(184, h.inter, le);
  writeAscii(v, 240, h.description, 80);
  v.setInt32(344, 1, le);
  v.setInt32(348, 1, le);
  [q.b, q.c, q.d, ...q.offset].forEach((x, i) => v.setFloat64(352 + 8 * i, x, le));
  for (let i = 0; i < 12; i++) v.setFloat64(400 + 8 * i, h.affine[i], le);
  v.setInt32(500, xyztUnits(h.dims.length), le);
}
