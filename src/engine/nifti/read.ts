/**
 * Reading a NIfTI image: header first (validated), then exactly the bytes it accounts for,
 * decoded to Float32 with scaling applied. Every failure is a NiftiError naming the file;
 * nothing is allocated or inflated before the header has said how much is needed and that
 * amount has been checked against `maxBytes`.
 */
import { NiftiError } from '../errors';
import { formatSize } from '../util/fileio';
import { columnNorm } from './affine';
import { BYTES_PER_VOXEL, PLATFORM_LITTLE_ENDIAN, swapBytesInPlace, voxelView } from './datatypes';
import { GZIP_PREFIX_BYTES, inflateGzipBounded, inflateGzipStart, isGzip } from './gzip';
import { effectiveScaling, imageLayout, NIFTI2_HEADER_SIZE, parseNiftiHeader, sniffHeader, type ImageLayout } from './header';
import { bytesSource, openFileSource, type ByteSource } from './source';
import type { NiftiHeader, Volume } from './types';

/** Default memory limit of one read: 2 GiB. */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
/** Bytes a .nii.gz may inflate to beyond what its header accounts for (trailing padding). */
const GZIP_TRAILING_SLACK = 1024 * 1024;

export interface ReadOptions {
  /** Name used in error messages (defaults to the path). */
  file?: string;
  /** Which 3-D volume of a 4-D (or higher) image to return; default 0. */
  volumeIndex?: number;
  /**
   * Most bytes this read may hold at once: the stored image data it must read or inflate
   * (all volumes for .nii.gz, only the selected volume for .nii) plus the Float32 result.
   * Default 2 GiB.
   */
  maxBytes?: number;
  /** Replace NaN/±Inf voxels with 0 instead of failing. */
  allowNonFinite?: boolean;
}

export interface ReadResult {
  header: NiftiHeader;
  /** The selected volume in storage orientation, scaling applied. */
  volume: Volume;
  /** Number of volumes in the file (product of dims 4–7). */
  volumes: number;
  /** Whether the file was gzip-compressed. */
  compressed: boolean;
  /** NaN/±Inf voxels replaced by 0 (only non-zero with allowNonFinite). */
  nonFiniteReplaced: number;
}

/** Reads one volume of a .nii / .nii.gz file (path) or of its bytes (gzip detected by content). */
export function readNifti(pathOrBytes: string | Uint8Array, opts: ReadOptions = {}): ReadResult {
  const file = opts.file ?? (typeof pathOrBytes === 'string' ? pathOrBytes : undefined);
  const source = typeof pathOrBytes === 'string' ? openFileSource(pathOrBytes) : bytesSource(pathOrBytes);
  try {
    return readFromSource(source, file, opts);
  } finally {
    source.close();
  }
}

function readFromSource(source: ByteSource, file: string | undefined, opts: ReadOptions): ReadResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!(maxBytes > 0)) throw new NiftiError('nifti/bad-option', `maxBytes must be positive, got ${maxBytes}`, file);
  if (source.size === 0) throw new NiftiError('nifti/empty-file', 'file is empty (0 bytes)', file);
  const prefix = source.read(0, Math.min(source.size, GZIP_PREFIX_BYTES));
  return isGzip(prefix) ? readGzipped(source, prefix, file, opts, maxBytes) : readPlain(source, prefix, file, opts, maxBytes);
}

function readPlain(source: ByteSource, prefix: Uint8Array, file: string | undefined, opts: ReadOptions, maxBytes: number): ReadResult {
  const gzName = file?.toLowerCase().endsWith('.gz') && !sniffHeader(prefix);
  let header: NiftiHeader;
  try {
    header = parseNiftiHeader(prefix.subarray(0, NIFTI2_HEADER_SIZE), file);
  } catch (e) {
    // A .gz name on something that is neither gzip nor NIfTI: say both.
    if (gzName && e instanceof NiftiError && e.code === 'nifti/not-nifti') {
      throw new NiftiError('nifti/not-nifti', 'not a NIfTI file: named .gz but not gzip-compressed, and no NIfTI header either', file);
    }
    throw e;
  }
  const layout = imageLayout(header);
  const index = checkVolumeIndex(opts.volumeIndex, layout, file);
  checkDataExtent(header, layout, source.size, file);
  checkMemory(layout.volumeBytes + 4 * layout.voxelsPerVolume, maxBytes, file);
  const stored = source.read(header.voxOffset + index * layout.volumeBytes, layout.volumeBytes);
  return finish(header, layout, stored, file, opts);
}

