/** Shared NIfTI types. The reader/writer live beside this file. */

/** On-disk datatypes we read and write (NIfTI datatype codes in DATATYPE_CODE). */
export type NiftiDatatype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export const DATATYPE_CODE: Record<NiftiDatatype, number> = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
  uint32: 768,
};

/** A decoded header: what `anyad info` prints and what validation looks at. */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[1..dim[0]] (1–7 entries). */
  dims: number[];
  /** pixdim[1..dim[0]]. */
  pixdim: number[];
  datatype: NiftiDatatype;
  bitpix: number;
  voxOffset: number;
  /** Raw scl_slope / scl_inter; slope 0 (or non-finite) means "no scaling". */
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  /** 4×4 voxel → world (RAS+ mm) affine, row-major, from sform if sform_code > 0, else qform, else pixdim. */
  affine: Float64Array;
  /** Orientation code of the voxel axes, e.g. 'RAS', 'LPS'. */
  orientation: string;
  description: string;
  /** The fields that place the grid in the world, as stored (outputs repeat them: sourceGrid.ts). */
  geometry: SourceGeometry;
}

/**
 * An image's grid-placing header fields exactly as stored: NIfTI-1 float32 values are exact
 * in a JS number and NIfTI-2 float64 values are one, so writing them back in the same version
 * and byte order reproduces the bytes. Dims are not here: the writer sets those.
 */
export interface SourceGeometry {
  version: 1 | 2;
  littleEndian: boolean;
  /** pixdim[0..3]: qfac, then the voxel sizes. */
  pixdim: [number, number, number, number];
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: [number, number, number];
  /** qoffset_x, qoffset_y, qoffset_z. */
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z (12 values). */
  srow: number[];
}

/**
 * One 3-D volume in memory, scaling applied. `data[x + nx*(y + ny*z)]`, x fastest,
 * exactly as stored in NIfTI. After `toCanonical` the axes are RAS: axis 0 runs
 * left→right, axis 1 posterior→anterior, axis 2 inferior→superior, so axial slice z is
 * the same anatomy whatever the file's storage orientation.
 */
export interface Volume {
  dims: [number, number, number];
  /** Voxel size in mm along each axis. */
  spacing: [number, number, number];
  /** 4×4 voxel → world affine, row-major. */
  affine: Float64Array;
  data: Float32Array;
}
