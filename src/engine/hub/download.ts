/**
 * Hugging Face hub downloads with huggingface_hub's protocol and cache layout (cache.ts):
 *
 * - HEAD {endpoint}/{repo}/resolve/{revision}/{file} without following redirects gives the
 *   commit (X-Repo-Commit), the blob's ETag (X-Linked-Etag for LFS files — their sha256 —
 *   else ETag), its size (X-Linked-Size, else Content-Length) and, on a 3xx, where to GET it
 *   (Location, usually a CDN). A relative Location is a renamed repo and is followed.
 * - GET follows redirects; the token goes only to the endpoint's host, never to the CDN.
 * - The body lands in blobs/<etag>.incomplete, is resumed with `Range: bytes=N-` after an
 *   interruption, is checked against the sha256 ETag of LFS files, then renamed to blobs/<etag>;
 *   snapshots/<commit>/<file> links to it and refs/<revision> records the commit.
 *
 * Nothing is requested unless a file is missing from the cache and the caller consented
 * (`allowDownload`); HF_HUB_OFFLINE=1 forbids every request.
 */
import { type Hash, createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statfsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { HubError } from '../errors';
import {
  type CachedFile,
  type Env,
  blobPath,
  findCachedFile,
  hfHome,
  hubCacheDir,
  isOffline,
  linkSnapshot,
  lockBlob,
  snapshotPath,
  writeRef,
} from './cache';
import { cancelled, readBody, request } from './http';
import { readRegularTextFile } from '../util/fileio';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  /** Environment read for HF_* and proxy variables (default process.env). */
  env?: Env;
  /** Overrides HF_ENDPOINT. */
  endpoint?: string;
  /** Overrides the cache folder from the environment. */
  cacheDir?: string;
  /** Overrides HF_TOKEN / the token file. */
  token?: string;
  /** Consent to download what the cache lacks. Without it a missing file is a HubError. */
  allowDownload?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** How the user named the model, for messages ('dinov2-small'); default the repo id. */
  displayName?: string;
  /** Socket inactivity limit in ms (default 60 s). */
  idleTimeoutMs?: number;
}

export interface DownloadProgress {
  repo: string;
  file: string;
  /** Bytes of the file on disk so far (resumed bytes included). */
  bytes: number;
  total: number;
  /** Bytes this attempt started from (a resumed .incomplete). */
  resumedFrom: number;
  /** Bytes per second of this attempt. */
  bytesPerSec: number;
  etaSec?: number;
  done: boolean;
}

export interface FileMetadata {
  commit: string;
  /** Normalised ETag: the blob's name; sha256 of the content for LFS files. */
  etag: string;
  size: number;
  /** Where the GET goes (the CDN Location of a redirect, else the resolve URL). */
  url: string;
}

