/**
 * Decoding and validating NIfTI-1 (348-byte) and NIfTI-2 (540-byte) headers. Everything a
 * header alone can get wrong is caught here, before any image data is read, inflated or
 * allocated. (nifti-reader-js is not used at run time: it is ESM-only, so Node's require()
 * cannot load it from our CommonJS build; its synchronous readHeader inflates the whole .gz
 * before looking; it takes the qform over the sform when qform_code is the larger code, against
 * the NIfTI rule that sform_code > 0 wins; and it validates neither dims, datatype nor bitpix.
 * The tests use it as a second, independent reader of the files we write.)
 */
import { NiftiError } from '../errors';
import { checkAffine, orientationCode, pixdimAffine, quaternionAffine, toAffine, type Affine } from './affine';
import { BYTES_PER_VOXEL, lookupDatatype } from './datatypes';
import type { NiftiHeader } from './types';

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;
/** Data offset our writer uses: header + the 4-byte extension flag. */
export const NIFTI1_VOX_OFFSET = 352;
export const NIFTI2_VOX_OFFSET = 544;
/** Largest size of one axis we accept: beyond this no typed array could index the data. */
export const MAX_DIM = 2 ** 31 - 1;

export const NIFTI2_MAGIC = [0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]; // "n+2\0\r\n\032\n"

/** Where the header tells us the image lies and how big it is. */
export interface ImageLayout {
  /** Voxels in one 3-D volume (dims 1–3; missing dims count as 1). */
  voxelsPerVolume: number;
  /** Number of 3-D volumes (product of dims 4–7). */
  volumes: number;
  bytesPerVoxel: number;
  volumeBytes: number;
  /** Bytes of all volumes together. */
  dataBytes: number;
}

export function imageLayout(h: NiftiHeader): ImageLayout {
  const voxelsPerVolume = (h.dims[0] ?? 1) * (h.dims[1] ?? 1) * (h.dims[2] ?? 1);
  const volumes = h.dims.slice(3).reduce((p, d) => p * d, 1);
  const bytesPerVoxel = BYTES_PER_VOXEL[h.datatype];
  return {
    voxelsPerVolume,
    volumes,
    bytesPerVoxel,
    volumeBytes: voxelsPerVolume * bytesPerVoxel,
    dataBytes: voxelsPerVolume * volumes * bytesPerVoxel,
  };
}

/** Size of the header the first four bytes announce (sizeof_hdr), or null when they announce none. */
export function sniffHeader(bytes: Uint8Array): { version: 1 | 2; littleEndian: boolean; size: number } | null {
  if (bytes.length < 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const littleEndian of [true, false]) {
    const v = view.getInt32(0, littleEndian);
    if (v === NIFTI1_HEADER_SIZE) return { version: 1, littleEndian, size: NIFTI1_HEADER_SIZE };
    if (v === NIFTI2_HEADER_SIZE) return { version: 2, littleEndian, size: NIFTI2_HEADER_SIZE };
  }
  return null;
}

/** The raw fields we use, read from either header layout. */
interface RawHeader {
  version: 1 | 2;
  littleEndian: boolean;
  size: number;
  /** dim[0..7] as exact integers. */
  dim: bigint[];
  datatypeCode: number;
  bitpix: number;
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  srow: number[];
  xyztUnits: number;
  description: string;
}

function readAscii(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length && bytes[i] !== 0; i++)
    s += bytes[i] >= 32 && bytes[i] < 127 ? String.fromCharCode(bytes[i]) : '?';
  return s;
}

function readRaw1(bytes: Uint8Array, view: DataView, le: boolean, file: string | undefined): RawHeader {
  const magic = readAscii(bytes, 344, 4);
  if (magic === 'ni1')
    throw new NiftiError(
      'nifti/unsupported-format',
      "header has magic 'ni1' (a .hdr/.img pair); only single-file .nii/.nii.gz is supported",
      file,
    );
  if (magic !== 'n+1' || bytes[347] !== 0)
    throw new NiftiError(
      'nifti/not-nifti',
      `not a NIfTI-1 file: sizeof_hdr is 348 but the magic is '${magic}' instead of 'n+1' (an ANALYZE 7.5 header?)`,
      file,
    );
  const f32 = (o: number) => view.getFloat32(o, le);
  const voxOffset = f32(108);
  return {
    version: 1,
    littleEndian: le,
    size: NIFTI1_HEADER_SIZE,
    dim: Array.from({ length: 8 }, (_, i) => BigInt(view.getInt16(40 + 2 * i, le))),
    datatypeCode: view.getInt16(70, le),
    bitpix: view.getInt16(72, le),
    pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
    voxOffset,
    sclSlope: f32(112),
    sclInter: f32(116),
    qformCode: view.getInt16(252, le),
    sformCode: view.getInt16(254, le),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: Array.from({ length: 12 }, (_, i) => f32(280 + 4 * i)),
    xyztUnits: view.getUint8(123),
    description: readAscii(bytes, 148, 80),
  };
}

