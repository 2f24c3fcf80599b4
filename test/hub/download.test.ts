/**
 * Hub downloads against a loopback hub + CDN (fakeHub.ts): the cache layout huggingface_hub
 * writes, cache hits without any request, consent, HF_HUB_OFFLINE, tokens, typed errors that
 * leave no blob, resuming after a truncated body, a cancel and a killed process, disk full.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubError } from '../../src/engine/errors';
import { findCachedFile, hubCacheDir, listCache, repoFolderName } from '../../src/engine/hub/cache';
import { type DownloadProgress, type HubOptions, ensureRepoFiles, planDownload } from '../../src/engine/hub/download';
import { FakeHub, gitBlobSha1, sha256 } from './fakeHub';
import { COMMIT, CONFIG, OLD_COMMIT, WEIGHTS, tinyRepo } from './hubHelpers';

const FILES = ['config.json', 'model.safetensors'];
const REPO = 'facebook/dinov2-small';
const W_SHA = sha256(WEIGHTS);
const C_ETAG = gitBlobSha1(CONFIG);
const tmp = mkdtempSync(join(tmpdir(), 'anyad-hub-'));
let hub: FakeHub;
let n = 0;
let cacheDir: string;

before(async () => {
  hub = await FakeHub.start({ [REPO]: tinyRepo(), 'lab/private-dino': tinyRepo({ token: 'hf_secret' }) });
});
after(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  hub.behaviour = {};
  hub.onCdnBytes = undefined;
  hub.requests.length = 0;
  cacheDir = join(tmp, `cache-${n++}`);
});

/** Options isolated from the machine's environment (no ambient HF_* or proxy variables). */
const opts = (o: HubOptions = {}): HubOptions => ({ env: {}, endpoint: hub.endpoint, cacheDir, allowDownload: true, ...o });
const blobs = (repo = REPO) => {
  try {
    return readdirSync(join(cacheDir, repoFolderName(repo), 'blobs')).sort();
  } catch {
    return [];
  }
};
const rejectsWith = (p: Promise<unknown>, code: string, message?: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HubError, `a HubError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });

test('the cache folder follows huggingface_hub: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache', () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/c/hub', HF_HOME: '/h', XDG_CACHE_HOME: '/x' }), '/c/hub');
  assert.equal(hubCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }), '/h/hub');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
  assert.match(hubCacheDir({}), /[/\\]\.cache[/\\]huggingface[/\\]hub$/);
  assert.equal(repoFolderName('facebook/dinov2-with-registers-small'), 'models--facebook--dinov2-with-registers-small');
});

test('a download lands in the huggingface_hub layout: blobs by ETag, relative snapshot links, refs/main', async () => {
  const events: DownloadProgress[] = [];
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts({ onProgress: (p) => events.push(p) }));
  assert.equal(got.commit, COMMIT);
  const repoDir = join(cacheDir, 'models--facebook--dinov2-small');
  assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT, 'refs/main holds the commit, no newline');
  assert.deepEqual(blobs(), [C_ETAG, W_SHA].sort(), 'blobs named by ETag (sha256 for LFS, git sha1 otherwise); no .incomplete left');
  for (const [file, etag, bytes] of [
    ['config.json', C_ETAG, CONFIG],
    ['model.safetensors', W_SHA, WEIGHTS],
  ] as const) {
    const pointer = join(repoDir, 'snapshots', COMMIT, file);
    assert.ok(lstatSync(pointer).isSymbolicLink(), `${file} is a link`);
    assert.equal(readlinkSync(pointer), `../../blobs/${etag}`, 'relative, as huggingface_hub writes it');
    assert.deepEqual(readFileSync(pointer), bytes);
    assert.equal(got.files[file].path, pointer);
    assert.equal(got.files[file].downloaded, true);
  }
  assert.deepEqual(readdirSync(repoDir).sort(), ['blobs', 'refs', 'snapshots']);
  // The protocol: HEAD at the revision, then HEAD/GET pinned to the commit it resolved to; the body from the CDN.
  const seen = hub.requests.map((r) => `${r.server} ${r.method} ${r.url.replace(/\?.*/, '')}`);
  assert.deepEqual(seen, [
    `hub HEAD /${REPO}/resolve/main/config.json`,
    `hub HEAD /${REPO}/resolve/${COMMIT}/model.safetensors`,
    `hub GET /${REPO}/resolve/${COMMIT}/config.json`,
    `cdn GET /blobs/${W_SHA}`,
  ]);
  hub.requests.length = 0;
  // Progress: bytes rise to the size; the last event of a file is done, with a rate.
  const w = events.filter((e) => e.file === 'model.safetensors');
  assert.equal(w.at(-1)!.done, true);
  assert.equal(w.at(-1)!.bytes, WEIGHTS.length);
  assert.equal(w.at(-1)!.total, WEIGHTS.length);
  assert.ok(w.every((e, i) => i === 0 || e.bytes >= w[i - 1].bytes));
  assert.ok(w.at(-1)!.bytesPerSec > 0);
  // `weights list` sees it.
  const listed = listCache(cacheDir);
  assert.deepEqual(
    listed.map((e) => [e.repo, e.revisions, e.commit, e.size]),
    [[REPO, ['main'], COMMIT, WEIGHTS.length + CONFIG.length]],
  );
});

test('a populated cache is used without any request: by branch (refs), by commit hash, and a cache written by hand as Python does', async () => {
  await ensureRepoFiles(REPO, 'main', FILES, opts());
  const before = hub.count();
  const again = await ensureRepoFiles(REPO, 'main', FILES, opts({ allowDownload: false }));
  assert.equal(again.files['model.safetensors'].downloaded, false);
  await ensureRepoFiles(REPO, COMMIT, FILES, opts({ allowDownload: false }));
  const plan = await planDownload(REPO, 'main', FILES, opts());
  assert.equal(plan.bytesToDownload, 0);
  assert.ok(plan.files.every((f) => f.cached));
  assert.equal(hub.count(), before, 'no request for cached files');

  // A cache as huggingface_hub (Python) lays it out, and an endpoint nobody listens on: any request would fail.
  const py = join(tmp, 'python-cache');
  const repoDir = join(py, 'models--facebook--dinov2-with-registers-small');
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'snapshots', OLD_COMMIT), { recursive: true });
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  writeFileSync(join(repoDir, 'blobs', W_SHA), WEIGHTS);
  writeFileSync(join(repoDir, 'blobs', C_ETAG), CONFIG);
  symlinkSync(`../../blobs/${W_SHA}`, join(repoDir, 'snapshots', OLD_COMMIT, 'model.safetensors'));
  symlinkSync(`../../blobs/${C_ETAG}`, join(repoDir, 'snapshots', OLD_COMMIT, 'config.json'));
  writeFileSync(join(repoDir, 'refs', 'main'), OLD_COMMIT);
  const closed = await closedPort();
  const fromPy = await ensureRepoFiles('facebook/dinov2-with-registers-small', 'main', FILES, {
    env: { HF_HOME: join(tmp, 'unused'), HF_HUB_CACHE: py },
    endpoint: `http://127.0.0.1:${closed}`,
  });
  assert.equal(fromPy.commit, OLD_COMMIT);
  assert.deepEqual(readFileSync(fromPy.files['model.safetensors'].path), WEIGHTS);
});

