/**
 * The voxel grid of a NIfTI file from its header alone: what the viewer's host needs (the
 * annotation's source and canonical grids, a sibling's grid check) while the webview decodes
 * the image itself. A .nii.gz is inflated only as far as its header (gzip.ts's first pass),
 * never the whole image, and the memory a full read would need is checked against `maxBytes`
 * as readNifti does, so the viewer refuses the same files the engine would.
 */
import { NiftiError } from '../errors';
import { columnNorm } from './affine';
import { GZIP_PREFIX_BYTES, inflateGzipStart, isGzip } from './gzip';
import { imageLayout, NIFTI2_HEADER_SIZE, parseNiftiHeader, sniffHeader } from './header';
import { canonicalGrid } from './orient';
import { DEFAULT_MAX_BYTES } from './read';
import { sourceGridOf, type SourceGrid } from './sourceGrid';
import type { NiftiHeader, Volume } from './types';

export interface HeaderGrid {
  header: NiftiHeader;
  /** The file's own grid (outputs for it are written on this). */
  source: SourceGrid;
  /** Its canonical (RAS) grid: where the engine's volumes, maps and annotations live. */
  canonical: Pick<Volume, 'dims' | 'spacing' | 'affine'>;
  compressed: boolean;
}

/** The grid of the NIfTI whose whole file is `bytes` (plain or gzip, told by content). */
export function headerGridOf(bytes: Uint8Array, file?: string, maxBytes = DEFAULT_MAX_BYTES): HeaderGrid {
  if (bytes.length === 0) throw new NiftiError('nifti/empty-file', 'file is empty (0 bytes)', file);
  if (bytes.length > maxBytes)
    throw new NiftiError('nifti/too-large', `file is ${bytes.length} bytes, over the ${maxBytes}-byte limit (maxBytes)`, file);
  const compressed = isGzip(bytes);
  const start = compressed
    ? inflateGzipStart(
        bytes.subarray(0, GZIP_PREFIX_BYTES),
        bytes.length <= GZIP_PREFIX_BYTES,
        (s) => sniffHeader(s)?.size ?? NIFTI2_HEADER_SIZE,
        file,
      )
    : bytes.subarray(0, NIFTI2_HEADER_SIZE);
  const header = parseNiftiHeader(start, file);
  const layout = imageLayout(header);
  // What decoding one volume needs (stored bytes + Float32 copy), as readNifti counts it.
  const need = (compressed ? header.voxOffset + layout.dataBytes : layout.volumeBytes) + 4 * layout.voxelsPerVolume;
  if (need > maxBytes)
    throw new NiftiError('nifti/too-large', `reading needs ${need} bytes of memory, over the ${maxBytes}-byte limit (maxBytes)`, file);
  if (!compressed && bytes.length - header.voxOffset < layout.volumeBytes) {
    throw new NiftiError(
      'nifti/truncated-data',
      `image data is truncated: ${Math.max(0, bytes.length - header.voxOffset)} of ${layout.volumeBytes} bytes present (dims ${header.dims.join('×')}, ${header.datatype})`,
      file,
    );
  }
  const affine = new Float64Array(header.affine);
  const grid = {
    dims: [header.dims[0] ?? 1, header.dims[1] ?? 1, header.dims[2] ?? 1] as [number, number, number],
    spacing: [columnNorm(affine, 0), columnNorm(affine, 1), columnNorm(affine, 2)] as [number, number, number],
    affine,
  };
  const source = sourceGridOf({ header, volume: { ...grid, data: new Float32Array(0) } }, file);
  return { header, source, canonical: canonicalGrid(grid), compressed };
}
