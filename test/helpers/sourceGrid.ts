/**
 * Raw-byte checks for "written on the input's grid", independent of src/engine/nifti's
 * header code: field offsets straight from the NIfTI-1/2 specs, voxels decoded by hand.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const GRID_FIXTURE_DIR = join(__dirname, '..', 'fixtures', 'nifti', 'grid');
/** Made by scripts/fixtures/make_grid_fixtures.py: int16 values 1 + storage index (volume 0). */
export const GRID_FIXTURES = ['ras.nii.gz', 'lps.nii.gz', 'las_be.nii', 'oblique.nii.gz', 'nifti2_lip.nii.gz', 'lps_4d.nii.gz'];

/** [offset, bytes] of pixdim[0..3], xyzt_units, qform_code … srow_z, per version. */
const GEOMETRY_FIELDS: Record<1 | 2, Record<string, [number, number]>> = {
  1: {
    'pixdim[0..3]': [76, 16],
    xyzt_units: [123, 1],
    qform_code: [252, 2],
    sform_code: [254, 2],
    'quatern_b..qoffset_z': [256, 24],
    'srow_x..srow_z': [280, 48],
  },
  2: {
    'pixdim[0..3]': [104, 32],
    qform_code: [344, 4],
    sform_code: [348, 4],
    'quatern_b..qoffset_z': [352, 48],
    'srow_x..srow_z': [400, 96],
    xyzt_units: [500, 4],
  },
};

export interface RawNifti {
  bytes: Uint8Array;
  version: 1 | 2;
  le: boolean;
  /** dim[0..7]. */
  dim: number[];
  datatype: number;
  voxOffset: number;
}

export function rawNifti(path: string): RawNifti {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = v.getInt32(0, true) === 348 || v.getInt32(0, true) === 540;
  const version = v.getInt32(0, le) === 348 ? 1 : 2;
  if (version === 1) {
    return {
      bytes,
      version,
      le,
      dim: Array.from({ length: 8 }, (_, i) => v.getInt16(40 + 2 * i, le)),
      datatype: v.getInt16(70, le),
      voxOffset: v.getFloat32(108, le),
    };
  }
  return {
    bytes,
    version,
    le,
    dim: Array.from({ length: 8 }, (_, i) => Number(v.getBigInt64(16 + 8 * i, le))),
    datatype: v.getInt16(12, le),
    voxOffset: Number(v.getBigInt64(168, le)),
  };
}

/** The output is a 3-D image of the input's version, byte order and spatial dims, its geometry fields byte-identical. */
export function assertSameGridHeader(input: RawNifti, output: RawNifti, what: string): void {
  assert.equal(output.version, input.version, `${what}: NIfTI version`);
  assert.equal(output.le, input.le, `${what}: byte order`);
  assert.deepEqual(output.dim, [3, input.dim[1], input.dim[2], input.dim[3], 1, 1, 1, 1], `${what}: dim[0..7]`);
  for (const [name, [offset, length]] of Object.entries(GEOMETRY_FIELDS[input.version])) {
    assert.deepEqual(
      [...output.bytes.subarray(offset, offset + length)],
      [...input.bytes.subarray(offset, offset + length)],
      `${what}: ${name} bytes differ from the input's`,
    );
  }
}

/** Stored voxels of volume 0 as numbers (int16, uint8, float32), storage order. */
export function storedVoxels(r: RawNifti): number[] {
  const n = r.dim[1] * r.dim[2] * r.dim[3];
  const v = new DataView(r.bytes.buffer, r.bytes.byteOffset + r.voxOffset, r.bytes.byteLength - r.voxOffset);
  const get = { 2: (i: number) => v.getUint8(i), 4: (i: number) => v.getInt16(2 * i, r.le), 16: (i: number) => v.getFloat32(4 * i, r.le) }[
    r.datatype
  ];
  assert.ok(get, `datatype ${r.datatype} not decoded here`);
  return Array.from({ length: n }, (_, i) => get(i));
}

/**
 * canonical voxel index → storage index of a grid fixture, from its canonical volume's values
 * (value = 1 + storage index): the reader's toCanonical, checked against nibabel elsewhere,
 * not the fromCanonical under test.
 */
export function storageIndexOfCanonical(canonicalValues: Float32Array): Int32Array {
  return Int32Array.from(canonicalValues, (v) => v - 1);
}

/** Canonical index of storage voxel (i, j, k). */
export function canonicalIndexOf(canonicalValues: Float32Array, dims: number[], [i, j, k]: [number, number, number]): number {
  const c = canonicalValues.indexOf(1 + i + dims[1] * (j + dims[2] * k));
  assert.ok(c >= 0);
  return c;
}
