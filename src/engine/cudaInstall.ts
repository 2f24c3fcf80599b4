/**
 * Installs onnxruntime-node's CUDA execution provider for a user who got AnyAD as a .vsix
 * (npm's postinstall never ran, and this repo's .npmrc skips it anyway). It fetches what
 * onnxruntime-node's own installer (node_modules/onnxruntime-node/script/install*.js) fetches:
 * the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux of the binding's version, from which
 * runtimes/linux-x64/native/libonnxruntime_providers_{cuda,shared,tensorrt}.so go next to the
 * installed binding (bindingDir()), where the binding loads them.
 *
 * Steps: NuGet v3 service index → PackageBaseAddress (the .nupkg URL, as the ORT installer
 * builds it) and RegistrationsBaseUrl (the catalog entry with the package's SHA-512); only
 * with consent (`confirm`, shown the URL and size); download with progress; the SHA-512
 * checked before anything is extracted; each library written to a temporary name and renamed;
 * then a session on the CUDA provider must start (`verify`).
 * The NuGet index URL can be replaced (a mirror; the tests' loopback server).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { AnyadError } from './errors';
import { readBody, request } from './hub/http';

export class CudaInstallError extends AnyadError {}

export const NUGET_INDEX = 'https://api.nuget.org/v3/index.json';
export const CUDA_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
/** Files taken from the package (the same three as onnxruntime-node's install-metadata.js). */
export const CUDA_PACKAGE_FILES = [
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_tensorrt.so',
];
const PATH_IN_PACKAGE = 'runtimes/linux-x64/native/';

export interface CudaInstallOptions {
  /** onnxruntime-node's version (the package version to fetch). */
  version: string;
  /** Where the binding loads providers from (runtime.bindingDir()). */
  targetDir: string;
  /** NuGet v3 service index (default api.nuget.org). */
  index?: string;
  /** Asked before downloading; false stops with nothing written. */
  confirm: (what: { url: string; bytes?: number; targetDir: string }) => Promise<boolean>;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Starts a CUDA session after the install; throws why not. */
  verify?: () => Promise<void>;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface CudaInstallResult {
  installed: string[];
  url: string;
  sha512: string;
  /** Whether the verification session started (undefined: not verified); `verifyError` says why not. */
  verified?: boolean;
  verifyError?: string;
}

async function get(url: string, o: CudaInstallOptions, redirects = 5): Promise<IncomingMessage> {
  const res = await request(url, { method: 'GET', env: o.env, signal: o.signal });
  const code = res.statusCode ?? 0;
  if (code >= 300 && code < 400 && res.headers.location && redirects > 0) {
    res.resume();
    return get(new URL(res.headers.location, url).href, o, redirects - 1);
  }
  if (code !== 200) {
    const body = await readBody(res, 512);
    throw new CudaInstallError('cuda/http', `GET ${url}: HTTP ${code}${body ? ` (${body.trim().slice(0, 200)})` : ''}`);
  }
  return res;
}

async function getJson<T>(url: string, o: CudaInstallOptions): Promise<T> {
  const res = await get(url, o);
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  // NuGet's gz registration hives are stored gzipped and say so, whatever the request asked.
  const raw = Buffer.concat(parts);
  const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CudaInstallError('cuda/bad-json', `${url} did not return JSON`);
  }
}

interface ServiceIndex {
  resources: Array<{ '@id': string; '@type': string }>;
}

/** The .nupkg URL and its SHA-512 (base64) from the NuGet v3 API. */
export async function resolveCudaPackage(o: CudaInstallOptions): Promise<{ url: string; sha512: string; bytes?: number }> {
  const index = await getJson<ServiceIndex>(o.index ?? NUGET_INDEX, o);
  const find = (type: string) =>
    (index.resources?.find((r) => r['@type'] === type) ?? index.resources?.find((r) => r['@type']?.startsWith(`${type}/`)))?.['@id'];
  const base = find('PackageBaseAddress');
  const registrations = find('RegistrationsBaseUrl');
  if (!base || !registrations)
    throw new CudaInstallError('cuda/bad-index', `${o.index ?? NUGET_INDEX} names no PackageBaseAddress/RegistrationsBaseUrl`);
  const id = CUDA_PACKAGE.toLowerCase();
  const v = o.version.toLowerCase();
  const slash = (u: string) => (u.endsWith('/') ? u : `${u}/`);
  const leaf = await getJson<{ catalogEntry?: string | { '@id': string } }>(`${slash(registrations)}${id}/${v}.json`, o);
  const entryUrl = typeof leaf.catalogEntry === 'string' ? leaf.catalogEntry : leaf.catalogEntry?.['@id'];
  if (!entryUrl) throw new CudaInstallError('cuda/not-found', `${CUDA_PACKAGE} ${o.version} is not on ${o.index ?? NUGET_INDEX}`);
  const entry = await getJson<{ packageHash?: string; packageHashAlgorithm?: string; packageSize?: number }>(entryUrl, o);
  if (!entry.packageHash || (entry.packageHashAlgorithm ?? 'SHA512').toUpperCase() !== 'SHA512') {
    throw new CudaInstallError('cuda/no-checksum', `the catalog entry of ${CUDA_PACKAGE} ${o.version} has no SHA-512 package hash`);
  }
  return { url: `${slash(base)}${id}/${v}/${id}.${v}.nupkg`, sha512: entry.packageHash, bytes: entry.packageSize };
}

