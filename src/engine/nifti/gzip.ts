/**
 * Bounded gzip inflation for .nii.gz: a small first pass that yields just the header, and a
 * full pass whose output is capped at what the validated header says the file holds, so a
 * lying header or a gzip bomb cannot make us allocate more than that.
 */
import { constants, gunzipSync, inflateRawSync } from 'node:zlib';
import { NiftiError } from '../errors';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Compressed bytes of the first pass; no valid deflate stream needs more for a 540-byte header. */
const HEADER_PASS_DEFLATE_BYTES = 4096;
/** Output cap of the first pass (4 KiB of deflate data cannot legally expand beyond ~4.2 MB). */
const HEADER_PASS_MAX_OUTPUT = 8 * 1024 * 1024;
/** A gzip member header is 10 bytes plus optional fields; the extra field alone may be 64 KiB. */
export const GZIP_PREFIX_BYTES = 256 * 1024;

/** Length of the gzip member header (RFC 1952) at the start of `bytes`, or null if `bytes` ends inside it. */
function gzipHeaderLength(bytes: Uint8Array, file: string | undefined): number | null {
  if (bytes.length < 10) return null;
  if (bytes[2] !== 8) throw new NiftiError('nifti/bad-gzip', `gzip data uses compression method ${bytes[2]}, not deflate`, file);
  const flags = bytes[3];
  if (flags & 0xe0) throw new NiftiError('nifti/bad-gzip', 'gzip header has reserved flag bits set (corrupt file?)', file);
  let pos = 10;
  if (flags & 0x04) {
    if (bytes.length < pos + 2) return null;
    pos += 2 + (bytes[pos] | (bytes[pos + 1] << 8));
  }
  for (const flag of [0x08, 0x10]) {
    if (!(flags & flag)) continue;
    while (pos < bytes.length && bytes[pos] !== 0) pos++;
    pos++; // the terminating zero
  }
  if (flags & 0x02) pos += 2;
  return pos <= bytes.length ? pos : null;
}

/** Maps zlib's failures to our codes. */
function gzipError(e: unknown, file: string | undefined, maxOutput?: number): NiftiError {
  const code = (e as { code?: string })?.code;
  if (code === 'ERR_BUFFER_TOO_LARGE') {
    return new NiftiError(
      'nifti/gzip-bomb',
      `decompresses to more than the ${maxOutput ?? HEADER_PASS_MAX_OUTPUT} bytes its header accounts for (gzip bomb or corrupt header); refusing to inflate further`,
      file,
    );
  }
  if (e instanceof RangeError) return new NiftiError('nifti/too-large', `not enough memory to inflate: ${e.message}`, file, { cause: e });
  if (code === 'Z_BUF_ERROR')
    return new NiftiError('nifti/truncated-gzip', 'gzip data ends unexpectedly (file truncated?)', file, { cause: e });
  return new NiftiError('nifti/bad-gzip', `gzip data is corrupt: ${(e as Error)?.message ?? String(e)}`, file, { cause: e });
}

/**
 * Inflates only the start of a gzip file, from a prefix of the compressed data: enough for
 * `need(start)` bytes (the NIfTI header; how many depends on the first bytes). `wholeFile` says
 * whether `prefix` is the entire file. Returns fewer bytes only when the (complete, valid)
 * stream is that short.
 */
export function inflateGzipStart(
  prefix: Uint8Array,
  wholeFile: boolean,
  need: (start: Uint8Array) => number,
  file: string | undefined,
): Uint8Array {
  const start = gzipHeaderLength(prefix, file);
  if (start === null) {
    if (wholeFile) throw new NiftiError('nifti/truncated-gzip', 'gzip data ends inside its own header (file truncated?)', file);
    throw new NiftiError('nifti/bad-gzip', `gzip header is longer than ${prefix.length} bytes (corrupt file?)`, file);
  }
  const end = Math.min(prefix.length, start + HEADER_PASS_DEFLATE_BYTES);
  let out: Uint8Array;
  try {
    out = inflateRawSync(prefix.subarray(start, end), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: HEADER_PASS_MAX_OUTPUT });
  } catch (e) {
    throw gzipError(e, file);
  }
  if (out.length >= need(out)) return out;
  if (!(wholeFile && end === prefix.length)) {
    throw new NiftiError(
      'nifti/bad-gzip',
      `the first ${end - start} bytes of compressed data (or its first gzip member) hold only ${out.length} bytes, too few for the NIfTI header`,
      file,
    );
  }
  // The whole (small) file inflated to less than a header: either a cut-off stream or a
  // complete stream of something too short. A checked full inflate tells which.
  inflateGzipBounded(prefix, HEADER_PASS_MAX_OUTPUT, file);
  return out;
}

/** Inflates a whole gzip file (all members, CRC checked), failing once output would exceed `maxOutput`. */
export function inflateGzipBounded(compressed: Uint8Array, maxOutput: number, file: string | undefined): Uint8Array {
  try {
    return gunzipSync(compressed, { maxOutputLength: Math.max(1, maxOutput) });
  } catch (e) {
    throw gzipError(e, file, maxOutput);
  }
}
