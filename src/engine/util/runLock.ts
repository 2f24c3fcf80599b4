/**
 * A lock file per folder for long jobs that must not run twice at once (two trainings into one
 * output folder would share checkpoint names, and each one's cleanup would delete the other's).
 * The file holds the owner's pid and start time; a lock whose process is gone is stale and
 * taken over. Created exclusively (`wx`), so of two starters exactly one wins.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { mkdirs, pidAlive } from './atomic';
import { fileError, readRegularTextFile } from './fileio';

export const RUN_LOCK_FILE = '.anyad-train.lock';

interface LockInfo {
  pid: number;
  startedAt: string;
  what: string;
}

/** Takes the lock of `dir` for `what` ("training"); returns the release function. */
export function acquireRunLock(dir: string, what: string): () => void {
  mkdirs(dir);
  const path = join(dir, RUN_LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), what };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, JSON.stringify(mine) + '\n');
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        // Only our own lock: a stale-lock takeover by another run must not be undone by us.
        try {
          if ((JSON.parse(readRegularTextFile(path, { maxBytes: 4096 })) as LockInfo).pid === process.pid) rmSync(path, { force: true });
        } catch {
          /* gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw fileError(e, path, 'create lock file');
    }
    let other: Partial<LockInfo> = {};
    try {
      other = JSON.parse(readRegularTextFile(path, { maxBytes: 4096 })) as LockInfo;
    } catch {
      /* half-written or removed: stale */
    }
    // Our own pid is busy too (another run in this process), unless the lock predates this
    // process: then it is a dead process's whose pid we were given again.
    const ours = other.pid === process.pid && Date.parse(other.startedAt ?? '') >= Math.floor(performance.timeOrigin);
    if (typeof other.pid === 'number' && (ours || (other.pid !== process.pid && pidAlive(other.pid)))) {
      throw new ConfigError(
        'train/busy',
        `another ${other.what ?? 'run'} (pid ${other.pid}, started ${other.startedAt ?? 'at an unknown time'}) is using this output folder; wait for it to finish or cancel it, or set output.dir to another folder`,
        dir,
      );
    }
    rmSync(path, { force: true }); // stale: its process is gone
  }
}
