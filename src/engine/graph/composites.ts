/**
 * Ops built from primitives: GELU (with a closed-form backward), cosine similarity and L2
 * normalisation with torch 1.13's exact formulas, dropout with an explicit mask, and
 * resize as separable interpolation matrices.
 */
import { type InterpAxisOptions, type InterpMode, interpolationMatrix, isIdentity, scaledSize } from './interp';
import { add, clip, div, erf, exp, matmul, mul, reduceMean, reduceSum, sqrt, sub } from './ops';
import { type Tensor, attr, firstOutputGradient, fmt, graphError, isFloat } from './tensor';

/**
 * LayerNorm over the last axis: (x − mean)/√(var + eps) · w + b, with w and b of shape [D].
 * float32: one ONNX LayerNormalization node, whose Mean/InvStdDev outputs feed the
 * closed-form backward. float64 (onnxruntime has no double kernel with double statistics):
 * the same formula from primitives, as a composite with the same backward.
 */
export function layerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const d = x.shape[x.rank - 1];
  if (!isFloat(x.dtype) || x.rank < 1) throw graphError('layerNorm', `needs a float tensor with ≥ 1 axis, got ${x.dtype}${fmt(x.shape)}`);
  if (w.rank !== 1 || b.rank !== 1 || w.shape[0] !== d || b.shape[0] !== d) {
    throw graphError('layerNorm', `x ${fmt(x.shape)}, w ${fmt(w.shape)}, b ${fmt(b.shape)}: w and b must be [${d}]`);
  }
  if (w.dtype !== x.dtype || b.dtype !== x.dtype) throw graphError('layerNorm', `dtypes differ: ${x.dtype}, ${w.dtype}, ${b.dtype}`);
  if (!(eps > 0)) throw graphError('layerNorm', `eps must be > 0, got ${eps}`);
  if (x.dtype === 'float32') {
    const stats = [...x.shape.slice(0, -1), 1];
    return x.graph.addNode(
      'LayerNormalization',
      [x, w, b],
      [
        { shape: x.shape, dtype: x.dtype },
        { shape: stats, dtype: x.dtype },
        { shape: stats, dtype: x.dtype },
      ],
      { axis: attr.int(-1), epsilon: attr.float(eps), stash_type: attr.int(1) },
    )[0];
  }
  return x.graph.composite('layerNorm', [x, w, b], () => {
    const xc = sub(x, reduceMean(x, [-1], true));
    const invStd = div(1, sqrt(add(reduceMean(mul(xc, xc), [-1], true), eps)));
    const xhat = mul(xc, invStd);
    return {
      outputs: [add(mul(xhat, w), b)],
      vjp: (gs, needs) => layerNormBackward(firstOutputGradient('layerNorm', gs), w, xhat, invStd, needs),
    };
  })[0];
}

/**
 * Closed-form LayerNorm backward from the normalised input x̂ and 1/σ (shape [..., 1]):
 * dx = (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·w; dw = Σ g·x̂; db = Σ g.
 */
export function layerNormBackward(g: Tensor, w: Tensor, xhat: Tensor, invStd: Tensor, needs: readonly boolean[]): Array<Tensor | null> {
  const lead = xhat.shape.slice(0, -1).map((_, i) => i);
  const sumLead = (t: Tensor): Tensor => (lead.length ? reduceSum(t, lead, false) : t);
  const gxhat = mul(g, w);
  return [
    needs[0] ? mul(sub(sub(gxhat, reduceMean(gxhat, [-1], true)), mul(xhat, reduceMean(mul(gxhat, xhat), [-1], true))), invStd) : null,
    needs[1] ? sumLead(mul(g, xhat)) : null,
    needs[2] ? sumLead(g) : null,
  ];
}

/** Exact (erf) GELU: x · 0.5 · (1 + erf(x/√2)), as torch's default. Float32 only on ORT CPU (Erf). */
export function gelu(x: Tensor): Tensor {
  return x.graph.composite('gelu', [x], () => {
    // (x·0.5)·(1 + erf(x/√2)) is the op order onnxruntime's GeluFusion recognises, so the
    // forward runs one Gelu kernel instead of five elementwise passes.
    const forwardPhi = (): Tensor => add(erf(div(x, Math.SQRT2)), 1);
    // The backward keeps only x from the forward: 1 + erf is rebuilt from it, once, by whichever
    // of the vjp and the recomputation below comes first (the recomputation: the next Linear's
    // rule runs first). A training session turns onnxruntime's common-subexpression pass off
    // (runtime.ts LEAN_MEMORY_OPTIMIZERS_OFF), which would merge the copy back into the
    // forward's and keep that 4·D-wide value alive through the whole forward.
    let onePlusErf: Tensor | undefined;
    let cdf: Tensor | undefined;
    let slope: Tensor | undefined;
    const cdfOf = (): Tensor => (cdf ??= mul((onePlusErf ??= forwardPhi()), 0.5));
    // d/dx = Φ(x) + x·φ(x)
    const slopeOf = (): Tensor => (slope ??= add(cdfOf(), mul(mul(x, exp(mul(mul(x, x), -0.5))), 1 / Math.sqrt(2 * Math.PI))));
    return {
      outputs: [mul(mul(x, 0.5), forwardPhi())],
      vjp: (gs) => [mul(firstOutputGradient('gelu', gs), slopeOf())],
      // The output (4·D wide in an MLP) is read again only by the next Linear's weight
      // gradient: rebuild it there from x rather than keep it from the forward. x·Φ(x) is
      // (x·0.5)·(1 + erf) bit for bit (scaling by 0.5 is exact above the subnormals); against
      // onnxruntime's fused Gelu kernel it differs by rounding only. The slope is built here too,
      // before the upstream gradient exists, so Φ is freed before it arrives (one 4·D-wide
      // temporary fewer at the start of the backward).
      recompute: [
        () => {
          slopeOf();
          return mul(x, cdfOf());
        },
      ],
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
  const [h, w] = x.shape.slice(-2);
  let outH: number, outW: number;
  if (opts.size && !opts.scaleFactor) [outH, outW] = opts.size;
  else if (opts.scaleFactor && !opts.size) [outH, outW] = [scaledSize(h, opts.scaleFactor[0]), scaledSize(w, opts.scaleFactor[1])];
  else throw graphError('resize', 'give exactly one of size and scaleFactor');
  if (!(outH >= 1 && outW >= 1)) throw graphError('resize', `${fmt(x.shape)} → [${outH},${outW}]: output must be at least 1×1`);
  const g = x.graph;
  const axisOpts = (axis: 0 | 1): InterpAxisOptions => ({
    mode: opts.mode,
    alignCorners: opts.alignCorners,
    scaleFactor: opts.scaleFactor?.[axis],
  });
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
