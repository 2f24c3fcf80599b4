/**
 * Opening and reading files safely: every file the engine reads goes through openRegularFile,
 * which opens without blocking (a FIFO would otherwise block `open` forever), checks with
 * fstat on the opened descriptor that it is a regular file (not a FIFO, a device such as
 * /dev/zero, a socket or a folder) and applies a size limit before a byte is read. Reads are
 * then bounded by that size, so a file that grows while read cannot make us read more.
 *
 * I/O failures become typed one-line errors naming the path and the cause in words
 * (ENOSPC → "disk full", ELOOP → "too many levels of symbolic links", …).
 */
import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import { AnyadError, FileError } from '../errors';

type ErrorClass = new (code: string, message: string, file?: string, options?: { cause?: unknown }) => AnyadError;

const CAUSES: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'disk full (no space left on the device)',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links (a symlink loop?)',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error (failing disk or network share?)',
  EEXIST: 'already exists',
  EBUSY: 'busy',
  ETXTBSY: 'busy',
  EXDEV: 'cannot move across file systems',
  EFBIG: 'file too large for the file system',
  ENXIO: 'no such device',
  EAGAIN: 'resource temporarily unavailable',
};

/** "disk full (no space left on the device) (ENOSPC)": the cause of an I/O error in words. */
export function describeIoError(e: unknown, path?: string): string {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  // Node turns bytes that are not UTF-8 in a file name into U+FFFD; opening the result fails.
  if (code === 'ENOENT' && path?.includes('\uFFFD'))
    return 'the file name is not valid UTF-8 (rename the file using only UTF-8 characters) (ENOENT)';
  if (code && CAUSES[code]) return `${CAUSES[code]} (${code})`;
  const msg = err instanceof Error ? err.message : String(e);
  return code ? `${msg.split('\n')[0]} (${code})` : msg.split('\n')[0];
}

/** Whether `e` is a Node system error (has an errno code such as ENOSPC). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code);
}

/**
 * A typed error for a failed read or write of `path` (already-typed errors pass through).
 * `verb`: 'read', 'write', … as in "cannot write: disk full".
 */
export function fileError(
  e: unknown,
  path: string,
  verb = 'read',
  opts: { what?: string; as?: ErrorClass; code?: string } = {},
): AnyadError {
  if (e instanceof AnyadError) return e;
  const Cls = opts.as ?? FileError;
  const sys = e as NodeJS.ErrnoException;
  // The caller's path names the file the user knows (not e.g. a temp file beside it); the error's own when none is given.
  const file = !path && typeof sys?.path === 'string' && isSystemError(e) ? sys.path : path;
  const what = opts.what ? ` ${opts.what}` : '';
  return new Cls(opts.code ?? 'file/io', `cannot ${verb}${what}: ${describeIoError(e, file)}`, file, { cause: e });
}

export interface OpenRegularOptions {
  /** What the file is, for messages ("config", "encoder weights"). */
  what?: string;
  /** Largest size accepted, in bytes (checked on the descriptor before any read). */
  maxBytes?: number;
  /** Error class and code of failures (default FileError 'file/io'); too large: `tooLargeCode`. */
  as?: ErrorClass;
  code?: string;
  tooLargeCode?: string;
}

export interface RegularFile {
  fd: number;
  size: number;
  /** Exactly `length` bytes from `offset` into `into` (or a new buffer); a file that shrank is an error. */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array;
  close(): void;
}

