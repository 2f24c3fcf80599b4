/**
 * Installing the CUDA provider for a .vsix user, against a loopback NuGet server of our own
 * (no network): the package resolved the way onnxruntime-node's installer does it, consent
 * asked before any download, progress reported, the SHA-512 from NuGet's catalog checked
 * before anything is written, the three libraries put where the binding loads them, and a
 * verification session run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { CUDA_PACKAGE_FILES, CudaInstallError, installCudaProvider } from '../../src/engine/cudaInstall';
import { runCli } from '../helpers/cli';

/** A minimal zip (deflate) like a .nupkg. */
function zip(files: Record<string, Buffer>): Buffer {
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const comp = deflateRawSync(data);
    const n = Buffer.from(name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(8, 8);
    h.writeUInt32LE(crc32(data), 14);
    h.writeUInt32LE(comp.length, 18);
    h.writeUInt32LE(data.length, 22);
    h.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(crc32(data), 16);
    c.writeUInt32LE(comp.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    local.push(h, n, comp);
    central.push(c, n);
    offset += 30 + n.length + comp.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length / 2, 8);
  end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, cd, end]);
}

const VERSION = '1.30.0';
// Incompressible, so the package is large enough to arrive in several chunks.
const libs = Object.fromEntries(CUDA_PACKAGE_FILES.map((f, i) => [f, randomBytes(200_000 + i)]));
let nupkg = zip({
  ...Object.fromEntries(Object.entries(libs).map(([f, d]) => [`runtimes/linux-x64/native/${f}`, d])),
  'Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec': Buffer.from('<package/>'),
});
let catalogHash = createHash('sha512').update(nupkg).digest('base64');
const hits: string[] = [];
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url!);
    const json = (o: unknown, gz = false) => {
      const body = Buffer.from(JSON.stringify(o));
      res.writeHead(200, { 'content-type': 'application/json', ...(gz ? { 'content-encoding': 'gzip' } : {}) });
      res.end(gz ? gzipSync(body) : body);
    };
    const id = 'microsoft.ml.onnxruntime.gpu.linux';
    if (req.url === '/v3/index.json') {
      // As api.nuget.org: the gz registration hive (3.6.0) only, the flat container as PackageBaseAddress.
      return json({
        version: '3.0.0',
        resources: [
          { '@id': `${base}/v3/registration5-gz-semver2/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
          { '@id': `${base}/v3-flatcontainer/`, '@type': 'PackageBaseAddress/3.0.0' },
        ],
      });
    }
    if (req.url === `/v3/registration5-gz-semver2/${id}/${VERSION}.json`)
      return json({ catalogEntry: `${base}/v3/catalog0/data/${id}.${VERSION}.json` }, true);
    if (req.url === `/v3/catalog0/data/${id}.${VERSION}.json`)
      return json({ packageHash: catalogHash, packageHashAlgorithm: 'SHA512', packageSize: nupkg.length });
    if (req.url === `/v3-flatcontainer/${id}/${VERSION}/${id}.${VERSION}.nupkg`) {
      res.writeHead(200, { 'content-length': nupkg.length });
      // In pieces, so progress has several steps.
      for (let i = 0; i < nupkg.length; i += 4096) res.write(nupkg.subarray(i, i + 4096));
      return res.end();
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
});

const NO_PROXY_ENV = { ...process.env, http_proxy: '', HTTP_PROXY: '', https_proxy: '', HTTPS_PROXY: '' };

test('CUDA provider install: consent with URL and size, progress, SHA-512 checked, the three libraries in the target folder, a verification session', async () => {
  const target = mkdtempSync(join(tmpdir(), 'anyad-cuda-target-'));
  try {
    const asked: Array<{ url: string; bytes?: number }> = [];
    const progress: Array<[number, number | undefined]> = [];
    let verified = 0;
    const r = await installCudaProvider({
      version: VERSION,
      targetDir: target,
      index: `${base}/v3/index.json`,
      env: NO_PROXY_ENV,
      confirm: async (w) => {
        asked.push(w);
        return true;
      },
      onProgress: (a, b) => progress.push([a, b]),
      verify: async () => {
        verified++;
      },
    });
    assert.equal(asked.length, 1);
    assert.match(
      asked[0].url,
      /\/v3-flatcontainer\/microsoft\.ml\.onnxruntime\.gpu\.linux\/1\.30\.0\/microsoft\.ml\.onnxruntime\.gpu\.linux\.1\.30\.0\.nupkg$/,
    );
    assert.equal(asked[0].bytes, nupkg.length);
    assert.ok(progress.length > 2);
    assert.deepEqual(progress.at(-1), [nupkg.length, nupkg.length]);
    assert.ok(progress.every(([a], i) => i === 0 || a > progress[i - 1][0]));
    assert.deepEqual(readdirSync(target).sort(), [...CUDA_PACKAGE_FILES].sort());
    for (const f of CUDA_PACKAGE_FILES) assert.ok(readFileSync(join(target, f)).equals(libs[f]), f);
    assert.equal(verified, 1);
    assert.equal(r.verified, true);
    assert.equal(r.sha512, catalogHash);
    // A verification that fails is reported, the files stay (the driver may come later).
    const again = await installCudaProvider({
      version: VERSION,
      targetDir: target,
      index: `${base}/v3/index.json`,
      env: NO_PROXY_ENV,
      confirm: async () => true,
      verify: async () => {
        throw new Error('no NVIDIA driver');
      },
    });
    assert.equal(again.verified, false);
    assert.equal(again.verifyError, 'no NVIDIA driver');
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
});

test('CUDA provider install: declined → nothing downloaded; a wrong checksum or a package without the libraries → nothing written', async () => {
  const target = mkdtempSync(join(tmpdir(), 'anyad-cuda-target-'));
  const opts = { version: VERSION, targetDir: target, index: `${base}/v3/index.json`, env: NO_PROXY_ENV };
  const nupkgHits = () => hits.filter((h) => h.endsWith('.nupkg')).length;
  try {
    const before = nupkgHits();
    await assert.rejects(
      installCudaProvider({ ...opts, confirm: async () => false }),
      (e) => e instanceof CudaInstallError && e.code === 'cuda/declined',
    );
    assert.equal(nupkgHits(), before);
    const good = catalogHash;
    catalogHash = createHash('sha512').update('something else').digest('base64');
    await assert.rejects(
      installCudaProvider({ ...opts, confirm: async () => true }),
      (e) => e instanceof CudaInstallError && e.code === 'cuda/checksum' && /SHA-512/.test(e.message),
    );
    assert.deepEqual(readdirSync(target), []);
    catalogHash = good;
    const full = nupkg;
    nupkg = zip({ 'runtimes/linux-x64/native/libonnxruntime_providers_shared.so': Buffer.from('x') });
    catalogHash = createHash('sha512').update(nupkg).digest('base64');
    await assert.rejects(
      installCudaProvider({ ...opts, confirm: async () => true }),
      (e) => e instanceof CudaInstallError && e.code === 'cuda/missing-file',
    );
    assert.deepEqual(readdirSync(target), []);
    nupkg = full;
    catalogHash = good;
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
});

test('anyad doctor --install-cuda without --yes and without a terminal: asks for consent, downloads nothing', async () => {
  const before = hits.filter((h) => h.endsWith('.nupkg')).length;
  const r = await runCli(['doctor', '--install-cuda', '--nuget-index', `${base}/v3/index.json`]);
  assert.equal(r.code, 1);
  if (process.platform === 'linux' && process.arch === 'x64') assert.match(r.stderr, /--yes to consent/);
  else assert.match(r.stderr, /only on Linux x64/);
  assert.equal(hits.filter((h) => h.endsWith('.nupkg')).length, before);
});