export function hubEndpoint(opts: HubOptions = {}): string {
  return (opts.endpoint || (opts.env ?? process.env).HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

export function cacheDirOf(opts: HubOptions = {}): string {
  return opts.cacheDir ?? hubCacheDir(opts.env ?? process.env);
}

/** HF_TOKEN, else the token file huggingface-cli login writes (HF_TOKEN_PATH or HF_HOME/token). */
export function hubToken(opts: HubOptions = {}): string | undefined {
  if (opts.token) return opts.token;
  const env = opts.env ?? process.env;
  const t = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (t) return t.trim();
  try {
    return readRegularTextFile(env.HF_TOKEN_PATH || join(hfHome(env), 'token'), { maxBytes: 64 * 1024 }).trim() || undefined; // a FIFO/device must not block
  } catch {
    return undefined;
  }
}

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** huggingface_hub's _normalize_etag: drop a weak marker and the quotes. */
function normalizeEtag(raw: string | undefined): string | undefined {
  return raw?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

const header = (res: IncomingMessage, name: string): string | undefined => {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** HEAD of one file: commit, ETag, size and where to GET it. */
export async function fileMetadata(repo: string, revision: string, file: string, opts: HubOptions = {}): Promise<FileMetadata> {
  const endpoint = hubEndpoint(opts);
  const token = hubToken(opts);
  let url = resolveUrl(endpoint, repo, revision, file);
  for (let hop = 0; hop < 5; hop++) {
    const res = await request(url, {
      method: 'HEAD',
      env: opts.env,
      signal: opts.signal,
      idleTimeoutMs: opts.idleTimeoutMs,
      headers: { 'accept-encoding': 'identity', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    res.resume();
    const status = res.statusCode ?? 0;
    const location = header(res, 'location');
    if (status >= 300 && status < 400 && location?.startsWith('/')) {
      url = new URL(location, url).href;
      continue;
    } // renamed repo
    if (status >= 400 || (status >= 300 && !location))
      throw await httpError(res, { repo, revision, file, endpoint, token: Boolean(token), opts });
    const commit = header(res, 'x-repo-commit');
    const etag = normalizeEtag(header(res, 'x-linked-etag') ?? header(res, 'etag'));
    const size = Number(header(res, 'x-linked-size') ?? header(res, 'content-length'));
    if (!commit || !/^[0-9a-f]{40}$/.test(commit) || !etag || !Number.isSafeInteger(size)) {
      throw new HubError(
        'hub/bad-response',
        `${endpoint} did not answer like a Hugging Face hub for ${repo}/${file} (missing X-Repo-Commit, ETag or size); check HF_ENDPOINT`,
      );
    }
    if (!/^[\w.-]+$/.test(etag)) throw new HubError('hub/bad-response', `unexpected ETag '${etag}' for ${repo}/${file}`);
    // Without a redirect, GET the commit (not the branch): every file then comes from one snapshot.
    return { commit, etag, size, url: location ? new URL(location, url).href : resolveUrl(endpoint, repo, commit, file) };
  }
  throw new HubError('hub/redirects', `too many redirects resolving ${repo}/${file}`);
}

async function httpError(
  res: IncomingMessage,
  ctx: { repo: string; revision: string; file: string; endpoint: string; token: boolean; opts: HubOptions },
): Promise<HubError> {
  const status = res.statusCode ?? 0;
  const code = header(res, 'x-error-code');
  const name = ctx.opts.displayName && ctx.opts.displayName !== ctx.repo ? `${ctx.opts.displayName} (${ctx.repo})` : ctx.repo;
  const detail = (header(res, 'x-error-message') ?? (res.method === 'HEAD' ? '' : (await readBody(res).catch(() => '')).slice(0, 200)))
    .replace(/\s+/g, ' ')
    .trim();
  if (status === 401 || (status === 403 && code !== 'GatedRepo')) {
    return new HubError(
      'hub/unauthorized',
      ctx.token
        ? `${ctx.endpoint} refused the token for ${name} (HTTP ${status}): it may lack access to this private or gated repo`
        : `${name} needs authentication on ${ctx.endpoint} (HTTP ${status}): it is private or gated, or does not exist; set HF_TOKEN to a token with access`,
    );
  }
  if (code === 'GatedRepo')
    return new HubError('hub/gated', `${name} is gated: accept its conditions on ${ctx.endpoint}/${ctx.repo} and set HF_TOKEN`);
  if (status === 404) {
    if (code === 'RevisionNotFound')
      return new HubError('hub/not-found', `revision '${ctx.revision}' not found in ${name} on ${ctx.endpoint}`);
    if (code === 'EntryNotFound')
      return new HubError('hub/not-found', `${ctx.file} not found in ${name}@${ctx.revision} on ${ctx.endpoint}`);
    if (code === 'RepoNotFound') return new HubError('hub/not-found', `repository ${name} not found on ${ctx.endpoint}`);
    return new HubError('hub/not-found', `not found on ${ctx.endpoint}: ${name}@${ctx.revision}/${ctx.file} (check the name and revision)`);
  }
  return new HubError(
    'hub/http',
    `${ctx.endpoint} answered HTTP ${status} for ${name}@${ctx.revision}/${ctx.file}${detail ? `: ${detail}` : ''}`,
  );
}

export interface RepoFiles {
  repo: string;
  revision: string;
  commit: string;
  /** Per requested file: its snapshot path and where it came from. */
  files: Record<string, CachedFile & { downloaded: boolean }>;
  cacheDir: string;
}

/** What fetching would do: per file, size and whether it is cached (no request when all are). */
export interface DownloadPlan {
  repo: string;
  revision: string;
  commit?: string;
  cacheDir: string;
  files: Array<{ file: string; cached: boolean; size?: number; etag?: string; path?: string }>;
  /** Bytes still to download (a resumable .incomplete counts as already there). */
  bytesToDownload: number;
}

function cachedAll(cacheDir: string, repo: string, revision: string, files: readonly string[]): CachedFile[] | undefined {
  const found = files.map((f) => findCachedFile(cacheDir, repo, revision, f));
  return found.every((f) => f !== undefined) ? found : undefined;
}

function offlineError(repo: string, revision: string, cacheDir: string, opts: HubOptions): HubError {
  const name = opts.displayName ?? repo;
  return new HubError(
    'hub/offline',
    `${name} (${repo}@${revision}) is not in the Hugging Face cache ${cacheDir} and HF_HUB_OFFLINE is set: copy a cache folder that holds it there, or unset HF_HUB_OFFLINE and run 'anyad weights get ${name}'`,
  );
}

/** Sizes and cache state of files of repo@revision; asks the hub (HEAD only) unless all are cached. */
export async function planDownload(repo: string, revision: string, files: readonly string[], opts: HubOptions = {}): Promise<DownloadPlan> {
  const cacheDir = cacheDirOf(opts);
  const hit = cachedAll(cacheDir, repo, revision, files);
  if (hit) {
    return {
      repo,
      revision,
      commit: hit[0].commit,
      cacheDir,
      bytesToDownload: 0,
      files: hit.map((h) => ({ file: h.file, cached: true, size: statSync(h.path).size, path: h.path })),
    };
  }
  if (isOffline(opts.env ?? process.env)) throw offlineError(repo, revision, cacheDir, opts);
  const out: DownloadPlan = { repo, revision, cacheDir, files: [], bytesToDownload: 0 };
  for (const file of files) {
    const meta = await fileMetadata(repo, out.commit ?? revision, file, opts);
    out.commit ??= meta.commit;
    const cached = existsSync(blobPath(cacheDir, repo, meta.etag));
    const partial = cached ? 0 : sizeOr0(`${blobPath(cacheDir, repo, meta.etag)}.incomplete`);
    out.files.push({ file, cached, size: meta.size, etag: meta.etag, path: snapshotPath(cacheDir, repo, meta.commit, file) });
    if (!cached) out.bytesToDownload += Math.max(0, meta.size - partial);
  }
  return out;
}

/**
 * The files of repo@revision from the cache, downloading what is missing (with consent).
 * All files come from one commit: the first HEAD resolves the revision, the rest ask for that commit.
 */
export async function ensureRepoFiles(repo: string, revision: string, files: readonly string[], opts: HubOptions = {}): Promise<RepoFiles> {
  const cacheDir = cacheDirOf(opts);
  const hit = cachedAll(cacheDir, repo, revision, files);
  if (hit) {
    return {
      repo,
      revision,
      commit: hit[0].commit,
      cacheDir,
      files: Object.fromEntries(hit.map((h) => [h.file, { ...h, downloaded: false }])),
    };
  }
  if (isOffline(opts.env ?? process.env)) throw offlineError(repo, revision, cacheDir, opts);
  if (!opts.allowDownload) {
    const name = opts.displayName ?? repo;
    throw new HubError(
      'hub/consent',
      `${name} (${repo}@${revision}) is not in the Hugging Face cache ${cacheDir}; download it with 'anyad weights get ${name}${revision !== 'main' ? ` --revision ${revision}` : ''}' (or pass --allow-download)`,
    );
  }
  const metas: FileMetadata[] = [];
  for (const file of files) metas.push(await fileMetadata(repo, metas[0]?.commit ?? revision, file, opts));
  const commit = metas[0].commit;
  checkFreeSpace(cacheDir, repo, metas);
  const out: RepoFiles = { repo, revision, commit, cacheDir, files: {} };
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const meta = metas[i];
    const blob = blobPath(cacheDir, repo, meta.etag);
    const present = existsSync(blob); // same content under another revision, or a previous partial run
    if (!present) {
      const release = lockBlob(cacheDir, repo, meta.etag);
      try {
        // Another process may have finished it while this one waited for the HEADs.
        if (!existsSync(blob)) await downloadBlob(repo, file, meta, blob, opts);
      } finally {
        release();
      }
    }
    out.files[file] = { repo, revision, commit, file, path: linkSnapshot(cacheDir, repo, commit, file, meta.etag), downloaded: !present };
  }
  // The ref last: it never points at a snapshot that lacks a file this call was asked for.
  writeRef(cacheDir, repo, revision, commit);
  return out;
}

function sizeOr0(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function checkFreeSpace(cacheDir: string, repo: string, metas: FileMetadata[]): void {
  const need = metas.reduce(
    (n, m) => (existsSync(blobPath(cacheDir, repo, m.etag)) ? n : n + m.size - sizeOr0(`${blobPath(cacheDir, repo, m.etag)}.incomplete`)),
    0,
  );
  let dir = cacheDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch {
    return;
  } // not every platform/filesystem reports it
  if (need > free) throw diskFull(cacheDir, need - free);
}

function diskFull(where: string, short?: number): HubError {
  return new HubError(
    'hub/disk-full',
    `no space left on the device holding ${where}${short ? ` (${formatBytes(short)} short)` : ''}; free some space or point HF_HUB_CACHE elsewhere (a partial download is kept and resumed)`,
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * GETs the blob (following redirects), asking for the bytes after the partial file's when there
 * is one. `res` is the body to read, undefined when the partial file already holds every byte
 * (a 416 at its end); `resumeFrom` is where the body starts (0 when the server ignored the Range).
 */
async function openBlobResponse(
  repo: string,
  file: string,
  meta: FileMetadata,
  incomplete: string,
  opts: HubOptions,
): Promise<{ res?: IncomingMessage; resumeFrom: number }> {
  const endpointHost = new URL(hubEndpoint(opts)).host;
  const token = hubToken(opts);
  let resumeFrom = sizeOr0(incomplete);
  if (resumeFrom > meta.size) {
    rmSync(incomplete, { force: true });
    resumeFrom = 0;
  }
  let url = meta.url;
  for (let hop = 0; ; hop++) {
    if (hop === 6) throw new HubError('hub/redirects', `too many redirects downloading ${repo}/${file}`);
    const host = new URL(url).host;
    const r = await request(url, {
      method: 'GET',
      env: opts.env,
      signal: opts.signal,
      idleTimeoutMs: opts.idleTimeoutMs,
      headers: {
        'accept-encoding': 'identity',
        ...(token && host === endpointHost ? { authorization: `Bearer ${token}` } : {}),
        ...(resumeFrom > 0 ? { range: `bytes=${resumeFrom}-` } : {}),
      },
    });
    const status = r.statusCode ?? 0;
    const location = header(r, 'location');
    if (status >= 300 && status < 400 && location) {
      r.resume();
      url = new URL(location, url).href;
      continue;
    }
    if (status === 416 && resumeFrom > 0) {
      r.resume();
      if (resumeFrom === meta.size) return { resumeFrom }; // complete already: only the check and the rename are left
      rmSync(incomplete, { force: true }); // the partial file does not fit this blob: start over
      resumeFrom = 0;
      continue;
    }
    if (status !== 200 && status !== 206)
      throw await httpError(r, { repo, revision: meta.commit, file, endpoint: hubEndpoint(opts), token: Boolean(token), opts });
    if (status === 206 && !header(r, 'content-range')?.startsWith(`bytes ${resumeFrom}-`)) {
      r.resume();
      throw new HubError(
        'hub/bad-response',
        `the server answered a resume request for ${repo}/${file} with the wrong range (${header(r, 'content-range')})`,
      );
    }
    return { res: r, resumeFrom: status === 200 ? 0 : resumeFrom }; // 200: the server ignored the Range, start over
  }
}

/** Download progress, at most every 200 ms until `done`; speed and ETA count this session's bytes only. */
function downloadProgress(repo: string, file: string, meta: FileMetadata, resumeFrom: number, opts: HubOptions) {
  const t0 = performance.now();
  let lastReport = -Infinity;
  return (bytes: number, done: boolean) => {
    const now = performance.now();
    if (!done && now - lastReport < 200) return;
    lastReport = now;
    const sec = (now - t0) / 1000;
    const bytesPerSec = sec > 0 ? (bytes - resumeFrom) / sec : 0;
    opts.onProgress?.({
      repo,
      file,
      bytes,
      total: meta.size,
      resumedFrom: resumeFrom,
      bytesPerSec,
      etaSec: bytesPerSec > 0 ? (meta.size - bytes) / bytesPerSec : undefined,
      done,
    });
  };
}

/**
 * Appends the body to the partial file, hashing it; returns the file's length and what stopped
 * the copy, if anything (a dropped connection leaves a partial file to resume).
 */
async function appendBody(
  res: IncomingMessage | undefined,
  incomplete: string,
  resumeFrom: number,
  hash: Hash,
  report: (bytes: number, done: boolean) => void,
): Promise<{ bytes: number; failure: unknown }> {
  const fh = await open(incomplete, resumeFrom > 0 ? 'a' : 'w');
  let bytes = resumeFrom;
  let failure: unknown;
  try {
    report(bytes, false);
    if (res) {
      for await (const chunk of res) {
        const c = chunk as Buffer;
        hash.update(c);
        for (let off = 0; off < c.length;) off += (await fh.write(c, off, c.length - off)).bytesWritten;
        bytes += c.length;
        report(bytes, false);
      }
    }
    await fh.sync();
  } catch (e) {
    failure = e;
  } finally {
    await fh.close().catch(() => {});
  }
  return { bytes, failure };
}

/** Rethrows what stopped a body copy as the error to show, unless it was a dropped connection (then resumable). */
function rethrowUnlessDropped(failure: unknown, blob: string, opts: HubOptions): void {
  if (failure === undefined) return;
  const code = (failure as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw diskFull(dirname(blob));
  if (opts.signal?.aborted || (failure instanceof HubError && failure.code === 'hub/cancelled')) throw cancelled();
  if (failure instanceof HubError) throw failure;
  if (!['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'EPIPE', 'ETIMEDOUT'].includes(code ?? '') && (failure as Error).message !== 'aborted')
    throw failure instanceof Error ? failure : new Error('the download failed with a value that is not an Error', { cause: failure });
}

/** GET (following redirects) into blobs/<etag>.incomplete, resuming it; verify; rename to blobs/<etag>. */
async function downloadBlob(repo: string, file: string, meta: FileMetadata, blob: string, opts: HubOptions): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  mkdirSync(dirname(blob), { recursive: true });
  const { res, resumeFrom } = await openBlobResponse(repo, file, meta, incomplete, opts);
  // Hash what is already on disk first, so a resumed file is checked as a whole.
  const hash = createHash('sha256');
  if (resumeFrom > 0) for await (const c of createReadStream(incomplete, { end: resumeFrom - 1 })) hash.update(c as Buffer);
  const report = downloadProgress(repo, file, meta, resumeFrom, opts);
  const { bytes, failure } = await appendBody(res, incomplete, resumeFrom, hash, report);
  // A dropped connection falls through to the size check (the partial file is kept).
  rethrowUnlessDropped(failure, blob, opts);
  if (bytes !== meta.size) {
    if (bytes > meta.size) rmSync(incomplete, { force: true });
    throw new HubError(
      'hub/truncated',
      `download of ${repo}/${file} stopped after ${formatBytes(bytes)} of ${formatBytes(meta.size)}; run the same command again to resume`,
    );
  }
  // LFS files are named by their sha256: the content must match it (regular files' ETags are git hashes, not checked).
  const sha256 = hash.digest('hex');
  if (/^[0-9a-f]{64}$/.test(meta.etag) && sha256 !== meta.etag) {
    rmSync(incomplete, { force: true });
    throw new HubError(
      'hub/checksum',
      `${repo}/${file} failed its checksum: sha256 ${sha256} but the hub says ${meta.etag}; the download was deleted, run the command again`,
    );
  }
  renameSync(incomplete, blob);
  report(bytes, true);
}
