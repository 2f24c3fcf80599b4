/**
 * Evaluation of one modality subset: slices go in one at a time as (map, ground-truth mask,
 * slice info), image- and pixel-level metrics come out. A slice's image label is
 * `info.anomalous` when given (the caller takes it from the native-resolution label, so a
 * lesion lost when the mask was resized still counts), else whether its mask has any
 * nonzero pixel (the paper's rule); pixel metrics always use the mask. Keys for every map
 * pixel are held until finalize() (8 bytes per pixel): evaluate subsets one after another,
 * not all 7 at once.
 *
 * finalize() also gives 95 % case-bootstrap intervals of image and pixel AUROC and AP
 * (bootstrap.ts; slices of one caseId are one resampling unit, a slice without caseId is its
 * own unit) and the counts the numbers rest on.
 */
import { EvalError, required } from '../errors';
import { imageScore } from './anomalyMap';
import { binaryMetrics } from './binaryMetrics';
import { caseBootstrap, DEFAULT_BOOTSTRAP, interval95, shiftedInterval, type AurocAp } from './bootstrap';
import { PixelMetricAccumulator } from './pixelAccumulator';
import type { BinaryMetrics, Curve, MetricSet, PixelMetrics } from './types';

/** What the caller knows about a slice besides its map and mask. */
export interface SliceInfo {
  /** Image score (default: mean of the top topRatio of the map). */
  score?: number;
  /** Image label (default: the mask has a nonzero pixel). */
  anomalous?: boolean;
  /** Resampling unit of the bootstrap; slices without one are each their own unit. */
  caseId?: string;
  /** Names the slice in error messages. */
  name?: string;
}

/**
 * Most rank bins of the pixel bootstrap (about half are used: see pixelAccumulator.ts), and
 * the cap on units × bins that bounds its time and memory (16 bytes per unit and bin).
 */
const PIXEL_BINS = 4096;
const MAX_UNIT_BINS = 1 << 18;
const MIN_BINS = 256;

export interface SubsetEvaluatorOptions {
  /** Side of the square maps and masks (256 for the reference evaluation grid). */
  mapSize: number;
  /** Slices that will be added, when known: the pixel keys then live in one buffer. */
  expectedSlices?: number;
  /** Fraction of top pixels averaged into an image score when none is given (0.01). */
  topRatio?: number;
  curvePoints?: number;
  /** Names the subset in error messages and notes, e.g. 'F+T1'. */
  label?: string;
  /**
   * Case bootstrap of the intervals (default 1000 resamples, seed 0); samples 0 = off. bins:
   * most rank bins of the pixel level (default 4096, fewer when there are many units).
   */
  bootstrap?: { samples: number; seed: number; bins?: number };
}

export interface SubsetResult {
  metrics: MetricSet;
  image: BinaryMetrics;
  pixel: PixelMetrics;
  /** Binned pixel values of the full sample, their bound and bin count (when bootstrapped). */
  pixelBinning?: { bins: number; binned: AurocAp; bound: AurocAp };
}

export class SubsetEvaluator {
  private readonly scores: number[] = [];
  private readonly labels: number[] = [];
  private readonly units: number[] = [];
  private readonly unitOfCase = new Map<string, number>();
  private unitCount = 0;
  private readonly pixels: PixelMetricAccumulator;
  private readonly label: string;

  constructor(private readonly options: SubsetEvaluatorOptions) {
    this.label = options.label ?? 'subset';
    const size = options.mapSize;
    if (!(Number.isSafeInteger(size) && size > 0))
      throw new EvalError('eval/bad-size', `${this.label}: mapSize must be a positive integer, got ${size}`);
    const b = options.bootstrap;
    if (b && !(Number.isSafeInteger(b.samples) && b.samples >= 0 && Number.isFinite(b.seed))) {
      throw new EvalError(
        'eval/bad-option',
        `${this.label}: bootstrap needs a whole number of samples ≥ 0 and a finite seed, got ${b.samples}, ${b.seed}`,
      );
    }
    this.pixels = new PixelMetricAccumulator({
      expectedPixels: options.expectedSlices !== undefined ? options.expectedSlices * size * size : undefined,
      curvePoints: options.curvePoints,
      what: `pixel scores of ${this.label}`,
    });
  }

