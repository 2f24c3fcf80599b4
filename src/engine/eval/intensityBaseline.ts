/**
 * A non-learned intensity baseline: the reference row every report carries next to the model
 * (DESIGN.md, evaluation protocol), scored on exactly the slices the model is scored on.
 * Lesions in brain MRI are mostly hyperintense (FLAIR, T2) or hypointense (T1) relative to
 * the brain, so "how far from the slice's typical brain intensity" is the natural floor a
 * learned detector has to beat.
 *
 * Input: the model's full-modality input x, shape [3, C, C], channels [FLAIR, T1, T2],
 * ImageNet-normalised per channel (study/preprocess.ts), and a modality subset 1..7 (its
 * channels are the available ones). Definition:
 *
 *   v_c = x_c · std_c + mean_c      (undo the ImageNet normalisation; IMAGENET_MEAN/STD)
 *   brain = pixels where any available v_c > 1e-4; none → score 0, map all zeros
 *   med_c = 50th percentile of v_c over the brain (numpy's default linear interpolation)
 *   sd_c  = population standard deviation of v_c over the brain
 *   z_c   = (v_c − med_c) / sd_c    (0 where sd_c = 0)
 *   map (C×C) = mean over available channels of z_c inside the brain; outside the brain
 *               the minimum of the map over the brain
 *   map (256²) = resizeNearest(map, C, C, 256, 256), the resize the ground-truth masks get
 *   score = mean over available channels of p99_c / med_c, p99_c = 99th percentile
 *           (linear) of v_c over the brain; a channel with med_c ≤ 1e-6 contributes 0
 *
 * All arithmetic is float64; only the map is stored as float32. Percentiles come from two
 * selections (O(n)), not a sort, with numpy's interpolation (bootstrap.ts numpyLerp on
 * the two order statistics). Checked against an independent numpy implementation
 * (scripts/fixtures/make_baseline_fixtures.py).
 */
import { EvalError } from '../errors';
import { selectKth } from '../util/select';
import { subsetById } from '../study/modalities';
import { IMAGENET_MEAN, IMAGENET_STD } from '../study/preprocess';
import { EVAL_MAP_SIZE } from './anomalyMap';
import { numpyLerp } from './bootstrap';
import { resizeNearest } from './resample';

/** A pixel belongs to the brain when an available channel's intensity exceeds this. */
export const BASELINE_BRAIN_THRESHOLD = 1e-4;
/** A channel whose brain median is at most this adds 0 to the score. */
export const BASELINE_MIN_MEDIAN = 1e-6;

export interface IntensityBaselineResult {
  /** Image score: mean over available channels of p99 / median of the brain intensities. */
  score: number;
  /** Pixel map on the EVAL_MAP_SIZE² evaluation grid (row-major). */
  map: Float32Array;
}

/** numpy.percentile(values, q), linear, by selection; reorders `values`. */
export function percentileBySelection(values: Float64Array, q: number): number {
  const n = values.length;
  const pos = (n - 1) * (q / 100);
  const k = Math.floor(pos);
  selectKth(values, k);
  let next = values[k];
  if (k + 1 < n) {
    next = values[k + 1];
    for (let i = k + 2; i < n; i++) if (values[i] < next) next = values[i];
  }
  // The two order statistics around pos, interpolated exactly as numpy does.
  return numpyLerp(values[k], next, pos - k);
}

export function intensityBaseline(image: Float32Array, imageSize: number, subsetId: number): IntensityBaselineResult {
  const C = imageSize;
  if (!(Number.isSafeInteger(C) && C > 0))
    throw new EvalError('eval/bad-size', `intensity baseline: image size must be a positive integer, got ${C}`);
  const n = C * C;
  if (image.length !== 3 * n)
    throw new EvalError('eval/size-mismatch', `intensity baseline: ${image.length} values for a [3, ${C}, ${C}] image`);
  const channels = subsetById(subsetId).keep.flatMap((k, c) => (k ? [c] : []));

  // Intensities of the available channels, ImageNet normalisation undone.
  const v = channels.map((c) => {
    const out = new Float64Array(n);
    const mean = IMAGENET_MEAN[c];
    const std = IMAGENET_STD[c];
    for (let i = 0; i < n; i++) out[i] = image[c * n + i] * std + mean;
    return out;
  });
  const brain = new Uint8Array(n);
  for (const vc of v) for (let i = 0; i < n; i++) if (vc[i] > BASELINE_BRAIN_THRESHOLD) brain[i] = 1;
  let count = 0;
  for (let i = 0; i < n; i++) count += brain[i];
  if (count === 0) return { score: 0, map: new Float32Array(EVAL_MAP_SIZE * EVAL_MAP_SIZE) };

  const sum = new Float64Array(n);
  let score = 0;
  for (const vc of v) {
    const inside = new Float64Array(count);
    let k = 0;
    let total = 0;
    for (let i = 0; i < n; i++)
      if (brain[i]) {
        inside[k++] = vc[i];
        total += vc[i];
      }
    const mu = total / count;
    let ss = 0;
    for (let j = 0; j < count; j++) ss += (inside[j] - mu) ** 2;
    const sd = Math.sqrt(ss / count);
    const med = percentileBySelection(inside, 50);
    const p99 = percentileBySelection(inside, 99);
    if (med > BASELINE_MIN_MEDIAN) score += p99 / med;
    if (sd > 0) for (let i = 0; i < n; i++) if (brain[i]) sum[i] += (vc[i] - med) / sd;
  }
  score /= channels.length;

  const map = new Float32Array(n);
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    if (!brain[i]) continue;
    const m = sum[i] / channels.length;
    map[i] = m;
    if (m < min) min = m;
  }
  const outside = Math.fround(min);
  for (let i = 0; i < n; i++) if (!brain[i]) map[i] = outside;
  return { score, map: resizeNearest(map, C, C, EVAL_MAP_SIZE, EVAL_MAP_SIZE) };
}
