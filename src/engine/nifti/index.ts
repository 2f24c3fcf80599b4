/**
 * NIfTI I/O: read/write NIfTI-1/2 (.nii, .nii.gz), validation, orientation, slices, stats.
 *
 * Outputs written for an input go through writeOnSourceGrid (sourceGrid.ts): the input's own grid.
 *
 * Every failure a file can cause is a NiftiError (src/engine/errors.ts) whose message names the
 * file. Codes: nifti/io, nifti/empty-file, nifti/not-nifti, nifti/unsupported-format (.hdr/.img),
 * nifti/bad-gzip, nifti/truncated-gzip, nifti/gzip-bomb, nifti/truncated-header,
 * nifti/bad-dim-count, nifti/bad-dims, nifti/absurd-dims, nifti/voxel-overflow, nifti/too-large,
 * nifti/bad-vox-offset, nifti/truncated-data, nifti/unknown-datatype, nifti/unsupported-datatype,
 * nifti/bad-bitpix, nifti/bad-scaling, nifti/bad-affine, nifti/non-finite, nifti/volume-index,
 * nifti/bad-option; when writing: nifti/bad-input, nifti/value-out-of-range,
 * nifti/nan-to-integer, nifti/bad-affine (writeOnSourceGrid also nifti/io); slicing: nifti/slice-index.
 */
export type { NiftiDatatype, NiftiHeader, SourceGeometry, Volume } from './types';
export { DATATYPE_CODE } from './types';
export { parseNiftiHeader, imageLayout, affineSource, effectiveScaling, type ImageLayout } from './header';
export { readNifti, DEFAULT_MAX_BYTES, type ReadOptions, type ReadResult } from './read';
export { loadVolume } from './load';
export { encodeNifti, writeNifti, DEFAULT_GZIP_LEVEL, type NiftiImage, type WriteOptions } from './write';
export { toCanonical, isCanonical, fromCanonical, canonicalAxes, canonicalGrid, type CanonicalAxis, type CanonicalAxes } from './orient';
export { loadVolumeWithSource, sourceGridOf, writeOnSourceGrid, type SourceGrid, type SourceWriteOptions } from './sourceGrid';
export { niftiOutputPath } from './outputName';
export { orientationCode, axisOrientations, type AxisOrientation } from './affine';
export { axialSlice, coronalSlice, sagittalSlice, type Slice } from './slice';
export { volumeStats, sameGrid, type VolumeStats } from './volume';
