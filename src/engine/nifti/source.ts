/** Random access to the bytes of a file or an in-memory buffer, with I/O failures as NiftiError. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { NiftiError } from '../errors';

export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (callers check bounds against `size` first). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

function ioError(e: unknown, file: string): NiftiError {
  const err = e as NodeJS.ErrnoException;
  const why = err?.code === 'ENOENT' ? 'no such file' : err?.code === 'EISDIR' ? 'is a directory, not a file' : err?.code === 'EACCES' ? 'permission denied' : (err?.message ?? String(e));
  return new NiftiError('nifti/io', `cannot read: ${why}`, file, { cause: e });
}

export function openFileSource(path: string): ByteSource {
  let fd: number;
  let size: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(e, path);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    size = st.size;
  } catch (e) {
    closeSync(fd);
    throw ioError(e, path);
  }
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      try {
        let done = 0;
        while (done < length) {
          const n = readSync(fd, out, done, length - done, offset + done);
          if (n === 0) throw new Error(`file shrank while being read (${offset + done} of ${offset + length} bytes)`);
          done += n;
        }
      } catch (e) {
        throw ioError(e, path);
      }
      return out;
    },
    close() { closeSync(fd); },
  };
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, offset + length),
    close() { /* nothing held */ },
  };
}
