/**
 * 95 % bootstrap intervals of AUROC and AP, resampled by case (the protocol in DESIGN.md:
 * slices of one case are not independent, so a case is drawn with all its slices or not at
 * all). Each resample draws `units` units with replacement (seeded: util/random.ts); a unit
 * drawn w times counts w times, exactly as if its slices were duplicated. The interval is
 * the 2.5th and 97.5th percentile (numpy's default linear interpolation) of the resampled
 * values; resamples where a metric is undefined (one class only) are left out, and the
 * interval is null when the full-sample value is undefined or no resample defines it.
 *
 * Image level: exact per resample. The slices are sorted by score once; a resample only
 * reweights them (AUROC by the trapezoid = Mann–Whitney with ties counted half, AP as
 * scikit-learn's step-wise sum, tie blocks moving as one step, as binaryMetrics does).
 *
 * Pixel level: millions of pixels per subset make an exact sweep per resample too slow, so
 * each resample works on binned counts (PixelMetricAccumulator.finalizeBinned): the sorted
 * order is cut into ≤ `bins` runs of whole tie blocks, and per case and bin the anomalous
 * and normal pixels are counted. A resample's AUROC and AP are the exact values of its
 * count-weighted bins with every bin treated as one tie block. That differs from the exact
 * value only through the order inside bins; for the full sample the difference is bounded
 * by (binBounds below)
 *   AUROC: Σ_b P_b·N_b / (2·P·N)            (pairs inside a bin count ½ instead of 0..1)
 *   AP:    Σ_b P_b·(hi_b − lo_b) / P          (a step's precision inside bin b lies in
 *          [lo_b, hi_b] = [(TP₀+1)/(TP₀+1+FP₀+N_b), (TP₀+P_b)/(TP₀+P_b+FP₀)])
 * and the interval is shifted by (exact − binned) of the full sample, so it sits where the
 * exact point estimate does; what remains is how much the binning error varies between
 * resamples (≤ 2 × the bound above, in practice far less). Pixel intervals are clamped to
 * [0, 1] after the shift.
 *
 * Measured (bench/bootstrap-bench.ts, synthetic maps with a constant outside-brain block):
 * - 134 slices × 256² in 15 cases, 2151 bins: full-sample |exact − binned| AUROC 7.5e-5
 *   (bound 2.0e-4), AP 2.4e-4 (bound 8.4e-4); 1000 resamples of both levels cost
 *   0.05–0.15 s (medians of 5 runs on a shared, loaded 2-core CPU). The cost grows with
 *   units × bins: with 134 single-slice units (no caseId; bins capped to ≈ 1000) it was
 *   0.5–1.9 s on the same machine.
 * - 134 slices × 64² in 15 cases, same draws, interval endpoints binned+shifted vs exact per
 *   resample: max |Δ| 1.7e-4 (AUROC) and 1.3e-4 (AP) with 266 bins; 4e-7 and 2.9e-5 with
 *   1099 bins; 4e-5 and 5e-6 with 3926 bins — far below the intervals' widths (≈ 0.016
 *   and ≈ 0.065 there) and below the 3 decimals reports print.
 */
import { createRng } from '../util/random';
import type { BinnedPixelCounts } from './pixelAccumulator';

export type Interval = [number, number] | null;

export interface BootstrapOptions {
  /** Resamples (1000 by default); 0 turns the bootstrap off. */
  samples: number;
  seed: number;
  /** Most rank bins of the pixel bootstrap (SubsetEvaluator picks it when absent). */
  bins?: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = Object.freeze({ samples: 1000, seed: 0 });

/** AUROC and AP of one weighted score set, NaN where undefined. */
export interface AurocAp {
  auroc: number;
  ap: number;
}

/**
 * AUROC and AP of tie blocks in descending score order: block b holds pos[b] anomalous and
 * neg[b] normal (weighted) samples. NaN when a class is missing (AP: no positives).
 */
export function blockAurocAp(pos: ArrayLike<number>, neg: ArrayLike<number>, blocks = pos.length): AurocAp {
  let tp = 0;
  let fp = 0;
  let area2 = 0;
  let apSum = 0;
  for (let b = 0; b < blocks; b++) {
    const p = pos[b];
    const n = neg[b];
    area2 += n * (2 * tp + p);
    tp += p;
    fp += n;
    if (p > 0) apSum += (p * tp) / (tp + fp);
  }
  return { auroc: tp > 0 && fp > 0 ? area2 / (2 * tp * fp) : NaN, ap: tp > 0 ? apSum / tp : NaN };
}

/** The full-sample bounds of |exact − binned| for AUROC and AP (see the header). */
export function binBounds(pos: ArrayLike<number>, neg: ArrayLike<number>, blocks = pos.length): AurocAp {
  let P = 0;
  let N = 0;
  for (let b = 0; b < blocks; b++) {
    P += pos[b];
    N += neg[b];
  }
  let pairs = 0;
  let apRange = 0;
  let tp = 0;
  let fp = 0;
  for (let b = 0; b < blocks; b++) {
    const p = pos[b];
    const n = neg[b];
    pairs += p * n;
    if (p > 0) apRange += p * ((tp + p) / (tp + p + fp) - (tp + 1) / (tp + 1 + fp + n));
    tp += p;
    fp += n;
  }
  return { auroc: P > 0 && N > 0 ? pairs / (2 * P * N) : NaN, ap: P > 0 ? apRange / P : NaN };
}

/**
 * numpy.percentile(sorted, q) of ascending values with the default 'linear' method, as
 * numpy ≥ 1.22 computes it (virtual index (n − 1)·q/100; its _lerp interpolates from the
 * upper neighbour when the fraction is ≥ ½), so results match to the last bit.
 */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * (q / 100);
  const lo = Math.min(n - 1, Math.max(0, Math.floor(pos)));
  const hi = Math.min(n - 1, lo + 1);
  return numpyLerp(sorted[lo], sorted[hi], pos - lo);
}