function readRaw2(bytes: Uint8Array, view: DataView, le: boolean, file: string | undefined): RawHeader {
  if (bytes[4] === 0x6e && bytes[5] === 0x69 && bytes[6] === 0x32)
    throw new NiftiError(
      'nifti/unsupported-format',
      "header has magic 'ni2' (a .hdr/.img pair); only single-file .nii/.nii.gz is supported",
      file,
    );
  if (NIFTI2_MAGIC.some((b, i) => bytes[4 + i] !== b))
    throw new NiftiError(
      'nifti/not-nifti',
      `not a NIfTI-2 file: sizeof_hdr is 540 but the magic is '${readAscii(bytes, 4, 4)}' instead of 'n+2'`,
      file,
    );
  const f64 = (o: number) => view.getFloat64(o, le);
  const voxOffset = view.getBigInt64(168, le);
  return {
    version: 2,
    littleEndian: le,
    size: NIFTI2_HEADER_SIZE,
    dim: Array.from({ length: 8 }, (_, i) => view.getBigInt64(16 + 8 * i, le)),
    datatypeCode: view.getInt16(12, le),
    bitpix: view.getInt16(14, le),
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    voxOffset: voxOffset > BigInt(Number.MAX_SAFE_INTEGER) || voxOffset < 0n ? NaN : Number(voxOffset),
    sclSlope: f64(176),
    sclInter: f64(184),
    qformCode: view.getInt32(344, le),
    sformCode: view.getInt32(348, le),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: Array.from({ length: 12 }, (_, i) => f64(400 + 8 * i)),
    xyztUnits: view.getInt32(500, le),
    description: readAscii(bytes, 240, 80),
  };
}

/**
 * Parses and validates a NIfTI-1 or NIfTI-2 header from the first bytes of a file
 * (uncompressed). Throws NiftiError naming `file` for anything that would make the image
 * unreadable or meaningless; does not look at the data.
 */
export function parseNiftiHeader(bytes: Uint8Array, file?: string): NiftiHeader {
  if (bytes.length === 0) throw new NiftiError('nifti/empty-file', 'file is empty (0 bytes)', file);
  const sniff = sniffHeader(bytes);
  if (!sniff) {
    const first = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true) : null;
    throw new NiftiError(
      'nifti/not-nifti',
      `not a NIfTI file: sizeof_hdr is ${first ?? `missing (${bytes.length} bytes)`}, expected 348 (NIfTI-1) or 540 (NIfTI-2)`,
      file,
    );
  }
  if (bytes.length < sniff.size)
    throw new NiftiError('nifti/truncated-header', `header is truncated: ${bytes.length} of ${sniff.size} bytes`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, sniff.size);
  const raw = sniff.version === 1 ? readRaw1(bytes, view, sniff.littleEndian, file) : readRaw2(bytes, view, sniff.littleEndian, file);
  return validate(raw, file);
}

/** dim[1..dim[0]], each at least 1 and at most MAX_DIM. */
function checkedDims(raw: RawHeader, file: string | undefined): bigint[] {
  const ndim = raw.dim[0];
  if (ndim < 1n || ndim > 7n) throw new NiftiError('nifti/bad-dim-count', `dim[0] (number of dimensions) is ${ndim}, must be 1 to 7`, file);
  const n = Number(ndim);
  const dimsBig = raw.dim.slice(1, n + 1);
  dimsBig.forEach((d, i) => {
    if (d <= 0n) throw new NiftiError('nifti/bad-dims', `dim[${i + 1}] is ${d}; every dimension must be at least 1`, file);
    if (d > BigInt(MAX_DIM))
      throw new NiftiError('nifti/absurd-dims', `dim[${i + 1}] is ${d}, more than the ${MAX_DIM} voxels an axis can have`, file);
  });
  return dimsBig;
}

/** The datatype, which must be a supported one with the matching bitpix. */
function checkedDatatype(raw: RawHeader, file: string | undefined): { datatype: NiftiHeader['datatype']; bytesPerVoxel: number } {
  const dt = lookupDatatype(raw.datatypeCode);
  if (dt.kind === 'unsupported')
    throw new NiftiError(
      'nifti/unsupported-datatype',
      `datatype ${raw.datatypeCode} (${dt.name}) is not supported; supported: uint8, int8, int16, uint16, int32, uint32, float32, float64`,
      file,
    );
  if (dt.kind === 'unknown')
    throw new NiftiError('nifti/unknown-datatype', `datatype code ${raw.datatypeCode} is not a NIfTI datatype`, file);
  const datatype = dt.datatype;
  const bytesPerVoxel = BYTES_PER_VOXEL[datatype];
  if (raw.bitpix !== bytesPerVoxel * 8)
    throw new NiftiError(
      'nifti/bad-bitpix',
      `bitpix is ${raw.bitpix} but datatype ${datatype} has ${bytesPerVoxel * 8} bits per voxel`,
      file,
    );
  return { datatype, bytesPerVoxel };
}