  /**
   * One slice: its evaluation map (mapSize², row-major), its mask on the same grid (nonzero =
   * anomalous pixel; null = none) and what else is known about it (see SliceInfo).
   */
  addSlice(map: Float32Array, mask: Uint8Array | null, info: SliceInfo = {}): void {
    const size = this.options.mapSize;
    const name = info.name;
    const s = info.score ?? imageScore(map, this.options.topRatio);
    if (!Number.isFinite(s))
      throw new EvalError('eval/non-finite-score', `${this.label}, slice ${name ?? this.scores.length}: image score is ${s}`);
    this.pixels.add(map, mask, size, size, name);
    this.scores.push(s);
    this.labels.push((info.anomalous ?? (mask !== null && mask.some((v) => v !== 0))) ? 1 : 0);
    let unit = info.caseId === undefined ? undefined : this.unitOfCase.get(info.caseId);
    if (unit === undefined) {
      unit = this.unitCount++;
      if (info.caseId !== undefined) this.unitOfCase.set(info.caseId, unit);
    }
    this.units.push(unit);
  }

  finalize(): SubsetResult {
    const image = binaryMetrics(this.scores, this.labels, { curvePoints: this.options.curvePoints, what: `image scores of ${this.label}` });
    const boot = this.options.bootstrap ?? DEFAULT_BOOTSTRAP;
    const anomalous = this.labels.reduce((a, l) => a + l, 0);
    const counts = { cases: this.unitCount, slices: this.scores.length, normal: this.scores.length - anomalous, anomalous };
    if (boot.samples === 0 || this.unitCount === 0) {
      const pixel = this.pixels.finalize();
      return { metrics: { ...toMetricSet(image, pixel), counts }, image, pixel };
    }
    const bins = boot.bins ?? Math.max(MIN_BINS, Math.min(PIXEL_BINS, Math.floor(MAX_UNIT_BINS / this.unitCount)));
    const { metrics: pixel, binned } = this.pixels.finalizeBinned({ imageUnit: this.units, units: this.unitCount, bins });
    const draws = caseBootstrap(this.unitCount, { scores: this.scores, labels: this.labels, units: this.units }, binned, boot);
    const pb = required(draws.pixelBinned, 'the binned pixel bootstrap');
    const pixelDraws = required(draws.pixel, 'the pixel bootstrap');
    const ci = {
      image: {
        auroc: image.auroc === null ? null : interval95(draws.image.auroc),
        ap: image.ap === null ? null : interval95(draws.image.ap),
      },
      pixel: {
        auroc: shiftedInterval(pixelDraws.auroc, pixel.auroc, pb.binned.auroc),
        ap: shiftedInterval(pixelDraws.ap, pixel.ap, pb.binned.ap),
      },
    };
    return { metrics: { ...toMetricSet(image, pixel), ci, counts }, image, pixel, pixelBinning: pb };
  }
}

/** The report cells of one subset, with the reasons for any n/a. */
export function toMetricSet(image: BinaryMetrics, pixel: PixelMetrics): MetricSet {
  const notes: string[] = [];
  for (const [level, m] of [
    ['image', image],
    ['pixel', pixel],
  ] as const) {
    for (const [metric, reason] of Object.entries(m.undefinedReasons))
      notes.push(`${level} ${metric === 'f1Max' ? 'F1' : metric.toUpperCase()}: ${reason}`);
  }
  return {
    image: { auroc: image.auroc, ap: image.ap, f1: image.f1Max },
    pixel: { auroc: pixel.auroc, ap: pixel.ap, f1: pixel.f1Max, aupro: pixel.aupro },
    ...(notes.length ? { notes } : {}),
  };
}

/** The curves a report plots for one subset. */
export interface SubsetCurves {
  image?: { roc?: Curve; pr?: Curve };
  pixel?: { roc?: Curve; pr?: Curve };
}

export function curvesOf(result: SubsetResult): SubsetCurves {
  return { image: { roc: result.image.roc, pr: result.image.pr }, pixel: { roc: result.pixel.roc, pr: result.pixel.pr } };
}