/** Entries of a zip (no zip64: a .nupkg is far below 4 GB): name, method, sizes, local header offset. */
export function zipDirectory(buf: Buffer): Array<{ name: string; method: number; compressed: number; size: number; offset: number }> {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new CudaInstallError('cuda/bad-zip', 'the package is not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new CudaInstallError('cuda/bad-zip', `bad central directory entry ${i}`);
    const nameLen = buf.readUInt16LE(p + 28);
    out.push({
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
      method: buf.readUInt16LE(p + 10),
      compressed: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      offset: buf.readUInt32LE(p + 42),
    });
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return out;
}

function extract(buf: Buffer, e: ReturnType<typeof zipDirectory>[number]): Buffer {
  const p = e.offset;
  if (buf.readUInt32LE(p) !== 0x04034b50) throw new CudaInstallError('cuda/bad-zip', `bad local header for ${e.name}`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const raw = buf.subarray(start, start + e.compressed);
  const data = e.method === 0 ? Buffer.from(raw) : e.method === 8 ? inflateRawSync(raw) : undefined;
  if (!data) throw new CudaInstallError('cuda/bad-zip', `${e.name}: unsupported compression method ${e.method}`);
  if (data.length !== e.size) throw new CudaInstallError('cuda/bad-zip', `${e.name}: ${data.length} bytes, the directory says ${e.size}`);
  return data;
}

async function download(url: string, dest: string, o: CudaInstallOptions): Promise<void> {
  const res = await get(url, o);
  const total = Number(res.headers['content-length']) || undefined;
  let received = 0;
  const out = createWriteStream(dest);
  await new Promise<void>((resolvePromise, reject) => {
    res.on('data', (c: Buffer) => {
      received += c.length;
      o.onProgress?.(received, total);
    });
    res.on('error', reject);
    out.on('error', reject);
    out.on('finish', () => resolvePromise());
    res.pipe(out);
  });
  if (total !== undefined && received !== total)
    throw new CudaInstallError('cuda/truncated', `the download stopped after ${received} of ${total} bytes`);
}

/** Downloads, checks and installs the CUDA provider libraries; see the module comment. */
export async function installCudaProvider(o: CudaInstallOptions): Promise<CudaInstallResult> {
  const pkg = await resolveCudaPackage(o);
  o.log?.(`${CUDA_PACKAGE} ${o.version}: ${pkg.url}${pkg.bytes ? ` (${(pkg.bytes / 2 ** 20).toFixed(0)} MB)` : ''}`);
  if (!(await o.confirm({ url: pkg.url, bytes: pkg.bytes, targetDir: o.targetDir }))) {
    throw new CudaInstallError('cuda/declined', 'nothing was downloaded (not confirmed)');
  }
  const tmp = mkdtempSync(join(tmpdir(), 'anyad-cuda-'));
  const written: string[] = [];
  try {
    const file = join(tmp, 'package.nupkg');
    await download(pkg.url, file, o);
    const buf = readFileSync(file);
    const sha512 = createHash('sha512').update(buf).digest('base64');
    if (sha512 !== pkg.sha512)
      throw new CudaInstallError('cuda/checksum', `the package's SHA-512 is ${sha512}, NuGet's catalog says ${pkg.sha512}: not installed`);
    const entries = zipDirectory(buf);
    const wanted = CUDA_PACKAGE_FILES.map((f) => {
      const e = entries.find((x) => x.name === `${PATH_IN_PACKAGE}${f}`);
      if (!e) throw new CudaInstallError('cuda/missing-file', `${PATH_IN_PACKAGE}${f} is not in ${CUDA_PACKAGE} ${o.version}`);
      return [f, extract(buf, e)] as const;
    });
    for (const [f, data] of wanted) {
      // A temporary name in the target folder, then rename: a crash leaves no half library.
      const part = join(o.targetDir, `.${f}.${process.pid}.part`);
      writeFileSync(part, data, { mode: 0o755 });
      renameSync(part, join(o.targetDir, f));
      written.push(join(o.targetDir, f));
    }
    const result: CudaInstallResult = { installed: written, url: pkg.url, sha512 };
    if (o.verify) {
      try {
        await o.verify();
        result.verified = true;
      } catch (e) {
        result.verified = false;
        result.verifyError = (e as Error).message;
      }
    }
    return result;
  } finally {
    for (const f of CUDA_PACKAGE_FILES) rmSync(join(o.targetDir, `.${f}.${process.pid}.part`), { force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}
