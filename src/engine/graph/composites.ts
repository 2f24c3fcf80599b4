/**
 * Ops built from primitives: GELU (with a closed-form backward), cosine similarity and L2
 * normalisation with torch 1.13's exact formulas, dropout with an explicit mask, and
 * resize as separable interpolation matrices.
 */
import { type InterpAxisOptions, type InterpMode, interpolationMatrix, isIdentity, scaledSize } from './interp';
import {
  add, clip, div, erf, exp, matmul, mul, reduceSum, sqrt,
} from './ops';
import { type Tensor, fmt, graphError, isFloat } from './tensor';

/** Exact (erf) GELU: x · 0.5 · (1 + erf(x/√2)), as torch's default. Float32 only on ORT CPU (Erf). */
export function gelu(x: Tensor): Tensor {
  return x.graph.composite('gelu', [x], () => {
    const onePlusErf = add(erf(mul(x, Math.SQRT1_2)), 1);
    const y = mul(mul(x, 0.5), onePlusErf);
    return {
      outputs: [y],
      // d/dx = Φ(x) + x·φ(x), reusing 1 + erf(x/√2) from the forward pass.
      vjp: ([g]) => {
        const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
        return [mul(g!, add(mul(onePlusErf, 0.5), mul(x, pdf)))];
      },
    };
  })[0];
}

/**
 * Cosine similarity along `axis` (removed from the result), torch 1.13's formula:
 * Σ (x/√max(Σx², eps²)) · (y/√max(Σy², eps²)). a and b broadcast.
 * The clamp passes no gradient where a norm is below eps (torch clamps outside autograd).
 */
export function cosineSimilarity(a: Tensor, b: Tensor, axis = 1, eps = 1e-8): Tensor {
  const na = normalizeBySquaredNorm(a, axis, eps * eps);
  const nb = normalizeBySquaredNorm(b, axis, eps * eps);
  return reduceSum(mul(na, nb), [axis], false);
}

/**
 * F.normalize(x, p=2, dim=axis, eps): x / max(‖x‖₂, eps), computed as
 * x / √max(Σx², eps²) (equal whenever ‖x‖ ≥ eps, and finite-gradient at x = 0).
 */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  return normalizeBySquaredNorm(x, axis, eps * eps);
}

function normalizeBySquaredNorm(x: Tensor, axis: number, minSquared: number): Tensor {
  if (!isFloat(x.dtype)) throw graphError('normalize', `needs a float tensor, got ${x.dtype}`);
  return div(x, sqrt(clip(reduceSum(mul(x, x), [axis], true), minSquared)));
}

/** Inverted dropout with an explicit 0/1 mask (same dtype, broadcasting to x): x · mask / (1 − p). */
export function dropout(x: Tensor, mask: Tensor, p: number): Tensor {
  if (!(p >= 0 && p < 1)) throw graphError('dropout', `p must be in [0, 1), got ${p}`);
  return mul(mul(x, mask), 1 / (1 - p));
}

export interface ResizeOptions {
  mode: InterpMode;
  alignCorners?: boolean;
  /** Output [height, width] … */
  size?: readonly [number, number];
  /** … or torch 1.13 scale factors [sh, sw] (output floor(in·s), sampling with 1/s). */
  scaleFactor?: readonly [number, number];
}

/**
 * Resizes the last two axes (… × H × W) as PyTorch 1.13's F.interpolate (no antialias):
 * Rh · x · Rwᵀ with constant interpolation matrices (see interp.ts).
 */
export function resize(x: Tensor, opts: ResizeOptions): Tensor {
  if (x.rank < 2) throw graphError('resize', `needs a tensor with ≥ 2 axes, got ${fmt(x.shape)}`);
  if (!isFloat(x.dtype)) throw graphError('resize', `needs a float tensor, got ${x.dtype}`);
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw graphError('resize', 'give exactly one of size and scaleFactor');
  const [h, w] = x.shape.slice(-2);
  const outH = opts.size ? opts.size[0] : scaledSize(h, opts.scaleFactor![0]);
  const outW = opts.size ? opts.size[1] : scaledSize(w, opts.scaleFactor![1]);
  if (!(outH >= 1 && outW >= 1)) throw graphError('resize', `${fmt(x.shape)} → [${outH},${outW}]: output must be at least 1×1`);
  const g = x.graph;
  const axisOpts = (axis: 0 | 1): InterpAxisOptions => ({ mode: opts.mode, alignCorners: opts.alignCorners, scaleFactor: opts.scaleFactor?.[axis] });
  const matrix = (inSize: number, outSize: number, axis: 0 | 1): Float32Array | Float64Array => {
    const m = interpolationMatrix(inSize, outSize, axisOpts(axis));
    return x.dtype === 'float32' ? Float32Array.from(m) : m;
  };
  let y = x;
  if (!isIdentity(h, outH, axisOpts(0))) y = matmul(g.constant(matrix(h, outH, 0), [outH, h]), y);
  // x · Mwᵀ, with the transpose baked into the constant.
  if (!isIdentity(w, outW, axisOpts(1))) y = matmul(y, g.constant(transposeData(matrix(w, outW, 1), outW, w), [w, outW]));
  return y;
}

function transposeData(d: Float32Array | Float64Array, rows: number, cols: number): Float32Array | Float64Array {
  const out = d instanceof Float32Array ? new Float32Array(d.length) : new Float64Array(d.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c];
  return out;
}