function kindOf(st: import('node:fs').Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device (such as /dev/zero)';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Opens `path` for reading if it is a regular file within `maxBytes` (see the module comment). */
export function openRegularFile(path: string, opts: OpenRegularOptions = {}): RegularFile {
  const fail = (code: string, message: string, cause?: unknown): never => {
    throw new (opts.as ?? FileError)(code, message, path, cause === undefined ? undefined : { cause });
  };
  const what = opts.what ? ` ${opts.what}` : '';
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer returns at once instead of blocking forever;
    // it changes nothing for regular files, the only kind read below.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return fail(opts.code ?? 'file/io', `cannot read${what}: ${describeIoError(e, path)}`, e);
  }
  let size: number;
  try {
    const st = fstatSync(fd);
    const kind = kindOf(st);
    if (kind) fail(opts.code ?? 'file/not-regular', `cannot read${what}: ${kind}, not a regular file`);
    size = st.size;
    if (opts.maxBytes !== undefined && size > opts.maxBytes) {
      fail(
        opts.tooLargeCode ?? 'file/too-large',
        `${opts.what ?? 'file'} is ${formatSize(size)}, over the ${formatSize(opts.maxBytes)} limit`,
      );
    }
  } catch (e) {
    closeSync(fd);
    if (e instanceof AnyadError) throw e;
    return fail(opts.code ?? 'file/io', `cannot read${what}: ${describeIoError(e, path)}`, e);
  }
  return {
    fd,
    size,
    read(offset, length, into) {
      // Not allocUnsafe: small buffers from its shared pool would hand callers that use .buffer 8 KiB of other data.
      const out = into ?? Buffer.allocUnsafeSlow(length);
      if (offset + length > size)
        fail(opts.code ?? 'file/io', `cannot read${what}: asked for bytes up to ${offset + length} of a ${size}-byte file`);
      try {
        let done = 0;
        while (done < length) {
          const n = readSync(fd, out, done, length - done, offset + done);
          if (n === 0)
            fail(
              opts.code ?? 'file/io',
              `cannot read${what}: the file shrank while being read (${offset + done} of ${offset + length} bytes)`,
            );
          done += n;
        }
      } catch (e) {
        if (e instanceof AnyadError) throw e;
        fail(opts.code ?? 'file/io', `cannot read${what}: ${describeIoError(e, path)}`, e);
      }
      return out;
    },
    close() {
      closeSync(fd);
    },
  };
}

/** The whole of a regular file (at most `maxBytes`), read in one bounded pass. */
export function readRegularFile(path: string, opts: OpenRegularOptions = {}): Buffer {
  const f = openRegularFile(path, opts);
  try {
    return f.read(0, f.size) as Buffer;
  } finally {
    f.close();
  }
}

/** Chunk of the asynchronous reads: between chunks the event loop runs (a Cancel or SIGTERM is seen). */
const ASYNC_CHUNK = 8 << 20;

/**
 * A regular file read in chunks without blocking the event loop, stopping with a typed
 * '…/cancelled' error when `signal` aborts: for files that can be large (encoder weights,
 * model files), so a Cancel reaches a long read. `onChunk` sees each chunk (e.g. a hash).
 */
export async function readRegularFileAsync(
  path: string,
  opts: OpenRegularOptions & { signal?: AbortSignal; onChunk?: (chunk: Uint8Array) => void; keep?: boolean } = {},
): Promise<Buffer> {
  const f = openRegularFile(path, opts);
  const keep = opts.keep ?? true;
  const out = keep ? Buffer.allocUnsafeSlow(f.size) : Buffer.allocUnsafeSlow(Math.min(ASYNC_CHUNK, Math.max(1, f.size)));
  try {
    for (let off = 0; off < f.size;) {
      if (opts.signal?.aborted)
        throw new (opts.as ?? FileError)(
          `${(opts.code ?? 'file/io').split('/')[0]}/cancelled`,
          `reading${opts.what ? ` ${opts.what}` : ''} was cancelled`,
          path,
        );
      const n = Math.min(ASYNC_CHUNK, f.size - off);
      const at = keep ? off : 0;
      const got = await new Promise<number>((resolve, reject) =>
        read(f.fd, out, at, n, off, (e, bytes) => (e ? reject(e) : resolve(bytes))),
      ).catch((e: unknown) => {
        throw new (opts.as ?? FileError)(
          opts.code ?? 'file/io',
          `cannot read${opts.what ? ` ${opts.what}` : ''}: ${describeIoError(e, path)}`,
          path,
          { cause: e },
        );
      });
      if (got === 0)
        throw new (opts.as ?? FileError)(
          opts.code ?? 'file/io',
          `cannot read${opts.what ? ` ${opts.what}` : ''}: the file shrank while being read (${off} of ${f.size} bytes)`,
          path,
        );
      opts.onChunk?.(out.subarray(at, at + got));
      off += got;
    }
  } finally {
    f.close();
  }
  return keep ? out : Buffer.alloc(0);
}

/** A regular UTF-8 text file of at most `maxBytes` (invalid UTF-8 is an error, not U+FFFD). */
export function readRegularTextFile(path: string, opts: OpenRegularOptions = {}): string {
  const bytes = readRegularFile(path, opts);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new (opts.as ?? FileError)(
      opts.code ?? 'file/not-utf8',
      `cannot read${opts.what ? ` ${opts.what}` : ''}: the file is not UTF-8 text`,
      path,
      { cause: e },
    );
  }
}

export function formatSize(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n,
    u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}
