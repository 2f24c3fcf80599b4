/**
 * The one place that creates onnxruntime-node sessions.
 *
 * - Execution provider: 'auto' tries CUDA (only when its provider library is installed next
 *   to the onnxruntime-node binding), then WebGPU (built into the Linux/Windows/macOS x64
 *   bindings, but it needs a GPU adapter, which is only found by trying; skipped when the
 *   only Vulkan drivers are software ones, see adapters.ts), then the CPU; an
 *   explicit 'cpu' | 'cuda' | 'webgpu' either works or throws a RuntimeProviderError that
 *   says what to install or check.
 * - Sessions are cached by (model bytes hash | model file identity) + options, least recently
 *   used first out. Each createSession call is an owner; a session is freed once it has left
 *   the cache (evicted or released) and no owner holds it and no run is using it, so two
 *   callers that asked for the same model never free it under each other.
 * - `run` turns plain typed arrays + shapes into ORT tensors and back.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RuntimeProviderError } from '../errors';
import { webgpuSoftwareOnlyReason } from './adapters';

import type { ProviderChoice } from '../../shared/vocabulary';

export type { ProviderChoice };
export type ExecutionProviderName = 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml';

/**
 * The accelerators 'auto' tries, in order, among those a platform's binding has (linux-x64:
 * cuda, webgpu; win32: dml, webgpu; darwin-arm64: webgpu; linux-arm64: none). CoreML is
 * never tried: it runs only part of our graphs' ops (the rest falls back to the CPU, with a
 * copy per partition) and has not been checked on them; ask for 'coreml' explicitly.
 */
export function autoOrder(backends: readonly string[]): ExecutionProviderName[] {
  return (['cuda', 'dml', 'webgpu'] as const).filter((ep) => backends.includes(ep));
}
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Where the model runs; 'auto' = CUDA if installed, else WebGPU if an adapter exists, else CPU. */
  provider?: ProviderChoice;
  /** Intra-op threads; 0 (default) lets onnxruntime use one per physical core. */
  threads?: number;
  /** onnxruntime graph optimisations (default 'all'). */
  graphOptimization?: GraphOptimizationLevel;
  /** GPU index for CUDA (default 0). */
  deviceId?: number;
  /** Receives one line per provider fallback (default: stderr). */
  log?: (message: string) => void;
  /** onnxruntime's session log id: names this session's lines of the verbose log (placement checks). */
  logId?: string;
  /**
   * For training graphs: no memory pattern (onnxruntime's pre-planned block for all
   * intermediate tensors) and no CPU arena (its regions grow by powers of two and, fragmented
   * by a training step's mix of tensor sizes, stay touched), so the process holds about what
   * its live tensors need. Measured with bench/train-memory.ts, peak RSS over a warm-up and two
   * steps (one step: cpu preset at batch 16 2986 → 1689 MB without the pattern, paper at
   * batch 2 2884 → 1902 MB), paper preset at batch 16 (issue #12): about 19 GB with the pattern; 9147 MB
   * without it; 8113 MB after GELU's output is recomputed in the backward (composites.ts); 7716
   * MB without the arena too (step 66 s against 76 s with it, on 2 loaded cores). Step time,
   * cpu preset at batch 16, steps alternating in one process (train-memory.ts --paired): arena
   * off against on 1.002 (median ratio, 12 pairs); this graph without the arena against the
   * graph before the recomputation with it 0.994 (10 pairs). Also without the graph passes of
   * LEAN_MEMORY_OPTIMIZERS_OFF (see there).
   */
  leanMemory?: boolean;
  /**
   * Outputs a WebGPU session keeps on the device (`preferredOutputLocation: 'gpu-buffer'`): they
   * come back as device tensors that can be fed to the next run without a copy (the in-graph
   * optimiser's parameters and state, train/deviceStep.ts). Other providers return them as usual.
   */
  deviceOutputs?: readonly string[];
}

/**
 * onnxruntime graph passes a training (leanMemory) session runs without (';'-separated, as
 * onnxruntime splits them). The backward rebuilds GELU's 1 + erf from its input (composites.ts)
 * so that the forward's copy dies at once; the common-subexpression pass would merge the two
 * back into one value alive from the forward to the backward (and, read twice, the forward
 * would not fuse into a Gelu kernel either). paper preset, batch 16: peak RSS 8201 → 7235 MB
 * (bench:speed's training step); cpu preset step 0.984 of before (16 pairs, steps alternating
 * in one process); gradients within 5.7e-6 of max of before (the forward now runs the fused
 * Gelu kernel, as inference does).
 */
