/**
 * The 2-D image of an axial slice, as every part of AnyAD shows and feeds it.
 *
 * Convention (radiological, as scanners and PACS display axial images): for a canonical
 * RAS volume (x → patient right, y → anterior, z → superior) of nx × ny × nz voxels,
 *   image row r, column c  =  voxel (x = nx − 1 − c, y = ny − 1 − r, z)
 * so anterior is at the top and the patient's right on the image's left (patient-left on
 * image right). Width = nx, height = ny; `data[r * width + c]`. This is the nifti module's
 * axialSlice (row = y, column = x, both from 0) turned by 180°.
 */
import { axialSlice } from '../nifti';
import type { Volume } from '../nifti/types';

export interface SliceImage {
  width: number;
  height: number;
  data: Float32Array;
}

export function axialImage(vol: Volume, z: number): SliceImage {
  const s = axialSlice(vol, z);
  // Reversing the row-major array flips both rows and columns.
  return { width: s.width, height: s.height, data: s.data.reverse() };
}

/** The voxel (x, y) of a canonical volume shown at image row r, column c of axialImage. */
export function imageToVoxel(vol: Pick<Volume, 'dims'>, r: number, c: number): [number, number] {
  return [vol.dims[0] - 1 - c, vol.dims[1] - 1 - r];
}
