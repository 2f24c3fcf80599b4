/**
 * The Hugging Face hub cache, in the layout huggingface_hub (Python) uses, so that weights
 * downloaded by either side are found by the other:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                       file contents, named by the hub's ETag (sha256 for LFS files)
 *     blobs/<etag>.incomplete            a download in progress (resumed with an HTTP Range request)
 *     snapshots/<commit>/<file>          → ../../blobs/<etag> (relative symlink; a copy where links fail)
 *     refs/<revision>                    the commit hash a branch/tag resolved to (no newline)
 *
 * <cache> = HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub (huggingface_hub/constants.py).
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { HubError } from '../errors';
import { pidAlive, writeFileAtomic } from '../util/atomic';
import { readRegularTextFile } from '../util/fileio'; // refs are tiny; a FIFO or device there must not block

export type Env = Record<string, string | undefined>;

/** A full commit hash: such a revision needs no request to resolve (huggingface_hub REGEX_COMMIT_HASH). */
export const COMMIT_RE = /^[0-9a-f]{40}$/;

const expandHome = (p: string): string => (p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);

/** HF_HOME as huggingface_hub resolves it. */
export function hfHome(env: Env = process.env): string {
  return expandHome(env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface'));
}

/** The hub cache folder (HF_HUB_CACHE, legacy HUGGINGFACE_HUB_CACHE, HF_HOME/hub, …). */
export function hubCacheDir(env: Env = process.env): string {
  return expandHome(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(hfHome(env), 'hub'));
}

/** True when HF_HUB_OFFLINE (or the legacy TRANSFORMERS_OFFLINE) is set to a true value. */
export function isOffline(env: Env = process.env): boolean {
  const on = (v?: string) => v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.toUpperCase());
  return on(env.HF_HUB_OFFLINE) || on(env.TRANSFORMERS_OFFLINE);
}

/** models--org--name (huggingface_hub repo_folder_name for model repos). */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

export function repoDir(cacheDir: string, repo: string): string {
  return join(cacheDir, repoFolderName(repo));
}

export function blobPath(cacheDir: string, repo: string, etag: string): string {
  return join(repoDir(cacheDir, repo), 'blobs', etag);
}

export function snapshotPath(cacheDir: string, repo: string, commit: string, file: string): string {
  return join(repoDir(cacheDir, repo), 'snapshots', commit, file);
}

/** The commit a revision resolves to without any request: itself if a commit hash, else refs/<revision>. */
export function cachedCommit(cacheDir: string, repo: string, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return revision;
  try {
    const c = readRegularTextFile(join(repoDir(cacheDir, repo), 'refs', revision), { maxBytes: 4096 }).trim();
    return COMMIT_RE.test(c) ? c : undefined;
  } catch {
    return undefined;
  }
}

export interface CachedFile {
  repo: string;
  revision: string;
  commit: string;
  file: string;
  /** snapshots/<commit>/<file> (what readers open). */
  path: string;
}

/** A file of repo@revision that is in the cache, or undefined; makes no request. */
export function findCachedFile(cacheDir: string, repo: string, revision: string, file: string): CachedFile | undefined {
  const commit = cachedCommit(cacheDir, repo, revision);
  if (!commit) return undefined;
  const path = snapshotPath(cacheDir, repo, commit, file);
  // existsSync follows the link: a dangling snapshot link (blob deleted) is not a cached file.
  return existsSync(path) ? { repo, revision, commit, file, path } : undefined;
}

/** Points snapshots/<commit>/<file> at blobs/<etag> with a relative link (a copy where links are not allowed). */
export function linkSnapshot(cacheDir: string, repo: string, commit: string, file: string, etag: string): string {
  const blob = blobPath(cacheDir, repo, etag);
  const pointer = snapshotPath(cacheDir, repo, commit, file);
  mkdirSync(dirname(pointer), { recursive: true });
  // Link beside, then rename over: a reader never sees a missing or half-made pointer.
  const tmp = `${pointer}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  try {
    symlinkSync(relative(dirname(pointer), blob), tmp);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP') throw e;
    copyFileSync(blob, tmp); // Windows without developer mode: huggingface_hub copies too
  }
  renameSync(tmp, pointer);
  return pointer;
}

/**
 * Takes the download lock of a blob (.locks/models--org--name/<etag>.anyad.lock, holding the
 * owner's pid): two processes appending to one .incomplete would corrupt it. A lock whose
 * process is gone is taken over. Returns the release function.
 */
export function lockBlob(cacheDir: string, repo: string, etag: string): () => void {
  const path = join(cacheDir, '.locks', repoFolderName(repo), `${etag}.anyad.lock`);
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    const pid = Number(readRegularTextFile(path, { maxBytes: 64 }).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new HubError(
        'hub/busy',
        `another process (pid ${pid}) is downloading ${repo} into ${cacheDir}; wait for it, or stop it and try again (its partial file is resumed)`,
      );
    }
    rmSync(path, { force: true }); // stale: its process is gone
  }
}

/** Records that `revision` resolved to `commit` (refs/<revision>), as huggingface_hub does. */
export function writeRef(cacheDir: string, repo: string, revision: string, commit: string): void {
  if (revision === commit) return;
  writeFileAtomic(join(repoDir(cacheDir, repo), 'refs', revision), commit);
}

export interface CacheEntry {
  repo: string;
  /** Branches/tags whose ref points at this commit (may be empty: fetched by commit hash). */
  revisions: string[];
  commit: string;
  files: Array<{ file: string; size: number }>;
  /** Bytes of the snapshot's files. */
  size: number;
  /** The snapshot folder. */
  path: string;
}

/** Every model snapshot in the cache (what `anyad weights list` prints). */
export function listCache(cacheDir: string): CacheEntry[] {
  const out: CacheEntry[] = [];
  let repos: string[];
  try {
    repos = readdirSync(cacheDir)
      .filter((n) => n.startsWith('models--'))
      .sort();
  } catch {
    return out;
  }
  for (const folder of repos) {
    const repo = folder.slice('models--'.length).split('--').join('/');
    const dir = join(cacheDir, folder);
    const refs = new Map<string, string[]>();
    for (const rev of walkFiles(join(dir, 'refs'))) {
      const c = readRegularTextFile(join(dir, 'refs', rev), { maxBytes: 4096 }).trim();
      refs.set(c, [...(refs.get(c) ?? []), rev]);
    }
    let commits: string[];
    try {
      commits = readdirSync(join(dir, 'snapshots')).sort();
    } catch {
      continue;
    }
    for (const commit of commits) {
      const snap = join(dir, 'snapshots', commit);
      const files = walkFiles(snap).flatMap((file) => {
        try {
          return [{ file, size: statSync(join(snap, file)).size }];
        } catch {
          return [];
        } // dangling link
      });
      out.push({ repo, revisions: refs.get(commit) ?? [], commit, files, size: files.reduce((n, f) => n + f.size, 0), path: snap });
    }
  }
  return out;
}

/** Relative paths of the files (and links) below dir, '/'-separated. */
function walkFiles(dir: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, prefix)).sort();
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const rel = prefix ? `${prefix}/${n}` : n;
    return lstatSync(join(dir, rel)).isDirectory() ? walkFiles(dir, rel) : [rel];
  });
}

/** Checks a repo id before it becomes a folder name (no '..', no absolute paths). */
export function checkRepoId(repo: string): string {
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repo) || repo.includes('..') || repo.includes('--')) {
    throw new HubError('hub/bad-repo', `'${repo}' is not a Hugging Face model id (expected org/name)`);
  }
  return repo;
}
