/**
 * StableAdamW's two per-element passes (see optim.ts) on a WebAssembly SIMD kernel
 * (stableAdamW.wat), bit-identical to the scalar loops and several times faster: the scalar
 * loop's float32 emulation (Math.fround around every float64 operation) is latency-bound.
 *
 * The arrays stay where they are (the parameters and the optimiser state are ordinary
 * Float32Arrays); they stream through the module's memory in chunks small enough to stay in
 * the L2 cache. Without WebAssembly SIMD the functions return undefined/false and the caller
 * runs its scalar loop.
 */
import { STABLE_ADAMW_WASM_BASE64 } from './stableAdamWKernel.generated';

/** Elements per array per chunk: 6 arrays × 16 Ki × 4 bytes = 384 KiB. */
export const KERNEL_CHUNK = 16384;

interface KernelExports {
  memory: WebAssembly.Memory;
  moments(
    n: number,
    p: number,
    g: number,
    m: number,
    v: number,
    vmax: number,
    denom: number,
    decay: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    sqrtBc2: number,
    eps: number,
    amsgrad: number,
    sum: number,
  ): number;
  apply(n: number, p: number, m: number, denom: number, value: number): void;
}

/** float32 hyper-parameters of one step (each value exactly a float32). */
export interface MomentsConstants {
  decay: number;
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  sqrtBc2: number;
  eps: number;
}

// Element offsets of the chunk buffers in the module's memory.
const P = 0,
  G = KERNEL_CHUNK,
  M = 2 * KERNEL_CHUNK,
  V = 3 * KERNEL_CHUNK,
  VMAX = 4 * KERNEL_CHUNK,
  DENOM = 5 * KERNEL_CHUNK;

let kernel: { exports: KernelExports; heap: Float32Array } | null | undefined;

function load(): typeof kernel {
  if (kernel !== undefined) return kernel;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(STABLE_ADAMW_WASM_BASE64, 'base64')), {});
    const exports = instance.exports as unknown as KernelExports;
    const need = 6 * KERNEL_CHUNK * 4 - exports.memory.buffer.byteLength;
    if (need > 0) exports.memory.grow(Math.ceil(need / 65536));
    kernel = { exports, heap: new Float32Array(exports.memory.buffer) };
  } catch {
    kernel = null;
  }
  return kernel;
}

/** Whether the SIMD kernel runs here (false: the scalar loops do the work). */
export function kernelAvailable(): boolean {
  return load() !== null;
}

/** One array streamed through the kernel: its chunk buffer, what fills the padding lanes, which way it moves. */
interface Stream {
  data: Float32Array;
  /** Element offset of its chunk buffer in the module's memory. */
  at: number;
  /** Value of the padding lanes after a chunk that is not a multiple of 4. */
  pad: number;
  in: boolean;
  out: boolean;
}

/** Per chunk: copies the inputs in (padded to whole 4-lane vectors), runs `kernel(padded)`, copies the outputs back. */
function streamChunks(heap: Float32Array, n: number, streams: readonly Stream[], kernel: (padded: number) => void): void {
  for (let start = 0; start < n; start += KERNEL_CHUNK) {
    const len = Math.min(KERNEL_CHUNK, n - start);
    const padded = (len + 3) & ~3;
    for (const s of streams) {
      if (!s.in) continue;
      heap.set(s.data.subarray(start, start + len), s.at);
      heap.fill(s.pad, s.at + len, s.at + padded);
    }
    kernel(padded);
    for (const s of streams) if (s.out) s.data.set(heap.subarray(s.at, s.at + len), start);
  }
}

/**
 * Pass 1 over one parameter: p *= decay; m, v (and vmax when given) updated; denom filled.
 * Returns Σ (g / denom)² accumulated in float64 in index order, or undefined without the kernel.
 */
export function kernelMoments(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vmax: Float32Array | null,
  denom: Float32Array,
  c: MomentsConstants,
): number | undefined {
  const k = load();
  if (!k) return undefined;
  // Padding lanes: g = 0 and v = vmax = 1 give denom > 0 and (g/denom)² = +0, so the sum is unchanged.
  const streams: Stream[] = [
    { data: p, at: P, pad: 0, in: true, out: true },
    { data: g, at: G, pad: 0, in: true, out: false },
    { data: m, at: M, pad: 0, in: true, out: true },
    { data: v, at: V, pad: 1, in: true, out: true },
    ...(vmax ? [{ data: vmax, at: VMAX, pad: 1, in: true, out: true }] : []),
    { data: denom, at: DENOM, pad: 0, in: false, out: true },
  ];
  let sum = 0;
  streamChunks(k.heap, p.length, streams, (padded) => {
    sum = k.exports.moments(
      padded,
      P * 4,
      G * 4,
      M * 4,
      V * 4,
      VMAX * 4,
      DENOM * 4,
      c.decay,
      c.b1,
      c.c1,
      c.b2,
      c.c2,
      c.sqrtBc2,
      c.eps,
      vmax ? 1 : 0,
      sum,
    );
  });
  return sum;
}

/** Pass 2: p += (value · m) / denom. False without the kernel. */
export function kernelApply(p: Float32Array, m: Float32Array, denom: Float32Array, value: number): boolean {
  const k = load();
  if (!k) return false;
  streamChunks(
    k.heap,
    p.length,
    [
      { data: p, at: P, pad: 0, in: true, out: true },
      { data: m, at: M, pad: 0, in: true, out: false },
      { data: denom, at: DENOM, pad: 1, in: true, out: false },
    ],
    (padded) => k.exports.apply(padded, P * 4, M * 4, DENOM * 4, value),
  );
  return true;
}