test('no consent, no request: a missing model is a typed error naming the command, and nothing is written', async () => {
  await rejectsWith(
    ensureRepoFiles(REPO, 'main', FILES, opts({ allowDownload: false, displayName: 'dinov2-small' })),
    'hub/consent',
    /anyad weights get dinov2-small/,
  );
  assert.equal(hub.count(), 0);
  assert.equal(existsSync(cacheDir), false);
});

test('HF_HUB_OFFLINE=1: never a request, even with consent; a clear error when not cached; cached files still work', async () => {
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts({ env: { HF_HUB_OFFLINE: '1' } })), 'hub/offline', /HF_HUB_OFFLINE/);
  await rejectsWith(planDownload(REPO, 'main', FILES, opts({ env: { HF_HUB_OFFLINE: '1' } })), 'hub/offline');
  assert.equal(hub.count(), 0);
  await ensureRepoFiles(REPO, 'main', FILES, opts());
  const requests = hub.count();
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts({ env: { HF_HUB_OFFLINE: '1' } }));
  assert.equal(got.commit, COMMIT);
  assert.equal(hub.count(), requests);
});

test('a private repo: 401 without a token is a typed error; HF_TOKEN is sent to the hub and never to the CDN', async () => {
  await rejectsWith(ensureRepoFiles('lab/private-dino', 'main', FILES, opts()), 'hub/unauthorized', /HF_TOKEN/);
  await rejectsWith(
    ensureRepoFiles('lab/private-dino', 'main', FILES, opts({ env: { HF_TOKEN: 'wrong' } })),
    'hub/unauthorized',
    /refused the token/,
  );
  assert.deepEqual(blobs('lab/private-dino'), []);
  hub.requests.length = 0;
  await ensureRepoFiles('lab/private-dino', 'main', FILES, opts({ env: { HF_TOKEN: 'hf_secret' } }));
  assert.ok(hub.requests.filter((r) => r.server === 'hub').every((r) => r.headers.authorization === 'Bearer hf_secret'));
  const cdn = hub.requests.filter((r) => r.server === 'cdn');
  assert.equal(cdn.length, 1);
  assert.equal(cdn[0].headers.authorization, undefined, 'the token stays with the hub');
});

