/**
 * 2-D slices of a volume. Convention (no flipping, no transposing): `data[row * width + col]`,
 * where col runs along the first in-plane voxel axis and row along the second, both from
 * index 0. On a canonical (RAS, see toCanonical) volume:
 *   axialSlice(z):    col = x (left → right),      row = y (posterior → anterior)
 *   coronalSlice(y):  col = x (left → right),      row = z (inferior → superior)
 *   sagittalSlice(x): col = y (posterior → anterior), row = z (inferior → superior)
 * so row 0 is the posterior/inferior edge; a viewer that wants anterior/superior at the top
 * draws rows bottom-up.
 */
import { NiftiError } from '../errors';
import type { Volume } from './types';

export interface Slice {
  width: number;
  height: number;
  data: Float32Array;
}

function checkIndex(vol: Volume, axis: 0 | 1 | 2, index: number, what: string): void {
  const n = vol.dims[axis];
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new NiftiError('nifti/slice-index', `${what} slice ${index} is out of range: the volume has ${n} (0–${n - 1})`);
  }
}

export function axialSlice(vol: Volume, z: number): Slice {
  checkIndex(vol, 2, z, 'axial');
  const [nx, ny] = vol.dims;
  return { width: nx, height: ny, data: vol.data.slice(z * nx * ny, (z + 1) * nx * ny) };
}

export function coronalSlice(vol: Volume, y: number): Slice {
  checkIndex(vol, 1, y, 'coronal');
  const [nx, ny, nz] = vol.dims;
  const data = new Float32Array(nx * nz);
  for (let z = 0; z < nz; z++) data.set(vol.data.subarray((z * ny + y) * nx, (z * ny + y + 1) * nx), z * nx);
  return { width: nx, height: nz, data };
}

export function sagittalSlice(vol: Volume, x: number): Slice {
  checkIndex(vol, 0, x, 'sagittal');
  const [nx, ny, nz] = vol.dims;
  const data = new Float32Array(ny * nz);
  let k = 0;
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) data[k++] = vol.data[(z * ny + y) * nx + x];
  return { width: ny, height: nz, data };
}