/** The voxel-to-world affine: the sform when set, else the qform, else the pixdim scaling; checked to be usable. */
function voxelToWorld(raw: RawHeader, n: number, file: string | undefined): Affine {
  const zooms = [1, 2, 3].map((i) => (i <= n ? Math.abs(raw.pixdim[i]) : 1));
  let affine: Affine;
  let source: string;
  if (raw.sformCode > 0) {
    affine = toAffine([...raw.srow, 0, 0, 0, 1]);
    source = `sform (sform_code ${raw.sformCode})`;
  } else if (raw.qformCode > 0) {
    const qfac = raw.pixdim[0] < 0 ? -1 : 1;
    affine = quaternionAffine(raw.quatern[0], raw.quatern[1], raw.quatern[2], raw.qoffset, zooms, qfac);
    source = `qform (qform_code ${raw.qformCode}) with pixdim ${zooms.join(', ')}`;
  } else {
    affine = pixdimAffine(zooms);
    source = `pixdim ${zooms.join(', ')} (no sform or qform)`;
  }
  checkAffine(affine, file, `voxel-to-world transform from ${source}`);
  return affine;
}

function validate(raw: RawHeader, file: string | undefined): NiftiHeader {
  const dimsBig = checkedDims(raw, file);
  const n = dimsBig.length;
  const { datatype, bytesPerVoxel } = checkedDatatype(raw, file);
  // Exact integer arithmetic: the product of up to seven axes can exceed 2^53 long before any
  // single axis looks suspicious.
  const voxels = dimsBig.reduce((p, d) => p * d, 1n);
  const dataBytes = voxels * BigInt(bytesPerVoxel);
  if (dataBytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new NiftiError(
      'nifti/voxel-overflow',
      `dims ${dimsBig.join('×')} make ${voxels} voxels (${dataBytes} bytes), beyond what can be addressed`,
      file,
    );
  }

  if (!Number.isFinite(raw.voxOffset) || !Number.isInteger(raw.voxOffset))
    throw new NiftiError('nifti/bad-vox-offset', `vox_offset is ${raw.voxOffset}, not a whole byte offset`, file);
  if (raw.voxOffset < raw.size)
    throw new NiftiError('nifti/bad-vox-offset', `vox_offset ${raw.voxOffset} lies inside the ${raw.size}-byte header`, file);

  // Slope 0 or non-finite means "no scaling" (NIfTI spec); a usable slope with an unusable
  // intercept has no sensible reading.
  const scaled = Number.isFinite(raw.sclSlope) && raw.sclSlope !== 0;
  if (scaled && !Number.isFinite(raw.sclInter))
    throw new NiftiError('nifti/bad-scaling', `scl_slope is ${raw.sclSlope} but scl_inter is ${raw.sclInter}`, file);

  const pixdim = raw.pixdim.slice(1, n + 1);
  const affine = voxelToWorld(raw, n, file);
  return {
    version: raw.version,
    littleEndian: raw.littleEndian,
    dims: dimsBig.map(Number),
    pixdim,
    datatype,
    bitpix: raw.bitpix,
    voxOffset: raw.voxOffset,
    sclSlope: raw.sclSlope,
    sclInter: raw.sclInter,
    qformCode: raw.qformCode,
    sformCode: raw.sformCode,
    affine,
    orientation: orientationCode(affine),
    description: raw.description,
    geometry: {
      version: raw.version,
      littleEndian: raw.littleEndian,
      pixdim: [raw.pixdim[0], raw.pixdim[1], raw.pixdim[2], raw.pixdim[3]],
      xyztUnits: raw.xyztUnits,
      qformCode: raw.qformCode,
      sformCode: raw.sformCode,
      quatern: [...raw.quatern],
      qoffset: [...raw.qoffset],
      srow: [...raw.srow],
    },
  };
}

/** The (slope, intercept) to apply, or null when the header says "no scaling". */
export function effectiveScaling(h: NiftiHeader): { slope: number; inter: number } | null {
  if (!Number.isFinite(h.sclSlope) || h.sclSlope === 0) return null;
  if (h.sclSlope === 1 && h.sclInter === 0) return null;
  return { slope: h.sclSlope, inter: h.sclInter };
}

/** Which header fields the affine came from (sform wins over qform, as the NIfTI spec says). */
export function affineSource(h: NiftiHeader): 'sform' | 'qform' | 'pixdim' {
  return h.sformCode > 0 ? 'sform' : h.qformCode > 0 ? 'qform' : 'pixdim';
}