test('404s name what is missing: repo, revision, file; nothing is written', async () => {
  await rejectsWith(
    ensureRepoFiles('facebook/dinov2-tiny', 'main', FILES, opts()),
    'hub/not-found',
    /repository facebook\/dinov2-tiny not found/,
  );
  await rejectsWith(ensureRepoFiles(REPO, 'v9', FILES, opts()), 'hub/not-found', /revision 'v9' not found/);
  await rejectsWith(
    ensureRepoFiles(REPO, 'main', ['config.json', 'pytorch_model.bin'], opts()),
    'hub/not-found',
    /pytorch_model\.bin not found/,
  );
  assert.deepEqual(blobs(), []);
  assert.equal(existsSync(join(cacheDir, repoFolderName(REPO), 'refs')), false, 'no ref to a snapshot that lacks files');
});

test('a wrong sha256 deletes the download and is a typed error; no blob, no partial file', async () => {
  hub.behaviour = { corrupt: true };
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts()), 'hub/checksum', new RegExp(W_SHA));
  assert.deepEqual(
    blobs().filter((b) => b.startsWith(W_SHA)),
    [],
  );
  assert.equal(findCachedFile(cacheDir, REPO, 'main', 'model.safetensors'), undefined);
});

test('a truncated body is a typed error that keeps only the .incomplete; the next attempt resumes it with Range', async () => {
  hub.behaviour = { truncateAt: 1_000_000 };
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts()), 'hub/truncated', /resume/);
  assert.ok(!blobs().includes(W_SHA), 'no blob');
  const partial = join(cacheDir, repoFolderName(REPO), 'blobs', `${W_SHA}.incomplete`);
  // What was read before the connection dropped is kept (bytes still buffered when the stream errors are not).
  const kept = statSync(partial).size;
  assert.ok(kept > 0 && kept <= 1_000_000, `partial ${kept}`);
  assert.equal(findCachedFile(cacheDir, REPO, 'main', 'model.safetensors'), undefined);
  hub.behaviour = {};
  hub.requests.length = 0;
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts());
  const cdn = hub.requests.filter((r) => r.server === 'cdn');
  assert.deepEqual(
    cdn.map((r) => r.headers.range),
    [`bytes=${kept}-`],
  );
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), W_SHA);
  assert.equal(existsSync(partial), false);
});

test('a server that ignores Range: the download starts over and is still right', async () => {
  hub.behaviour = { truncateAt: 500_000 };
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts()), 'hub/truncated');
  hub.behaviour = { ignoreRange: true };
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts());
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), W_SHA);
});

test('cancel (AbortSignal) mid-body: a typed error, the partial file is kept for resuming, no blob', async () => {
  hub.behaviour = { slow: { chunk: 64 * 1024, pauseMs: 20 } };
  const abort = new AbortController();
  hub.onCdnBytes = (sent) => {
    if (sent >= 256 * 1024) abort.abort();
  };
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts({ signal: abort.signal })), 'hub/cancelled');
  assert.ok(!blobs().includes(W_SHA));
  assert.ok(blobs().includes(`${W_SHA}.incomplete`));
  hub.behaviour = {};
  hub.onCdnBytes = undefined;
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts());
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), W_SHA);
});

