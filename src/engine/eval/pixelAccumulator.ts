/**
 * Pixel-level metrics over a whole test set (e.g. 700 maps × 256² ≈ 46 M pixels), fed one
 * image at a time, sorted once, swept once.
 *
 * Storage: one float64 sort key per pixel (8 bytes; 40 M pixels = 320 MB). A float32 score
 * widened to float64 has its low 29 mantissa bits zero, so the key carries a tag there: an
 * anomalous pixel's ground-truth region id (1..2^28−1, numbered over all images), or for a
 * normal pixel 2^28 + the index of its image (so a case bootstrap can tell whose pixel it
 * is). The tag only perturbs a key within its own float32 value's ulp, so a native numeric
 * sort of the keys orders them by score with every tie block contiguous, and no index array
 * or second buffer is needed (V8 sorts a Float64Array in place).
 *
 * The sweep walks the keys from the highest score down. Per tie block it counts true and
 * false positives and, for AUPRO, adds 1/(|r|·R) to the PRO sum for each pixel of region r
 * (R = number of regions over all images): after the block, the sum is exactly the mean over
 * regions of the fraction of each region's pixels with score ≥ t. FPR = FP / (normal
 * pixels). (FPR, PRO) points feed a trapezoid integral over FPR ∈ [0, limit], cut at the
 * limit by linear interpolation and divided by the limit — exact over every distinct score,
 * without a fixed threshold grid and without anomalib's old renormalisation.
 *
 * finalizeBinned() runs the same sweep and also counts, per resampling unit (e.g. case) and
 * per rank bin of the sorted order, the anomalous and normal pixels: the input of the
 * pixel-level case bootstrap (bootstrap.ts). A bin is a run of whole tie blocks; a new bin
 * starts at a tie block once the pixels counted since the last bin start include
 * ≥ P/(bins/2) anomalous or ≥ N/(bins/2) normal ones, so no bin holds more than about
 * 2/bins of either class (plus the tie block that crossed the line).
 */
import { EvalError, required } from '../errors';
import { labelRegions8 } from './regions';
import { ProIntegrator, ThresholdSweep } from './thresholdSweep';
import type { MetricName, PixelMetrics } from './types';

const TAG_MASK = 0x1fffffff; // low 29 bits of the key's low word: the tag
const SCORE_MASK = ~TAG_MASK; // the rest of the low word belongs to the score
const NORMAL_TAG = 0x10000000; // tag bit 28: a normal pixel; the bits below: its image index
const MAX_REGIONS = NORMAL_TAG - 1;
const MAX_IMAGES = NORMAL_TAG;
const MIN_BLOCK = 1 << 20;

export interface PixelAccumulatorOptions {
  /**
   * Total pixels that will be added, when known (slices × map pixels). With it the keys live
   * in one buffer from the start; without it, blocks grow by ~25 % and are joined once at
   * finalize (peak ≈ 2.25 × 8 bytes per pixel instead of 8).
   */
  expectedPixels?: number;
  /** Most points kept per plotted curve (default 512). */
  curvePoints?: number;
  /** FPR limit of AUPRO (default 0.3). */
  proFprLimit?: number;
  /** Names the set in error messages, e.g. 'pixel scores of subset T1'. */
  what?: string;
}

/** Which resampling unit each image belongs to, and how finely to bin the sorted order. */
export interface PixelBinning {
  /** imageUnit[i] = unit (0..units−1) of the i-th added image. */
  imageUnit: ArrayLike<number>;
  units: number;
  /** Most bins (≥ 2); bins are opened as described in the header, so fewer may be used. */
  bins: number;
}

/**
 * Pixel counts per unit and rank bin: pos[u · bins + b] anomalous and neg[u · bins + b]
 * normal pixels of unit u in bin b; bin 0 holds the highest scores.
 */
export interface BinnedPixelCounts {
  units: number;
  /** Bins used (row length of pos and neg). */
  bins: number;
  pos: Float64Array;
  neg: Float64Array;
}

interface KeyBlock {
  keys: Float64Array;
  /** The same bytes as 32-bit words: [2i] = low word, [2i + 1] = high word (little-endian). */
  words: Int32Array;
  used: number;
}

function newBlock(size: number): KeyBlock {
  const keys = new Float64Array(size);
  return { keys, words: new Int32Array(keys.buffer), used: 0 };
}

export class PixelMetricAccumulator {
  private blocks: KeyBlock[] = [];
  private capacity = 0;
  private regionSizes: number[] = [];
  /** Image index of each region (regionImage[r − 1] for region id r). */
  private regionImage: number[] = [];
  private positives = 0;
  private pixels = 0;
  private images = 0;
  private finalized = false;
  private labels = new Int32Array(0);
  private stack = new Int32Array(0);
  private readonly what: string;

  constructor(private readonly options: PixelAccumulatorOptions = {}) {
    this.what = options.what ?? 'pixel scores';
    const first = options.expectedPixels;
    if (first !== undefined && !(Number.isSafeInteger(first) && first >= 0)) {
      throw new EvalError('eval/bad-option', `${this.what}: expectedPixels must be a non-negative integer, got ${first}`);
    }
    if (first) this.grow(first);
  }

