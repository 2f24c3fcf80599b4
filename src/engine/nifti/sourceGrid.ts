/**
 * Outputs on the input's own grid. The engine works on canonical RAS volumes (toCanonical),
 * but a file written for an input image (anomaly map, annotation) must line up with that
 * image voxel for voxel: numpy/MONAI/nnU-Net pipelines index arrays, they do not resample.
 * A SourceGrid remembers what toCanonical did and the input's grid-placing header fields;
 * writeOnSourceGrid stores canonical data back in the input's voxel order under a header
 * whose geometry fields are the input's, byte for byte.
 */
import { gzipSync } from 'node:zlib';
import { NiftiError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import type { VoxelArray } from './datatypes';
import { canonicalAxes, fromCanonical, toCanonical, type CanonicalAxes } from './orient';
import { readNifti, type ReadOptions, type ReadResult } from './read';
import type { NiftiDatatype, NiftiHeader, SourceGeometry, Volume } from './types';
import { DEFAULT_GZIP_LEVEL, encodeNifti } from './write';

export interface SourceGrid {
  /** The input file (for messages). */
  file?: string;
  /** Spatial dims dim[1..3] of the input, in storage order. */
  dims: [number, number, number];
  /** The input's storage voxel → world affine, as the reader resolved it. */
  affine: Float64Array;
  /** The reordering toCanonical applied (canonical axis w = storage axis axes[w].axis). */
  axes: CanonicalAxes;
  geometry: SourceGeometry;
}

/** The source grid of an image read with readNifti. */
export function sourceGridOf(read: Pick<ReadResult, 'header' | 'volume'>, file?: string): SourceGrid {
  const { header, volume } = read;
  return { file, dims: [...volume.dims], affine: volume.affine.slice(), axes: canonicalAxes(volume.affine), geometry: header.geometry };
}

/** Like loadVolume (one volume, canonical RAS), plus the grid outputs for it must be written on. */
export function loadVolumeWithSource(
  pathOrBytes: string | Uint8Array,
  opts: ReadOptions = {},
): { volume: Volume; source: SourceGrid; header: NiftiHeader } {
  const read = readNifti(pathOrBytes, opts);
  const file = opts.file ?? (typeof pathOrBytes === 'string' ? pathOrBytes : undefined);
  return { volume: toCanonical(read.volume), source: sourceGridOf(read, file), header: read.header };
}

export interface SourceWriteOptions {
  /** On-disk datatype; default float32. */
  datatype?: NiftiDatatype;
  description?: string;
  gzipLevel?: number;
}

/**
 * Writes `canonicalData` (on the canonical grid of `source`, x fastest) to `path` as a 3-D
 * image on the input's grid: same NIfTI version and byte order, dims 1–3 of the input (a 4-D
 * input gives a 3-D output), voxels in the input's storage order, and pixdim[0..3],
 * xyzt_units, qform/sform codes, quaternion, qoffset and srows exactly as the input stores
 * them. Atomic; gzip-compressed when the name ends in .gz.
 */
export function writeOnSourceGrid(path: string, source: SourceGrid, canonicalData: VoxelArray, opts: SourceWriteOptions = {}): void {
  const n = source.dims[0] * source.dims[1] * source.dims[2];
  if (canonicalData.length !== n) {
    throw new NiftiError(
      'nifti/bad-input',
      `data has ${canonicalData.length} values but the grid of ${source.file ?? 'the input'} (${source.dims.join('×')}) has ${n} voxels`,
      path,
    );
  }
  const g = source.geometry;
  const bytes = encodeNifti(
    { dims: source.dims, affine: source.affine, data: fromCanonical(canonicalData, source) },
    { datatype: opts.datatype, description: opts.description, version: g.version, littleEndian: g.littleEndian, file: path },
  );
  // encodeNifti wrote a qform/sform of its own making from the affine; put the input's back.
  putGeometry(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), g);
  const out = path.toLowerCase().endsWith('.gz') ? gzipSync(bytes, { level: opts.gzipLevel ?? DEFAULT_GZIP_LEVEL }) : bytes;
  try {
    writeFileAtomic(path, out);
  } catch (e) {
    throw new NiftiError('nifti/io', `cannot write: ${(e as Error)?.message ?? String(e)}`, path, { cause: e });
  }
}

/** The geometry fields at their offsets (NIfTI-1 and NIfTI-2 layouts, as header.ts reads them). */
function putGeometry(v: DataView, g: SourceGeometry): void {
  const le = g.littleEndian;
  if (g.version === 1) {
    g.pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
    v.setUint8(123, g.xyztUnits);
    v.setInt16(252, g.qformCode, le);
    v.setInt16(254, g.sformCode, le);
    [...g.quatern, ...g.qoffset].forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
    g.srow.forEach((x, i) => v.setFloat32(280 + 4 * i, x, le));
  } else {
    g.pixdim.forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
    v.setInt32(344, g.qformCode, le);
    v.setInt32(348, g.sformCode, le);
    [...g.quatern, ...g.qoffset].forEach((x, i) => v.setFloat64(352 + 8 * i, x, le));
    g.srow.forEach((x, i) => v.setFloat64(400 + 8 * i, x, le));
    v.setInt32(500, g.xyztUnits, le);
  }
}