test('a process killed mid-download: the next run resumes with a Range request and the file checks out', async () => {
  hub.behaviour = { slow: { chunk: 32 * 1024, pauseMs: 15 } };
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'downloadChild.ts'), hub.endpoint, cacheDir, REPO], {
    stdio: 'pipe',
    env: { PATH: process.env.PATH },
  });
  const partial = join(cacheDir, repoFolderName(REPO), 'blobs', `${W_SHA}.incomplete`);
  // Kill it once part of the body is on disk (not merely sent).
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (existsSync(partial) && statSync(partial).size >= 300 * 1024) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`child exited ${code}`));
    });
  });
  const kept = statSync(partial).size;
  assert.ok(kept > 0 && kept < WEIGHTS.length, `partial ${kept}`);
  assert.ok(!blobs().includes(W_SHA));
  hub.behaviour = {};
  hub.requests.length = 0;
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts());
  assert.deepEqual(
    hub.requests.filter((r) => r.server === 'cdn').map((r) => r.headers.range),
    [`bytes=${kept}-`],
  );
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), W_SHA);
  assert.equal(existsSync(partial), false);
});

test('disk full (ENOSPC) is a typed error', { skip: !existsSync('/dev/full') && 'needs /dev/full' }, async () => {
  // The partial file is a link to /dev/full, where every write fails with ENOSPC.
  const dir = join(cacheDir, repoFolderName(REPO), 'blobs');
  mkdirSync(dir, { recursive: true });
  symlinkSync('/dev/full', join(dir, `${W_SHA}.incomplete`));
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts()), 'hub/disk-full', /no space left/);
  assert.ok(!blobs().includes(W_SHA));
});

test('connection refused is a typed one-line error', async () => {
  await rejectsWith(
    ensureRepoFiles(REPO, 'main', FILES, opts({ endpoint: `http://127.0.0.1:${await closedPort()}` })),
    'hub/connection',
    /connection refused/,
  );
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('a partial file that already holds every byte (killed before the rename): a 416, then the check and the rename', async () => {
  const dir = join(cacheDir, repoFolderName(REPO), 'blobs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${W_SHA}.incomplete`), WEIGHTS);
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts());
  assert.deepEqual(
    hub.requests.filter((r) => r.server === 'cdn').map((r) => r.headers.range),
    [`bytes=${WEIGHTS.length}-`],
  );
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), W_SHA);
  // The same with wrong bytes of the right length: the check catches it and deletes them.
  const other = join(tmp, `cache-${n++}`);
  const bad = Buffer.from(WEIGHTS);
  bad[0] ^= 1;
  mkdirSync(join(other, repoFolderName(REPO), 'blobs'), { recursive: true });
  writeFileSync(join(other, repoFolderName(REPO), 'blobs', `${W_SHA}.incomplete`), bad);
  await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts({ cacheDir: other })), 'hub/checksum');
  assert.deepEqual(
    readdirSync(join(other, repoFolderName(REPO), 'blobs')).filter((b) => b.startsWith(W_SHA)),
    [],
  );
});

test("one download per blob at a time: a live owner's lock is a typed error; a dead owner's lock is taken over", async () => {
  const lockDir = join(cacheDir, '.locks', repoFolderName(REPO));
  mkdirSync(lockDir, { recursive: true });
  const lock = join(lockDir, `${W_SHA}.anyad.lock`);
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    writeFileSync(lock, String(live.pid));
    await rejectsWith(ensureRepoFiles(REPO, 'main', FILES, opts()), 'hub/busy', new RegExp(`pid ${live.pid}`));
    assert.ok(!blobs().includes(W_SHA));
  } finally {
    live.kill();
  }
  await new Promise((r) => live.once('exit', r));
  writeFileSync(lock, String(live.pid)); // its process is gone now
  const got = await ensureRepoFiles(REPO, 'main', FILES, opts());
  assert.equal(sha256(readFileSync(got.files['model.safetensors'].path)), W_SHA);
  assert.equal(existsSync(lock), false, 'released');
});
