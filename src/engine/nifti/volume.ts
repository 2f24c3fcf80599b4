/** Whole-volume summaries: intensity statistics and grid comparison. */
import type { Volume } from './types';

export interface VolumeStats {
  /** Number of voxels. */
  count: number;
  min: number;
  max: number;
  mean: number;
  /** Voxels whose value is not 0. */
  nonZero: number;
}

/** Statistics of the (already scaled) voxel values; the sum is accumulated in double precision. */
export function volumeStats(vol: Pick<Volume, 'data'>): VolumeStats {
  const d = vol.data;
  let min = Infinity,
    max = -Infinity,
    sum = 0,
    nonZero = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v !== 0) nonZero++;
  }
  return d.length === 0
    ? { count: 0, min: NaN, max: NaN, mean: NaN, nonZero: 0 }
    : { count: d.length, min, max, mean: sum / d.length, nonZero };
}

/**
 * True when both volumes have the same dims and their affines agree entry by entry within
 * `tol` (mm for the translation, mm per voxel for the 3×3 part): voxel (i, j, k) is then the
 * same place in both.
 */
export function sameGrid(a: Pick<Volume, 'dims' | 'affine'>, b: Pick<Volume, 'dims' | 'affine'>, tol = 1e-3): boolean {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return false;
  for (let i = 0; i < 16; i++) if (!(Math.abs(a.affine[i] - b.affine[i]) <= tol)) return false;
  return true;
}
