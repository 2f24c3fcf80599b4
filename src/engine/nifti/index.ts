/** NIfTI I/O: read/write NIfTI-1/2 (.nii, .nii.gz), validation, orientation, slices, stats. */
export type { NiftiDatatype, NiftiHeader, Volume } from './types';
export { DATATYPE_CODE } from './types';
export { parseNiftiHeader, imageLayout, affineSource, type ImageLayout } from './header';
export { readNifti, DEFAULT_MAX_BYTES, type ReadOptions, type ReadResult } from './read';
export { loadVolume } from './load';
export { encodeNifti, writeNifti, DEFAULT_GZIP_LEVEL, type NiftiImage, type WriteOptions } from './write';
export { toCanonical, isCanonical } from './orient';
export { orientationCode, axisOrientations, type AxisOrientation } from './affine';
export { axialSlice, coronalSlice, sagittalSlice, type Slice } from './slice';
export { volumeStats, sameGrid, type VolumeStats } from './volume';
