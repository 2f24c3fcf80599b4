/** Random access to the bytes of a file or an in-memory buffer, with I/O failures as NiftiError. */
import { NiftiError } from '../errors';
import { openRegularFile } from '../util/fileio';

export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (callers check bounds against `size` first). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

/**
 * A regular file only (a FIFO or /dev/zero would hang or never end; util/fileio.ts), of at
 * most `maxBytes` bytes on disk when given.
 */
export function openFileSource(path: string, maxBytes?: number): ByteSource {
  const f = openRegularFile(path, { what: 'image', as: NiftiError, code: 'nifti/io', tooLargeCode: 'nifti/too-large', maxBytes });
  return { size: f.size, read: (offset, length) => f.read(offset, length, new Uint8Array(length)), close: () => f.close() };
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, offset + length),
    close() {
      /* nothing held */
    },
  };
}
