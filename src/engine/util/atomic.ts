/**
 * Atomic file writes: write a temp file beside the target, fsync, then rename over it.
 *
 * The temp file is created exclusively (`wx`: a symlink or file planted at its name makes the
 * open fail instead of being followed) with mode 0600, under a name no other writer uses
 * (pid + random), and gets the target's mode (or the umask's default) just before the rename.
 * A process killed mid-write leaves `.NAME.<pid>.<random>.tmp`; the first write of NAME in a
 * folder removes such orphans left by processes that are gone. Failures are FileErrors that
 * name the path and the cause (disk full, read-only file system…).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileError } from '../errors';
import { fileError } from './fileio';

/** When this process started (ms since the epoch): temp files older than it cannot be ours. */
const PROCESS_START_MS = Math.floor(performance.timeOrigin);
const cleaned = new Set<string>();

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `dir` and its missing parents one level at a time (Node's recursive mkdir can spin
 * on pseudo file systems such as /proc); failures are FileErrors naming the folder.
 */
export function mkdirs(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    try {
      if (!statSync(d).isDirectory()) throw fileError(Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }), d, 'create folder');
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(e, d, 'create folder');
      missing.push(d);
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(e, m, 'create folder');
    }
  }
}

/** Removes `.NAME.<pid>.<anything>.tmp` left by dead processes before this one started. */
function removeOrphans(dir: string, name: string): void {
  const key = join(dir, name);
  if (cleaned.has(key)) return;
  cleaned.add(key);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const e of entries) {
    if (!e.startsWith(prefix) || !e.endsWith('.tmp')) continue;
    const pid = Number(e.slice(prefix.length).split('.')[0]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const p = join(dir, e);
    try {
      if (statSync(p).mtimeMs < PROCESS_START_MS) unlinkSync(p);
    } catch {
      /* gone already, or not ours to remove */
    }
  }
}

function defaultMode(): number {
  try {
    return 0o666 & ~process.umask();
  } catch {
    return 0o644; // process.umask() is unavailable in worker threads
  }
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const name = basename(path);
  mkdirs(dir);
  removeOrphans(dir, name);
  let mode: number;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    mode = defaultMode();
  }
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FileError(
        'file/io',
        `cannot write: its temporary file ${basename(tmp)} already exists (a file or symlink planted there?); nothing was written`,
        path,
        { cause: e },
      );
    }
    throw fileError(e, path, 'write');
  }
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0)
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw fileError(e, path, 'write');
  }
}
