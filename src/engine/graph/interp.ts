/**
 * Interpolation (resize) as separable matrices, with PyTorch 1.13 CPU arithmetic
 * (F.interpolate without antialias), so a graph that multiplies by these matrices
 * reproduces torch up to float summation order. The gradient of a resize is then just the
 * transposed matrix.
 *
 * - scale = in/out, or 1/scaleFactor when a scale factor is given (torch 1.13 passes
 *   `scale_factor` to the kernel unless recompute_scale_factor=True; out = floor(in·scaleFactor)),
 *   or (in−1)/(out−1) with align_corners; rounded to float32.
 * - src = scale·dst (align_corners) or scale·(dst + 0.5) − 0.5, in double (ATen's accumulate type).
 * - bilinear: src clamped at 0; taps floor(src) and floor(src)+1 (the upper one clamped to in−1);
 *   λ1 = float(src − floor(src)), λ0 = 1 − λ1 in float32. in = out copies the axis.
 * - bicubic (A = −0.75): taps floor(src)−1 … floor(src)+2, each clamped to [0, in−1];
 *   t = float(src − floor(src)); the cubic-convolution polynomials are evaluated in float32 with
 *   fused multiply-adds, as the x86-64 build of torch does. No in = out shortcut (with a scale
 *   factor ≠ 1 it resamples even then).
 *
 * Measured against torch 1.13 by pushing one-hot inputs through F.interpolate: bilinear weights
 * are bit-identical, bicubic weights within 1 float32 ulp (test/graph/torch-parity).
 */
import { graphError } from './tensor';

export type InterpMode = 'bilinear' | 'bicubic';

export interface InterpAxisOptions {
  mode: InterpMode;
  alignCorners?: boolean;
  /** torch 1.13 `scale_factor` semantics for this axis: samples with 1/scaleFactor. */
  scaleFactor?: number;
}

const f32 = Math.fround;
const CUBIC_A = -0.75;

/** a·b + c rounded once to float32 (a·b of two float32 values is exact in double). */
const fma32 = (a: number, b: number, c: number): number => f32(a * b + c);

function cubic1(x: number): number {
  // ((A + 2)·x − (A + 3))·x·x + 1
  return fma32(f32(fma32(CUBIC_A + 2, x, -(CUBIC_A + 3)) * x), x, 1);
}

function cubic2(x: number): number {
  // ((A·x − 5A)·x + 8A)·x − 4A
  return fma32(fma32(fma32(CUBIC_A, x, -5 * CUBIC_A), x, 8 * CUBIC_A), x, -4 * CUBIC_A);
}

/** Output size torch derives from a scale factor: floor(in · scaleFactor) (in double). */
export function scaledSize(inSize: number, scaleFactor: number): number {
  return Math.floor(inSize * scaleFactor);
}

/** Whether the matrix for these sizes is the identity (the axis can be skipped). */
export function isIdentity(inSize: number, outSize: number, opts: InterpAxisOptions): boolean {
  return inSize === outSize && (opts.mode === 'bilinear' || opts.alignCorners === true || opts.scaleFactor === undefined);
}

/**
 * Row-major [outSize, inSize] interpolation matrix M with out = M · in along one axis.
 * Entries are float32 values (stored in a Float64Array so float64 graphs use them as is).
 */
export function interpolationMatrix(inSize: number, outSize: number, opts: InterpAxisOptions): Float64Array {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw graphError('resize', `sizes ${inSize} → ${outSize} must be positive integers`);
  }
  if (opts.scaleFactor !== undefined && !(opts.scaleFactor > 0)) throw graphError('resize', `scale factor ${opts.scaleFactor} must be > 0`);
  const m = new Float64Array(outSize * inSize);
  if (isIdentity(inSize, outSize, opts)) {
    for (let i = 0; i < outSize; i++) m[i * inSize + i] = 1;
    return m;
  }
  const align = opts.alignCorners ?? false;
  let scale: number;
  if (align) scale = outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0;
  else scale = opts.scaleFactor !== undefined ? f32(1 / opts.scaleFactor) : f32(inSize / outSize);
  const cubic = opts.mode === 'bicubic';
  const put = (o: number, i: number, w: number): void => {
    m[o * inSize + i] = f32(m[o * inSize + i] + w);
  };
  for (let o = 0; o < outSize; o++) {
    const src = align ? scale * o : scale * (o + 0.5) - 0.5;
    if (cubic) {
      const i0 = Math.floor(src);
      const t = f32(src - i0);
      const w = [cubic2(f32(t + 1)), cubic1(t), cubic1(f32(1 - t)), cubic2(f32(f32(1 - t) + 1))];
      for (let j = 0; j < 4; j++) put(o, Math.min(Math.max(i0 - 1 + j, 0), inSize - 1), w[j]);
    } else {
      const s0 = Math.max(src, 0);
      const i0 = Math.trunc(s0);
      const l1 = f32(Math.min(Math.max(s0 - i0, 0), 1));
      put(o, i0, f32(1 - l1));
      put(o, i0 < inSize - 1 ? i0 + 1 : i0, l1);
    }
  }
  return m;
}