function readGzipped(source: ByteSource, prefix: Uint8Array, file: string | undefined, opts: ReadOptions, maxBytes: number): ReadResult {
  const headerBytes = (start: Uint8Array) => sniffHeader(start)?.size ?? NIFTI2_HEADER_SIZE;
  const start = inflateGzipStart(prefix, prefix.length === source.size, headerBytes, file);
  const header = parseNiftiHeader(start, file);
  const layout = imageLayout(header);
  const index = checkVolumeIndex(opts.volumeIndex, layout, file);
  const expected = header.voxOffset + layout.dataBytes;
  checkMemory(expected + 4 * layout.voxelsPerVolume, maxBytes, file);
  if (source.size > maxBytes)
    throw new NiftiError('nifti/too-large', `compressed file is ${source.size} bytes, over the ${maxBytes}-byte limit`, file);
  const inflated = inflateGzipBounded(source.read(0, source.size), expected + GZIP_TRAILING_SLACK, file);
  checkDataExtent(header, layout, inflated.length, file);
  const offset = header.voxOffset + index * layout.volumeBytes;
  return { ...finish(header, layout, inflated.subarray(offset, offset + layout.volumeBytes), file, opts), compressed: true };
}

function checkVolumeIndex(volumeIndex: number | undefined, layout: ImageLayout, file: string | undefined): number {
  const index = volumeIndex ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= layout.volumes) {
    const range = layout.volumes === 1 ? 'it has 1 volume (index 0)' : `it has ${layout.volumes} volumes (indices 0–${layout.volumes - 1})`;
    throw new NiftiError('nifti/volume-index', `volume index ${volumeIndex} is out of range: ${range}`, file);
  }
  return index;
}

/** `available`: bytes of the (uncompressed) file. */
function checkDataExtent(header: NiftiHeader, layout: ImageLayout, available: number, file: string | undefined): void {
  if (header.voxOffset >= available && layout.dataBytes > 0) {
    throw new NiftiError(
      'nifti/bad-vox-offset',
      `vox_offset ${header.voxOffset} is past the end of the image (${available} bytes uncompressed)`,
      file,
    );
  }
  const have = available - header.voxOffset;
  if (have < layout.dataBytes) {
    throw new NiftiError(
      'nifti/truncated-data',
      `image data is truncated: ${have} of ${layout.dataBytes} bytes present (dims ${header.dims.join('×')}, ${header.datatype})`,
      file,
    );
  }
}

function checkMemory(bytes: number, maxBytes: number, file: string | undefined): void {
  if (bytes > maxBytes)
    throw new NiftiError(
      'nifti/too-large',
      `reading needs ${sizeWithBytes(bytes)} of memory, over the ${sizeWithBytes(maxBytes)} limit (maxBytes)`,
      file,
    );
}

function finish(header: NiftiHeader, layout: ImageLayout, stored: Uint8Array, file: string | undefined, opts: ReadOptions): ReadResult {
  const data = decodeVoxels(stored, header, layout.voxelsPerVolume);
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
  if (bad > 0) {
    if (!opts.allowNonFinite) {
      throw new NiftiError(
        'nifti/non-finite',
        `${bad} of ${data.length} voxels are NaN or infinite as float32 after scaling (allowNonFinite replaces them with 0)`,
        file,
      );
    }
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) data[i] = 0;
  }
  const affine = new Float64Array(header.affine);
  const volume: Volume = {
    dims: [header.dims[0] ?? 1, header.dims[1] ?? 1, header.dims[2] ?? 1],
    spacing: [columnNorm(affine, 0), columnNorm(affine, 1), columnNorm(affine, 2)],
    affine,
    data,
  };
  return { header, volume, volumes: layout.volumes, compressed: false, nonFiniteReplaced: bad };
}

/**
 * Stored voxels → Float32 with scaling. Uses a typed-array view straight on the bytes when
 * they are aligned and in platform byte order; otherwise one aligned copy (byte-swapped if needed).
 */
function decodeVoxels(stored: Uint8Array, header: NiftiHeader, count: number): Float32Array {
  const size = BYTES_PER_VOXEL[header.datatype];
  let bytes = stored;
  const swap = header.littleEndian !== PLATFORM_LITTLE_ENDIAN && size > 1;
  if (swap || bytes.byteOffset % size !== 0) {
    bytes = stored.slice();
    if (swap) swapBytesInPlace(bytes, size);
  }
  const values = voxelView(header.datatype, bytes.buffer, bytes.byteOffset, count);
  const out = values instanceof Float32Array && bytes !== stored ? values : new Float32Array(count);
  const scaling = effectiveScaling(header);
  if (!scaling) {
    if (out !== values) out.set(values);
    return out;
  }
  // Scale in double precision, as nibabel does, then round once to float32.
  const { slope, inter } = scaling;
  for (let i = 0; i < count; i++) out[i] = values[i] * slope + inter;
  return out;
}

/** A size as formatSize writes it, with the exact byte count when it is rounded. */
function sizeWithBytes(n: number): string {
  return n < 1024 ? formatSize(n) : `${formatSize(n)} (${n} bytes)`;
}