/** numpy's _lerp: a + (b − a)·t, computed from b when t ≥ ½ (so t = 1 gives b exactly). */
export function numpyLerp(a: number, b: number, t: number): number {
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** numpy.percentile(values, q), linear; values are sorted in place. */
export function percentile(values: Float64Array, q: number): number {
  values.sort();
  return percentileSorted(values, q);
}

/** 2.5th–97.5th percentile of the finite values, or null when there are none. */
export function interval95(values: ArrayLike<number>): Interval {
  const finite = Float64Array.from(Array.prototype.filter.call(values, (v: number) => Number.isFinite(v)) as number[]);
  if (finite.length === 0) return null;
  return [percentile(finite, 2.5), percentile(finite, 97.5)];
}

/** The image-level input: one score, label and unit per slice. */
export interface ImageSamples {
  scores: ArrayLike<number>;
  labels: ArrayLike<number>;
  units: ArrayLike<number>;
}

/** The resampled metric values of both levels (NaN = undefined in that resample). */
export interface BootstrapDraws {
  image: { auroc: Float64Array; ap: Float64Array };
  pixel?: { auroc: Float64Array; ap: Float64Array };
  /** Binned full-sample pixel values and the bound on their distance to the exact ones. */
  pixelBinned?: { bins: number; binned: AurocAp; bound: AurocAp };
}

/** Image level: slices sorted by score (descending) into tie blocks, once; block 0 holds the highest score. */
function tieBlocks(scores: ArrayLike<number>): { sliceBlock: Int32Array; blocks: number } {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const sliceBlock = new Int32Array(n);
  let blocks = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && scores[order[k]] !== scores[order[k - 1]]) blocks++;
    sliceBlock[order[k]] = blocks;
  }
  if (n > 0) blocks++;
  return { sliceBlock, blocks };
}

/** Every unit's binned pixel counts summed (the full sample). */
function pooledCounts(pixel: BinnedPixelCounts, units: number): { sumPos: Float64Array; sumNeg: Float64Array } {
  const K = pixel.bins;
  const sumPos = new Float64Array(K);
  const sumNeg = new Float64Array(K);
  for (let u = 0; u < units; u++) {
    for (let b = 0; b < K; b++) {
      sumPos[b] += pixel.pos[u * K + b];
      sumNeg[b] += pixel.neg[u * K + b];
    }
  }
  return { sumPos, sumNeg };
}

/**
 * Draws `samples` case resamples (the same draws for image and pixel level) and returns the
 * metric values of each.
 */
export function caseBootstrap(
  units: number,
  image: ImageSamples,
  pixel: BinnedPixelCounts | undefined,
  options: BootstrapOptions,
): BootstrapDraws {
  const S = options.samples;
  const rng = createRng(options.seed);
  const w = new Float64Array(units);
  const active = new Int32Array(units);

  const n = image.scores.length;
  const { sliceBlock, blocks } = tieBlocks(image.scores);
  const ipos = new Float64Array(blocks);
  const ineg = new Float64Array(blocks);

  const K = pixel ? pixel.bins : 0;
  const ppos = new Float64Array(K);
  const pneg = new Float64Array(K);

  const out: BootstrapDraws = { image: { auroc: new Float64Array(S), ap: new Float64Array(S) } };
  if (pixel) {
    if (pixel.units !== units) throw new RangeError(`caseBootstrap: pixel counts have ${pixel.units} units, expected ${units}`);
    out.pixel = { auroc: new Float64Array(S), ap: new Float64Array(S) };
    const { sumPos, sumNeg } = pooledCounts(pixel, units);
    out.pixelBinned = { bins: K, binned: blockAurocAp(sumPos, sumNeg), bound: binBounds(sumPos, sumNeg) };
  }

  for (let s = 0; s < S; s++) {
    w.fill(0);
    for (let i = 0; i < units; i++) w[rng.int(units)]++;
    let na = 0;
    for (let u = 0; u < units; u++) if (w[u] > 0) active[na++] = u;

    ipos.fill(0);
    ineg.fill(0);
    for (let i = 0; i < n; i++) {
      const wi = w[image.units[i]];
      if (wi === 0) continue;
      if (image.labels[i]) ipos[sliceBlock[i]] += wi;
      else ineg[sliceBlock[i]] += wi;
    }
    const im = blockAurocAp(ipos, ineg, blocks);
    out.image.auroc[s] = im.auroc;
    out.image.ap[s] = im.ap;

    if (pixel && out.pixel) {
      ppos.fill(0);
      pneg.fill(0);
      const { pos, neg } = pixel;
      for (let a = 0; a < na; a++) {
        const u = active[a];
        const wu = w[u];
        const off = u * K;
        for (let b = 0; b < K; b++) {
          ppos[b] += wu * pos[off + b];
          pneg[b] += wu * neg[off + b];
        }
      }
      const px = blockAurocAp(ppos, pneg, K);
      out.pixel.auroc[s] = px.auroc;
      out.pixel.ap[s] = px.ap;
    }
  }
  return out;
}

/**
 * The reported pixel interval: the percentile interval of the binned resamples shifted by
 * (exact − binned) of the full sample, clamped to [0, 1]; null when exact is undefined.
 */
export function shiftedInterval(draws: ArrayLike<number>, exact: number | null, binnedFull: number): Interval {
  if (exact === null || !Number.isFinite(binnedFull)) return null;
  const iv = interval95(draws);
  if (!iv) return null;
  const d = exact - binnedFull;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  return [clamp(iv[0] + d), clamp(iv[1] + d)];
}