  /** Pixels added so far. */
  get pixelCount(): number {
    return this.pixels;
  }

  /**
   * Adds one image: `scores` row-major (height rows of width), `mask` the same size with
   * nonzero = anomalous, or null for an image without anomaly. Scores must be finite.
   */
  add(scores: Float32Array, mask: Uint8Array | null, width: number, height: number, imageName?: string): void {
    const name = `${this.what}, image ${imageName ?? this.images}`;
    if (this.finalized) throw new EvalError('eval/finalized', `${name}: add() after finalize()`);
    const n = width * height;
    if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
      throw new EvalError('eval/bad-size', `${name}: size ${width}×${height} is not a positive integer size`);
    }
    if (scores.length !== n) throw new EvalError('eval/size-mismatch', `${name}: ${scores.length} scores for a ${width}×${height} image`);
    if (mask && mask.length !== n)
      throw new EvalError('eval/size-mismatch', `${name}: mask has ${mask.length} pixels for a ${width}×${height} image`);
    if (this.images >= MAX_IMAGES) throw new EvalError('eval/too-many-images', `${name}: more than ${MAX_IMAGES} images in one evaluation`);
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (s - s !== 0) {
        throw new EvalError(
          'eval/non-finite-score',
          `${name}: pixel (x ${i % width}, y ${Math.floor(i / width)}) has score ${s}; scores must be finite`,
        );
      }
    }
    const regionOffset = this.regionSizes.length;
    let labels: Int32Array | null = null;
    if (mask) {
      if (this.labels.length < n) {
        this.labels = new Int32Array(n);
        this.stack = new Int32Array(n);
      }
      const found = labelRegions8(mask, width, height, this.labels, this.stack);
      if (regionOffset + found.count > MAX_REGIONS) {
        throw new EvalError('eval/too-many-regions', `${name}: more than ${MAX_REGIONS} ground-truth regions in one evaluation`);
      }
      for (const s of found.sizes) {
        this.regionSizes.push(s);
        this.regionImage.push(this.images);
        this.positives += s;
      }
      labels = this.labels;
    }

    const normalTag = NORMAL_TAG | this.images;
    let i = 0;
    while (i < n) {
      let block = this.blocks[this.blocks.length - 1];
      if (!block || block.used === block.keys.length) {
        this.grow(Math.max(MIN_BLOCK, Math.ceil(this.capacity / 4), n - i));
        block = this.blocks[this.blocks.length - 1];
      }
      const { keys, words } = block;
      const end = Math.min(n, i + keys.length - block.used);
      let j = block.used;
      for (; i < end; i++, j++) {
        keys[j] = scores[i] + 0; // + 0 turns −0 into +0, so all zeros share one key pattern
        words[2 * j] |= labels !== null && labels[i] !== 0 ? regionOffset + labels[i] : normalTag;
      }
      block.used = j;
    }
    this.pixels += n;
    this.images++;
  }

  /** Sorts once, sweeps once; frees the keys. Call once, after the last add(). */
  finalize(): PixelMetrics {
    return this.sortAndSweep(undefined).metrics;
  }

  /**
   * finalize() that also returns the pixel counts per unit and rank bin (see the header);
   * the metrics are the same numbers finalize() gives.
   */
  finalizeBinned(binning: PixelBinning): { metrics: PixelMetrics; binned: BinnedPixelCounts } {
    const { units, bins, imageUnit } = binning;
    if (!(Number.isSafeInteger(units) && units > 0 && Number.isSafeInteger(bins) && bins >= 2)) {
      throw new EvalError('eval/bad-option', `${this.what}: binning needs units ≥ 1 and bins ≥ 2, got ${units} and ${bins}`);
    }
    if (imageUnit.length !== this.images) {
      throw new EvalError(
        'eval/bad-option',
        `${this.what}: binning names the unit of ${imageUnit.length} images, ${this.images} were added`,
      );
    }
    for (let i = 0; i < imageUnit.length; i++) {
      const u = imageUnit[i];
      if (!(Number.isInteger(u) && u >= 0 && u < units))
        throw new EvalError('eval/bad-option', `${this.what}: image ${i} has unit ${u}, outside 0..${units - 1}`);
    }
    const r = this.sortAndSweep(binning);
    return { metrics: r.metrics, binned: required(r.binned, 'the binned sweep') };
  }

  // eslint-disable-next-line max-lines-per-function -- one pass over every pixel's sorted score: the tie-group loops stay inline, without a call per score
  private sortAndSweep(binning: PixelBinning | undefined): { metrics: PixelMetrics; binned?: BinnedPixelCounts } {
    if (this.finalized) throw new EvalError('eval/finalized', `${this.what}: finalize() called twice`);
    this.finalized = true;
    const limit = this.options.proFprLimit ?? 0.3;
    const keys = this.joinBlocks();
    this.blocks = [];
    this.labels = new Int32Array(0);
    this.stack = new Int32Array(0);
    keys.sort();

    const P = this.positives;
    const N = this.pixels - P;
    const R = this.regionSizes.length;
    const proWeight = new Float64Array(R + 1);
    for (let r = 1; r <= R; r++) proWeight[r] = 1 / (this.regionSizes[r - 1] * R);
    const sweep = new ThresholdSweep(P, N, this.options.curvePoints);
    const pro = new ProIntegrator(limit);
    const withPro = R > 0 && N > 0;

    const { maxBins, units, regionUnit, imageUnit, pos, neg, posStep, negStep } = this.binningState(binning, P, N);
    let bin = -1;
    let binTp = 0;
    let binFp = 0;

    const words = new Int32Array(keys.buffer, keys.byteOffset, 2 * keys.length);
    const scratch = new Float64Array(1);
    const scratchWords = new Int32Array(scratch.buffer);
    let tp = 0;
    let fp = 0;
    let proSum = 0;
    for (let k = keys.length - 1; k >= 0;) {
      const hi = words[2 * k + 1];
      const lo = words[2 * k] & SCORE_MASK;
      if (binning) {
        if (bin < 0 || ((tp - binTp >= posStep || fp - binFp >= negStep) && bin < maxBins - 1)) {
          bin++;
          binTp = tp;
          binFp = fp;
        }
        do {
          const tag = words[2 * k] & TAG_MASK;
          if (tag & NORMAL_TAG) {
            fp++;
            neg[imageUnit[tag ^ NORMAL_TAG] * maxBins + bin]++;
          } else {
            tp++;
            proSum += proWeight[tag];
            pos[regionUnit[tag] * maxBins + bin]++;
          }
          k--;
        } while (k >= 0 && words[2 * k + 1] === hi && (words[2 * k] & SCORE_MASK) === lo);
      } else {
        do {
          const tag = words[2 * k] & TAG_MASK;
          if (tag & NORMAL_TAG) fp++;
          else {
            tp++;
            proSum += proWeight[tag];
          }
          k--;
        } while (k >= 0 && words[2 * k + 1] === hi && (words[2 * k] & SCORE_MASK) === lo);
      }
      scratchWords[0] = lo;
      scratchWords[1] = hi;
      sweep.step(scratch[0], tp, fp);
      if (withPro) pro.push(fp / N, proSum);
    }

    const metrics = this.metricsOf(sweep, withPro ? pro.value() : null, limit);
    if (!binning) return { metrics };
    const used = Math.max(1, bin + 1);
    // Rows shortened to the bins used (the row stride changes, so rows are copied down).
    const compact = (a: Float64Array): Float64Array => {
      if (used === maxBins) return a;
      const out = new Float64Array(units * used);
      for (let u = 0; u < units; u++) out.set(a.subarray(u * maxBins, u * maxBins + used), u * used);
      return out;
    };
    return { metrics, binned: { units, bins: used, pos: compact(pos), neg: compact(neg) } };
  }

  /** Binning state: the unit of every region and image, counts per (unit, bin), and the counts that close a bin. */
  private binningState(binning: PixelBinning | undefined, P: number, N: number) {
    const R = this.regionSizes.length;
    const maxBins = binning ? binning.bins : 0;
    const units = binning ? binning.units : 0;
    const regionUnit = new Int32Array(binning ? R + 1 : 0);
    const imageUnit = new Int32Array(binning ? this.images : 0);
    if (binning) {
      for (let i = 0; i < this.images; i++) imageUnit[i] = binning.imageUnit[i];
      for (let r = 1; r <= R; r++) regionUnit[r] = imageUnit[this.regionImage[r - 1]];
    }
    const pos = new Float64Array(units * maxBins);
    const neg = new Float64Array(units * maxBins);
    const posStep = Math.max(1, P / (maxBins / 2));
    const negStep = Math.max(1, N / (maxBins / 2));
    return { maxBins, units, regionUnit, imageUnit, pos, neg, posStep, negStep };
  }

  /** The sweep's metrics with AUPRO (null, with the reason, when there are no regions or no normal pixels). */
  private metricsOf(sweep: ThresholdSweep, aupro: number | null, limit: number): PixelMetrics {
    const R = this.regionSizes.length;
    const N = this.pixels - this.positives;
    const base = sweep.result();
    const reasons: Partial<Record<MetricName, string>> = { ...base.undefinedReasons };
    if (R === 0) reasons.aupro = 'no anomalous regions in the ground truth';
    else if (N === 0) reasons.aupro = 'no normal pixels';
    return { ...base, undefinedReasons: reasons, aupro, regions: R, images: this.images, proFprLimit: limit };
  }

  private grow(size: number): void {
    this.blocks.push(newBlock(size));
    this.capacity += size;
  }

  /** All keys in one contiguous array (no copy when they already are). */
  private joinBlocks(): Float64Array {
    const used = this.blocks.filter((b) => b.used > 0);
    if (used.length === 1) return used[0].keys.subarray(0, used[0].used);
    const all = new Float64Array(this.pixels);
    let off = 0;
    for (const b of used) {
      all.set(b.keys.subarray(0, b.used), off);
      off += b.used;
    }
    return all;
  }
}
