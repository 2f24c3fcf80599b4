/**
 * Reorientation to canonical RAS: permute and flip voxel axes so that axis 0 runs left→right,
 * axis 1 posterior→anterior and axis 2 inferior→superior. The affine is updated so every voxel
 * keeps its world position; only the storage order changes. Axial slice z of a canonical
 * volume is then the same anatomy whether the file was stored LPS, RAS, LAS, …
 */
import { axisOrientations } from './affine';
import type { Volume } from './types';

export function isCanonical(vol: Volume): boolean {
  return axisOrientations(vol.affine).every((o, j) => o.worldAxis === j && o.sign === 1);
}

/** The RAS-ordered version of `vol` (returns `vol` itself when it already is RAS). */
export function toCanonical(vol: Volume): Volume {
  const orient = axisOrientations(vol.affine);
  if (orient.every((o, j) => o.worldAxis === j && o.sign === 1)) return vol;
  const [nx, ny] = vol.dims;
  const inStride = [1, nx, nx * ny];
  // srcAxis[w]: the input axis that becomes output axis w (the one running along world axis w).
  const srcAxis = [0, 0, 0];
  orient.forEach((o, j) => { srcAxis[o.worldAxis] = j; });

  // Output voxel o maps to input voxel i with i_j = o_w (sign +) or n_j − 1 − o_w (sign −).
  let base = 0;
  const step = [0, 0, 0];
  const dims: [number, number, number] = [0, 0, 0];
  const spacing: [number, number, number] = [0, 0, 0];
  // T: output voxel → input voxel (4×4, row-major); new affine = A · T.
  const t = new Float64Array(16);
  t[15] = 1;
  for (let w = 0; w < 3; w++) {
    const j = srcAxis[w];
    const sign = orient[j].sign;
    dims[w] = vol.dims[j];
    spacing[w] = vol.spacing[j];
    step[w] = sign * inStride[j];
    t[j * 4 + w] = sign;
    if (sign < 0) {
      base += (vol.dims[j] - 1) * inStride[j];
      t[j * 4 + 3] = vol.dims[j] - 1;
    }
  }

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
  return { dims, spacing, affine: multiply4(vol.affine, t), data };
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
