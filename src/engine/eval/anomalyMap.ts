/**
 * Anomaly maps and image scores exactly as the public AnyAD reference computes them
 * (docs/reference-arithmetic.md#anomaly-map and #image-score), on the CPU, for one image:
 *
 *   per scale 1 − cos(En_s, De_s) [s×s]  →  bilinear align_corners=True to PX×PX  →  mean over
 *   scales (upsample first)  = amap_px  →  bilinear align_corners=False to 256×256  →  5×5
 *   Gaussian σ=4, zero padding  = the evaluation map  →  mean of the top 1 % (655 px) = score.
 *
 * Training-time evaluation and detection both use these functions.
 */
import { EvalError } from '../errors';
import { convolveZeroPad, gaussianKernel } from './gaussian';
import { resizeBilinear } from './resample';
import { topKMean } from './topk';

/** The reference evaluates maps on a 256×256 grid (resize_mask=256). */
export const EVAL_MAP_SIZE = 256;
/** The reference image score averages the top 1 % of map pixels (max_ratio=0.01). */
export const SCORE_TOP_RATIO = 0.01;

let referenceKernel: Float32Array | undefined;
/** get_gaussian_kernel(kernel_size=5, sigma=4), built once. */
export function referenceGaussianKernel(): Float32Array {
  referenceKernel ??= gaussianKernel(5, 4);
  return referenceKernel;
}

/**
 * 1 − cosine similarity over channels at each position (torch 1.13 F.cosine_similarity,
 * eps 1e-8: Σ (x/√max(Σx², eps²))·(y/√max(Σy², eps²))). `en`, `de` are [channels, positions]
 * channel-major (a [D, s, s] tensor); computed in float64, rounded to float32.
 */
export function cosineDistanceMap(en: Float32Array, de: Float32Array, channels: number, positions: number): Float32Array {
  const n = channels * positions;
  if (en.length !== n || de.length !== n) {
    throw new EvalError(
      'eval/size-mismatch',
      `cosine map: expected [${channels}, ${positions}] features, got ${en.length} and ${de.length} values`,
    );
  }
  const eps2 = 1e-16;
  const out = new Float32Array(positions);
  for (let p = 0; p < positions; p++) {
    let xx = 0,
      yy = 0;
    for (let c = 0; c < channels; c++) {
      const x = en[c * positions + p],
        y = de[c * positions + p];
      xx += x * x;
      yy += y * y;
    }
    const nx = Math.sqrt(Math.max(xx, eps2));
    const ny = Math.sqrt(Math.max(yy, eps2));
    let cos = 0;
    for (let c = 0; c < channels; c++) cos += (en[c * positions + p] / nx) * (de[c * positions + p] / ny);
    out[p] = 1 - cos;
  }
  return out;
}

/**
 * cal_anomaly_maps' fusion: each per-scale map [s×s] is upsampled to PX×PX (bilinear,
 * align_corners=True), then the scales are averaged (upsample first, then mean).
 */
export function fuseScaleMaps(scaleMaps: Float32Array[], s: number, px: number): Float32Array {
  if (scaleMaps.length === 0) throw new EvalError('eval/no-scales', 'anomaly map fusion needs at least one scale');
  const sum = new Float64Array(px * px);
  for (const m of scaleMaps) {
    const up = resizeBilinear(m, s, s, px, px, true);
    for (let i = 0; i < up.length; i++) sum[i] += up[i];
  }
  const out = new Float32Array(px * px);
  for (let i = 0; i < out.length; i++) out[i] = sum[i] / scaleMaps.length;
  return out;
}

/** amap_px from encoder/decoder feature pairs ([D, s, s] each, one pair per scale). */
export function anomalyMapFromFeatures(
  pairs: ReadonlyArray<{ en: Float32Array; de: Float32Array }>,
  channels: number,
  s: number,
  px: number,
): Float32Array {
  return fuseScaleMaps(
    pairs.map((p) => cosineDistanceMap(p.en, p.de, channels, s * s)),
    s,
    px,
  );
}

/** The reference evaluation map: amap_px (PX×PX) → 256×256 bilinear (align_corners=False) → Gaussian. */
export function evaluationMap(amapPx: Float32Array, px: number, size = EVAL_MAP_SIZE): Float32Array {
  const resized = resizeBilinear(amapPx, px, px, size, size, false);
  return convolveZeroPad(resized, size, size, referenceGaussianKernel());
}

/** The variant without the 256 resize: the Gaussian applied at PX. */
export function smoothedMapAtPx(amapPx: Float32Array, px: number): Float32Array {
  return convolveZeroPad(amapPx, px, px, referenceGaussianKernel());
}

/** Image score of a (smoothed) map: mean of its top int(n·0.01) pixels. */
export function imageScore(map: Float32Array, ratio = SCORE_TOP_RATIO): number {
  return topKMean(map, ratio);
}