export const LEAN_MEMORY_OPTIMIZERS_OFF = 'CommonSubexpressionElimination';

export interface Session {
  readonly inference: ort.InferenceSession;
  /** The execution provider this session was created with (shown in the status bar). */
  readonly provider: ExecutionProviderName;
  /** Why 'auto' did not get a faster provider, one entry per provider skipped. */
  readonly fallbackReasons: readonly string[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Cache key: model identity + options. */
  readonly key: string;
}

export type FeedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
/** A feed is a typed array (its shape given in `shapes`) or a ready ORT tensor. */
export type Feed = FeedArray | ort.Tensor;

export interface OutputTensor {
  data: FeedArray;
  dims: number[];
  type: string;
}

let ortInitialised = false;
/** Sets process-wide onnxruntime settings once, before the first session (ORT reads them then). */
export function initRuntime(opts: { logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal' } = {}): void {
  if (ortInitialised) return;
  ortInitialised = true;
  // Graph optimisers warn about every unused initializer of a training graph; keep stderr readable.
  // ANYAD_ORT_LOG=verbose makes each session log verbosely (its node placements among them:
  // provider checks, bug reports); the process-wide logger stays at warnings, or every WebGPU
  // shader's source is printed too.
  ort.env.logLevel = opts.logLevel ?? (verboseOrtLog() ? 'warning' : 'error');
}

/** Whether onnxruntime should log verbosely to stderr (its "Node placements" lines among them). */
export function verboseOrtLog(): boolean {
  return process.env.ANYAD_ORT_LOG === 'verbose';
}

// ---------------------------------------------------------------------------------------
// Provider availability

/** The folder holding onnxruntime-node's native binding (and, when installed, the CUDA provider). */
export function bindingDir(): string {
  const pkg = require.resolve('onnxruntime-node/package.json');
  return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
}

const CUDA_LIBS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

/** Whether onnxruntime-node's CUDA provider libraries were installed (they are not in the npm package). */
export function cudaProviderStatus(): { installed: boolean; dir: string; missing: string[] } {
  const dir = bindingDir();
  if (process.platform !== 'linux' || process.arch !== 'x64') return { installed: false, dir, missing: CUDA_LIBS };
  const missing = CUDA_LIBS.filter((f) => !existsSync(join(dir, f)));
  return { installed: missing.length === 0, dir, missing };
}

const CUDA_INSTALL_HINT =
  'Install it with `npm install onnxruntime-node --onnxruntime-node-install=cuda12` ' +
  "(or `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` in an existing checkout; this repo's .npmrc skips the download by default). " +
  'It needs an NVIDIA driver and the CUDA 12 and cuDNN 9 runtime libraries on the library path (LD_LIBRARY_PATH).';

const EP_LABEL: Record<ExecutionProviderName, string> = { cpu: 'CPU', cuda: 'CUDA', webgpu: 'WebGPU', dml: 'DirectML', coreml: 'CoreML' };

function providerUnavailable(ep: ExecutionProviderName): string | undefined {
  const backends = ort.listSupportedBackends().map((b) => b.name);
  if (ep === 'cuda') {
    if (!backends.includes('cuda'))
      return `this onnxruntime-node build (${process.platform}/${process.arch}) has no CUDA execution provider (only Linux x64 does)`;
    const st = cudaProviderStatus();
    if (!st.installed)
      return `the CUDA execution provider is not installed: ${st.missing.join(', ')} missing in ${st.dir}. ${CUDA_INSTALL_HINT}`;
  }
  if (ep !== 'cpu' && !backends.includes(ep))
    return `this onnxruntime-node build (${process.platform}/${process.arch}) has no ${EP_LABEL[ep]} execution provider (it has: ${backends.join(', ')})`;
  return undefined;
}

function failureHint(ep: ExecutionProviderName, message: string): string {
  if (ep === 'cuda')
    return `the CUDA execution provider failed to start (${firstLine(message)}). Check the NVIDIA driver (nvidia-smi) and that the CUDA 12 and cuDNN 9 libraries are on LD_LIBRARY_PATH, or use provider 'cpu'.`;
  if (ep === 'webgpu')
    return `the WebGPU execution provider failed to start (${firstLine(message)}). It needs a GPU adapter (on Linux: a Vulkan driver and libvulkan.so.1); use provider 'cpu' otherwise.`;
  if (ep === 'dml')
    return `the DirectML execution provider failed to start (${firstLine(message)}). It needs a DirectX 12 GPU and driver; use provider 'cpu' otherwise.`;
  if (ep === 'coreml') return `the CoreML execution provider failed to start (${firstLine(message)}); use provider 'webgpu' or 'cpu'.`;
  return `onnxruntime could not create a CPU session (${firstLine(message)})`;
}

/** The readable part of an onnxruntime message (they start with a C++ source location and signature). */
function firstLine(s: string): string {
  const line = (s.split('\n').find((l) => l.trim() !== '') ?? s).trim();
  const afterCheck = /\bwas false\. (.+)$/.exec(line);
  if (afterCheck) return afterCheck[1];
  const afterCode = /\[ONNXRuntimeError\] : \d+ : \w+ : (.+)$/.exec(line);
  return afterCode ? afterCode[1] : line;
}

/** Providers that failed in this process under 'auto' (no adapter, driver missing): not retried. */
const autoUnavailable = new Map<ExecutionProviderName, string>();

/** Whether this process already logged why 'auto' did not get a faster provider (once is enough). */
let autoChoiceLogged = false;

/** Forgets which providers failed under 'auto' (after installing a driver; in tests). */
export function forgetProviderProbes(): void {
  autoUnavailable.clear();
  autoChoiceLogged = false;
}

function logAutoChoice(ep: ExecutionProviderName, reasons: readonly string[], log: (m: string) => void): void {
  if (autoChoiceLogged) return;
  autoChoiceLogged = true;
  log(`provider 'auto' uses ${ep}: ${reasons.length ? reasons.join(' | ') : 'the first accelerator that started'}`);
}

// ---------------------------------------------------------------------------------------
// Session cache

interface CacheEntry {
  session: Promise<Session>;
  running: number;
  /** createSession calls not yet matched by releaseSession. */
  owners: number;
  /** Out of the cache: freed as soon as owners and running reach 0. */
  evicted: boolean;
  freed: boolean;
}

const cache = new Map<string, CacheEntry>();
/** Entry of each opened session, also after eviction (a run in progress defers the release). */
const entryOf = new WeakMap<Session, CacheEntry>();
let cacheCapacity = 8;

/** How many sessions stay cached (least recently used are released first). */
export function setSessionCacheCapacity(n: number): void {
  cacheCapacity = Math.max(1, Math.floor(n));
  evictOverCapacity();
}

function modelKey(model: Uint8Array | string): string {
  if (typeof model === 'string') {
    // A file: identity by path, size and mtime (hashing a 300 MB encoder on every lookup is waste).
    const p = resolve(model);
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new RuntimeProviderError(
        'runtime/model-unreadable',
        `cannot read model file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        p,
        { cause: e },
      );
    }
    return `file:${p}:${st.size}:${st.mtimeMs}`;
  }
  return `sha256:${createHash('sha256').update(model).digest('hex')}`;
}

type CoreOptions = Required<Omit<SessionOptions, 'log' | 'logId' | 'leanMemory' | 'deviceOutputs'>>;

function normalisedOptions(o: SessionOptions): CoreOptions {
  const threads = o.threads ?? 0;
  if (!Number.isInteger(threads) || threads < 0)
    throw new RuntimeProviderError('runtime/bad-option', `threads must be a non-negative integer, got ${threads}`);
  return { provider: o.provider ?? 'auto', threads, graphOptimization: o.graphOptimization ?? 'all', deviceId: o.deviceId ?? 0 };
}

/**
 * Creates (or returns the cached) session for an ONNX model given as bytes or a file path.
 * Throws RuntimeProviderError when an explicitly requested provider cannot run.
 */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
  const opts = normalisedOptions(options);
  const key = `${modelKey(model)}|${opts.provider}|t${opts.threads}|${opts.graphOptimization}|d${opts.deviceId}${options.logId ? `|l${options.logId}` : ''}${options.leanMemory ? '|lean' : ''}${options.deviceOutputs?.length ? `|dev${options.deviceOutputs.join(',')}` : ''}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // re-insert: Map order is our LRU order
    cache.set(key, hit);
    hit.owners++;
    return hit.session;
  }
  const entry: CacheEntry = {
    session: openSession(model, key, opts, options.log ?? defaultLog, options),
    running: 0,
    owners: 1,
    evicted: false,
    freed: false,
  };
  cache.set(key, entry);
  entry.session.then(
    (s) => entryOf.set(s, entry),
    () => {
      if (cache.get(key) === entry) cache.delete(key);
    },
  );
  evictOverCapacity();
  return entry.session;
}

function defaultLog(message: string): void {
  process.stderr.write(`[anyad runtime] ${message}\n`);
}

type MakeSession = (ep: ExecutionProviderName) => Promise<ort.InferenceSession>;
type WrapSession = (inference: ort.InferenceSession, provider: ExecutionProviderName, fallbackReasons: string[]) => Session;

async function openSession(
  model: Uint8Array | string,
  key: string,
  opts: CoreOptions,
  log: (m: string) => void,
  { logId, leanMemory, deviceOutputs }: SessionOptions,
): Promise<Session> {
  initRuntime();
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: opts.graphOptimization,
    logSeverityLevel: verboseOrtLog() ? 0 : 3,
    ...(logId ? { logId } : {}),
    ...(leanMemory
      ? {
          enableMemPattern: false,
          enableCpuMemArena: false,
          extra: { optimization: { disable_specified_optimizers: LEAN_MEMORY_OPTIMIZERS_OFF } },
        }
      : {}),
    ...(opts.threads > 0 ? { intraOpNumThreads: opts.threads } : {}),
  };
  const make: MakeSession = (ep) => {
    const provider: ort.InferenceSession.ExecutionProviderConfig =
      ep === 'cuda' || ep === 'dml' ? { name: ep, deviceId: opts.deviceId } : ep;
    const onDevice = ep === 'webgpu' && deviceOutputs?.length ? { preferredOutputLocation: deviceLocations(deviceOutputs) } : {};
    const o = { ...base, ...onDevice, executionProviders: [provider] };
    return typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
  };
  const wrap: WrapSession = (inference, provider, fallbackReasons) => ({
    inference,
    provider,
    fallbackReasons,
    key,
    inputNames: inference.inputNames,
    outputNames: inference.outputNames,
  });
  const file = typeof model === 'string' ? model : undefined;
  return opts.provider === 'auto' ? openAuto(make, wrap, file, log) : openExplicit(opts.provider, make, wrap, file);
}

function deviceLocations(names: readonly string[]): Record<string, ort.Tensor.DataLocation> {
  return Object.fromEntries(names.map((n) => [n, 'gpu-buffer' as const]));
}

/** The provider asked for, or a RuntimeProviderError that says why it is unavailable or failed (`file`: the model's path). */
async function openExplicit(ep: ExecutionProviderName, make: MakeSession, wrap: WrapSession, file: string | undefined): Promise<Session> {
  const why = providerUnavailable(ep);
  if (why) throw new RuntimeProviderError(`runtime/${ep}-unavailable`, `execution provider '${ep}' requested but ${why}`);
  try {
    return wrap(await make(ep), ep, []);
  } catch (e) {
    throw new RuntimeProviderError(`runtime/${ep}-failed`, failureHint(ep, (e as Error).message), file, { cause: e });
  }
}

/** The first provider of autoOrder that works, else the CPU; each one passed over adds its reason. */
async function openAuto(make: MakeSession, wrap: WrapSession, file: string | undefined, log: (m: string) => void): Promise<Session> {
  const reasons: string[] = [];
  const failedHere: Array<[ExecutionProviderName, string]> = [];
  const backends = ort.listSupportedBackends().map((b) => b.name);
  // Linux x64 lists CUDA whether or not its libraries are installed: say why it was skipped.
  for (const ep of autoOrder(backends.includes('cuda') ? backends : ['cuda', ...backends])) {
    const known = autoUnavailable.get(ep);
    if (known) {
      reasons.push(known);
      continue;
    }
    const why = providerUnavailable(ep) ?? (ep === 'webgpu' ? webgpuSoftwareOnlyReason() : undefined);
    if (why) {
      reasons.push(why);
      autoUnavailable.set(ep, why);
      continue;
    }
    try {
      const session = wrap(await make(ep), ep, [...reasons]);
      logAutoChoice(ep, reasons, log);
      return session;
    } catch (e) {
      const reason = failureHint(ep, (e as Error).message);
      reasons.push(reason);
      failedHere.push([ep, reason]);
    }
  }
  let cpu: ort.InferenceSession;
  try {
    cpu = await make('cpu');
  } catch (e) {
    // The CPU fails too: the model is at fault, not the providers; do not blacklist them.
    throw new RuntimeProviderError('runtime/session-failed', failureHint('cpu', (e as Error).message), file, { cause: e });
  }
  for (const [ep, reason] of failedHere) autoUnavailable.set(ep, reason);
  logAutoChoice('cpu', reasons, log);
  return wrap(cpu, 'cpu', reasons);
}

function evictOverCapacity(): void {
  while (cache.size > cacheCapacity) {
    const [key, entry] = cache.entries().next().value as [string, CacheEntry];
    cache.delete(key);
    entry.evicted = true;
    void freeIfUnused(entry);
  }
}

async function freeIfUnused(entry: CacheEntry): Promise<void> {
  if (!entry.evicted || entry.freed || entry.owners > 0 || entry.running > 0) return;
  entry.freed = true;
  try {
    await (await entry.session).inference.release();
  } catch {
    /* a failed or already released session has nothing to free */
  }
}

/** Drops a session from the cache and frees it (after any run in progress). */
export async function releaseSession(session: Session): Promise<void> {
  const entry = entryOf.get(session);
  if (!entry || entry.freed) return;
  entry.owners = Math.max(0, entry.owners - 1);
  if (entry.owners > 0) return; // another caller still holds the same session
  if (cache.get(session.key) === entry) cache.delete(session.key);
  entry.evicted = true;
  await freeIfUnused(entry);
}

/** Frees every cached session (extension deactivation, end of a CLI command). */
export async function releaseAllSessions(): Promise<void> {
  const entries = [...cache.values()];
  cache.clear();
  for (const e of entries) {
    e.evicted = true;
    e.owners = 0;
    await freeIfUnused(e);
  }
}

/** Number of sessions currently cached (for tests and diagnostics). */
export function cachedSessionCount(): number {
  return cache.size;
}

// ---------------------------------------------------------------------------------------
// Running

function tensorType(data: FeedArray): ort.Tensor.Type {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint8';
}

/**
 * Runs a session. `feeds` maps input names to typed arrays (shape from `shapes`) or ORT tensors;
 * `fetch` limits the outputs computed (default: all). Returns plain {data, dims, type} per output.
 */
export async function run(
  session: Session,
  feeds: Record<string, Feed>,
  shapes: Record<string, readonly number[]> = {},
  fetch?: readonly string[],
): Promise<Record<string, OutputTensor>> {
  const out = await runTensors(session, feeds, shapes, fetch);
  const result: Record<string, OutputTensor> = {};
  for (const [name, t] of Object.entries(out)) result[name] = { data: t.data as FeedArray, dims: [...t.dims], type: t.type };
  return result;
}

/** As run, but the outputs are onnxruntime's tensors (device tensors for a session's deviceOutputs). */
export async function runTensors(
  session: Session,
  feeds: Record<string, Feed>,
  shapes: Record<string, readonly number[]> = {},
  fetch?: readonly string[],
): Promise<Record<string, ort.Tensor>> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (!(name in feeds))
      throw new RuntimeProviderError('runtime/missing-feed', `input '${name}' was not fed (inputs: ${session.inputNames.join(', ')})`);
  }
  for (const [name, value] of Object.entries(feeds)) {
    if (!session.inputNames.includes(name))
      throw new RuntimeProviderError(
        'runtime/unknown-feed',
        `'${name}' is not an input of this model (inputs: ${session.inputNames.join(', ')})`,
      );
    if (!ArrayBuffer.isView(value)) {
      inputs[name] = value;
      continue;
    }
    const dims = shapes[name];
    if (!dims) throw new RuntimeProviderError('runtime/missing-shape', `no shape given for input '${name}'`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== value.length)
      throw new RuntimeProviderError(
        'runtime/bad-feed',
        `input '${name}': shape [${dims.join(', ')}] holds ${count} values but ${value.length} were given`,
      );
    inputs[name] = new ort.Tensor(tensorType(value), value, dims);
  }
  const names = fetch ?? session.outputNames;
  const entry = entryOf.get(session);
  if (entry?.freed) throw new RuntimeProviderError('runtime/released', 'this session was released; create it again with createSession');
  if (entry) entry.running++;
  try {
    const out = await session.inference.run(inputs, names);
    return Object.fromEntries(names.map((name) => [name, out[name]]));
  } catch (e) {
    if (e instanceof RuntimeProviderError) throw e;
    throw new RuntimeProviderError(
      'runtime/run-failed',
      `onnxruntime run failed on ${session.provider}: ${firstLine((e as Error).message)}`,
      undefined,
      { cause: e },
    );
  } finally {
    if (entry) {
      entry.running--;
      void freeIfUnused(entry);
    }
  }
}

/** A float32 output by name, with a clear error when it is missing or has another type. */
export function outputFloat32(outputs: Record<string, OutputTensor>, name: string): Float32Array {
  const t = outputs[name];
  if (!t) throw new RuntimeProviderError('runtime/missing-output', `output '${name}' was not fetched`);
  if (!(t.data instanceof Float32Array))
    throw new RuntimeProviderError('runtime/output-type', `output '${name}' is ${t.type}, not float32`);
  return t.data;
}
