/**
 * Interpolation (resize) as separable matrices, with PyTorch 1.13 CPU arithmetic
 * (F.interpolate without antialias): the source coordinate, tap indices and weights are
 * computed in float32 exactly as ATen's UpSample kernels do, so a graph that multiplies by
 * these matrices reproduces torch up to float summation order. The gradient of a resize is
 * then just the transposed matrix.
 *
 * - bilinear: src = align_corners ? dst·(in−1)/(out−1) : max((dst+0.5)·scale − 0.5, 0);
 *   taps floor(src) and floor(src)+1 (the upper one clamped to in−1), weights 1−t, t.
 * - bicubic (A = −0.75): src = align_corners ? dst·(in−1)/(out−1) : (dst+0.5)·scale − 0.5
 *   (no clamp); taps floor(src)−1 … floor(src)+2 each clamped to [0, in−1].
 * - scale = in/out, or 1/scaleFactor when a scale factor is given (torch 1.13 passes
 *   `scale_factor` to the kernel unless recompute_scale_factor=True); out = floor(in·scaleFactor).
 * - bilinear with in = out copies the axis (torch's shortcut); bicubic has no shortcut
 *   (with a scale factor ≠ 1 it resamples even when in = out).
 *
 * Measured against torch 1.13 (test/graph/torch-parity): bilinear weights agree to float32
 * rounding; torch's float32 evaluation of the cubic polynomials differs from this one by up to
 * ~2e-6 per weight, so bicubic outputs agree to ~3e-6 of max|value| (torch's own float32 vs
 * float64 gap is of the same size).
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

function cubic1(x: number): number {
  // ((A + 2) * x - (A + 3)) * x * x + 1, each step in float32
  return f32(f32(f32(f32(f32(f32(CUBIC_A + 2) * x) - f32(CUBIC_A + 3)) * x) * x) + 1);
}

function cubic2(x: number): number {
  // ((A * x - 5 * A) * x + 8 * A) * x - 4 * A, each step in float32
  return f32(f32(f32(f32(f32(f32(CUBIC_A * x) - f32(5 * CUBIC_A)) * x) + f32(8 * CUBIC_A)) * x) - f32(4 * CUBIC_A));
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
  for (let o = 0; o < outSize; o++) {
    // The product is formed in double and rounded once, as ATen's (dst + 0.5) promotes to double.
    let src = align ? f32(scale * o) : f32(scale * (o + 0.5) - 0.5);
    if (cubic) {
      const i0 = Math.floor(src);
      const t = f32(src - i0);
      const w = [cubic2(f32(t + 1)), cubic1(t), cubic1(f32(1 - t)), cubic2(f32(f32(1 - t) + 1))];
      for (let j = 0; j < 4; j++) {
        const idx = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
        m[o * inSize + idx] += w[j];
      }
    } else {
      if (src < 0) src = 0;
      const i0 = Math.trunc(src);
      const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
      const l1 = Math.min(Math.max(f32(src - i0), 0), 1);
      const l0 = f32(1 - l1);
      m[o * inSize + i0] += l0;
      m[o * inSize + i1] += l1;
    }
  }
  return m;
}
