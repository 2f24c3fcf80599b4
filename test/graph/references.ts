/**
 * float64 JavaScript forwards of the ops whose onnxruntime CPU kernels are float32-only
 * (Erf, Conv, the fused LayerNormalization). The gradient check differentiates these in
 * float64, so a float32 graph's gradient is held to a tolerance far under 1 %.
 */

/** A forward in float64: the case's inputs (in order) → its output, flattened row-major. */
export type Reference = (xs: Float64Array[]) => Float64Array;

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf by its Maclaurin series. For |x| ≤ 4 the largest term is below e¹⁶ ≈ 9·10⁶, so the
 * cancellation costs at most 7 of double's 16 digits: ~1e-9 absolute, ample for a
 * finite difference with step 1e-4 of seeded normal inputs.
 */
export function erf64(x: number): number {
  if (Math.abs(x) > 4) throw new Error(`erf64: |x| = ${Math.abs(x)} > 4 is outside the series' accurate range`);
  let term = x;
  let total = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const next = term / (2 * n + 1);
    total += next;
    if (Math.abs(next) < 1e-17 * Math.abs(total)) break;
  }
  return TWO_OVER_SQRT_PI * total;
}

export const erfReference: Reference = ([x]) => x.map(erf64);

/** The exact (erf) GELU: x·Φ(x). */
export const geluReference: Reference = ([x]) => x.map((v) => 0.5 * v * (1 + erf64(v / Math.SQRT2)));

export const expReference: Reference = ([x]) => x.map(Math.exp);

/** LayerNormalization over the last axis (biased variance, eps inside the root), then ·w + b. */
export function layerNormReference(eps: number): Reference {
  return ([x, w, b]) => {
    const d = w.length;
    const out = new Float64Array(x.length);
    for (let row = 0; row < x.length; row += d) {
      const xs = x.subarray(row, row + d);
      const mean = xs.reduce((a, v) => a + v, 0) / d;
      const variance = xs.reduce((a, v) => a + (v - mean) ** 2, 0) / d;
      const invStd = 1 / Math.sqrt(variance + eps);
      for (let j = 0; j < d; j++) out[row + j] = (xs[j] - mean) * invStd * w[j] + b[j];
    }
    return out;
  };
}

export interface ConvReferenceShape {
  /** [N, C, H, W] */
  x: readonly number[];
  /** [O, C, kh, kw] */
  w: readonly number[];
  strides: readonly [number, number];
  /** ONNX order: top, left, bottom, right. */
  pads: readonly [number, number, number, number];
}

/** 2-D cross-correlation with zero padding and an optional bias (ONNX Conv, group 1). */
export function convReference(shape: ConvReferenceShape): Reference {
  const [n, c, h, wd] = shape.x;
  const [o, , kh, kw] = shape.w;
  const [sh, sw] = shape.strides;
  const [pt, pl, pb, pr] = shape.pads;
  const ho = Math.floor((h + pt + pb - kh) / sh) + 1;
  const wo = Math.floor((wd + pl + pr - kw) / sw) + 1;
  return ([x, w, bias]) => {
    const out = new Float64Array(n * o * ho * wo);
    let k = 0;
    for (let b = 0; b < n; b++)
      for (let oc = 0; oc < o; oc++)
        for (let i = 0; i < ho; i++)
          for (let j = 0; j < wo; j++) {
            let acc = bias ? bias[oc] : 0;
            for (let ic = 0; ic < c; ic++)
              for (let u = 0; u < kh; u++)
                for (let v = 0; v < kw; v++) {
                  const y = i * sh + u - pt;
                  const z = j * sw + v - pl;
                  if (y < 0 || y >= h || z < 0 || z >= wd) continue;
                  acc += x[((b * c + ic) * h + y) * wd + z] * w[((oc * c + ic) * kh + u) * kw + v];
                }
            out[k++] = acc;
          }
    return out;
  };
}
