/**
 * Reorientation to canonical RAS: permute and flip voxel axes so that axis 0 runs left→right,
 * axis 1 posterior→anterior and axis 2 inferior→superior. The affine is updated so every voxel
 * keeps its world position; only the storage order changes. Axial slice z of a canonical
 * volume is then the same anatomy whether the file was stored LPS, RAS, LAS, …
 * `fromCanonical` undoes the reordering, so outputs can be stored in the input's own order.
 */
import { axisOrientations } from './affine';
import type { VoxelArray } from './datatypes';
import type { Volume } from './types';

/** Canonical axis w is storage axis `axis`, reversed when `flip`. */
export interface CanonicalAxis {
  axis: 0 | 1 | 2;
  flip: boolean;
}
export type CanonicalAxes = readonly [CanonicalAxis, CanonicalAxis, CanonicalAxis];

/** How toCanonical reorders a volume with this (storage voxel → world) affine. */
export function canonicalAxes(affine: Float64Array): CanonicalAxes {
  const out: CanonicalAxis[] = [];
  axisOrientations(affine).forEach((o, j) => {
    out[o.worldAxis] = { axis: j as 0 | 1 | 2, flip: o.sign < 0 };
  });
  return out as unknown as CanonicalAxes;
}

function isIdentity(axes: CanonicalAxes): boolean {
  return axes.every((a, w) => a.axis === w && !a.flip);
}

export function isCanonical(vol: Volume): boolean {
  return isIdentity(canonicalAxes(vol.affine));
}

/**
 * Where canonical voxel (a, b, c) lies in storage order: base + a·step[0] + b·step[1] +
 * c·step[2], for storage dims `dims`. Both directions walk this one map.
 */
function storageWalk(
  dims: readonly number[],
  axes: CanonicalAxes,
): { base: number; step: number[]; canonicalDims: [number, number, number] } {
  const stride = [1, dims[0], dims[0] * dims[1]];
  let base = 0;
  const step = [0, 0, 0];
  const canonicalDims: [number, number, number] = [0, 0, 0];
  axes.forEach(({ axis, flip }, w) => {
    canonicalDims[w] = dims[axis];
    step[w] = flip ? -stride[axis] : stride[axis];
    if (flip) base += (dims[axis] - 1) * stride[axis];
  });
  return { base, step, canonicalDims };
}

/**
 * The canonical grid (dims, spacing, affine) of a grid stored with `dims`/`spacing`/`affine`,
 * without touching voxels: what toCanonical's result would have, for callers that read only
 * a header (the viewer's host).
 */
export function canonicalGrid(grid: Pick<Volume, 'dims' | 'spacing' | 'affine'>): Pick<Volume, 'dims' | 'spacing' | 'affine'> {
  const axes = canonicalAxes(grid.affine);
  const pick = (v: readonly number[]): [number, number, number] => [v[axes[0].axis], v[axes[1].axis], v[axes[2].axis]];
  // T: output voxel → input voxel (4×4, row-major); new affine = A · T.
  const t = new Float64Array(16);
  t[15] = 1;
  axes.forEach(({ axis, flip }, w) => {
    t[axis * 4 + w] = flip ? -1 : 1;
    if (flip) t[axis * 4 + 3] = grid.dims[axis] - 1;
  });
  return { dims: pick(grid.dims), spacing: pick(grid.spacing), affine: multiply4(grid.affine, t) };
}

/** The RAS-ordered version of `vol` (returns `vol` itself when it already is RAS). */
export function toCanonical(vol: Volume): Volume {
  const axes = canonicalAxes(vol.affine);
  if (isIdentity(axes)) return vol;
  const { base, step } = storageWalk(vol.dims, axes);
  const { dims, spacing, affine } = canonicalGrid(vol);

  const src = vol.data;
  const data = new Float32Array(src.length);
  const [ox, oy, oz] = dims;
  const [s0, s1, s2] = step;
  let k = 0;
  for (let c = 0; c < oz; c++) {
    for (let b = 0; b < oy; b++) {
      let p = base + c * s2 + b * s1;
      for (let a = 0; a < ox; a++, p += s0) data[k++] = src[p];
    }
  }
  return { dims, spacing, affine, data };
}

/**
 * The exact inverse of toCanonical's reordering: `data` on the canonical grid of a volume
 * stored with dims `grid.dims` and axes `grid.axes`, back in storage order (x fastest). Same
 * array type as `data`; `data` itself when the storage order already is RAS.
 */
export function fromCanonical<T extends VoxelArray>(data: T, grid: { dims: readonly number[]; axes: CanonicalAxes }): T {
  const { axes, dims } = grid;
  const n = dims[0] * dims[1] * dims[2];
  if (data.length !== n) throw new RangeError(`canonical data has ${data.length} values but the grid ${dims.join('×')} has ${n} voxels`);
  if (isIdentity(axes)) return data;
  const {
    base,
    step,
    canonicalDims: [ox, oy, oz],
  } = storageWalk(dims, axes);
  const [s0, s1, s2] = step;
  const out = new (data.constructor as new (length: number) => T)(n);
  let k = 0;
  for (let c = 0; c < oz; c++) {
    for (let b = 0; b < oy; b++) {
      let p = base + c * s2 + b * s1;
      for (let a = 0; a < ox; a++, p += s0) out[p] = data[k++];
    }
  }
  return out;
}

function multiply4(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(16);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[i * 4 + k] * b[k * 4 + j];
      out[i * 4 + j] = s;
    }
  }
  return out;
}
