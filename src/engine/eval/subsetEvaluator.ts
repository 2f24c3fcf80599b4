/**
 * Evaluation of one modality subset: slices go in one at a time as (map, ground-truth mask),
 * image- and pixel-level metrics come out. A slice is anomalous when its mask has any
 * nonzero pixel (the paper's rule). Keys for every map pixel are held until finalize()
 * (8 bytes per pixel): evaluate subsets one after another, not all 7 at once.
 */
import { EvalError } from '../errors';
import { imageScore } from './anomalyMap';
import { binaryMetrics } from './binaryMetrics';
import { PixelMetricAccumulator } from './pixelAccumulator';
import type { BinaryMetrics, Curve, MetricSet, PixelMetrics } from './types';

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
}

export interface SubsetResult {
  metrics: MetricSet;
  image: BinaryMetrics;
  pixel: PixelMetrics;
}

export class SubsetEvaluator {
  private readonly scores: number[] = [];
  private readonly labels: number[] = [];
  private readonly pixels: PixelMetricAccumulator;
  private readonly label: string;

  constructor(private readonly options: SubsetEvaluatorOptions) {
    this.label = options.label ?? 'subset';
    const size = options.mapSize;
    if (!(Number.isSafeInteger(size) && size > 0)) throw new EvalError('eval/bad-size', `${this.label}: mapSize must be a positive integer, got ${size}`);
    this.pixels = new PixelMetricAccumulator({
      expectedPixels: options.expectedSlices !== undefined ? options.expectedSlices * size * size : undefined,
      curvePoints: options.curvePoints,
      what: `pixel scores of ${this.label}`,
    });
  }

  /**
   * One slice: its evaluation map (mapSize², row-major), its mask on the same grid (nonzero =
   * anomalous; null = normal slice) and optionally its image score (default: top-1 % mean).
   */
  addSlice(map: Float32Array, mask: Uint8Array | null, score?: number, name?: string): void {
    const size = this.options.mapSize;
    this.pixels.add(map, mask, size, size, name);
    const s = score ?? imageScore(map, this.options.topRatio);
    if (!Number.isFinite(s)) throw new EvalError('eval/non-finite-score', `${this.label}, slice ${name ?? this.scores.length}: image score is ${s}`);
    this.scores.push(s);
    this.labels.push(mask !== null && mask.some((v) => v !== 0) ? 1 : 0);
  }

  finalize(): SubsetResult {
    const image = binaryMetrics(this.scores, this.labels, { curvePoints: this.options.curvePoints, what: `image scores of ${this.label}` });
    const pixel = this.pixels.finalize();
    return { metrics: toMetricSet(image, pixel), image, pixel };
  }
}

/** The report cells of one subset, with the reasons for any n/a. */
export function toMetricSet(image: BinaryMetrics, pixel: PixelMetrics): MetricSet {
  const notes: string[] = [];
  for (const [level, m] of [['image', image], ['pixel', pixel]] as const) {
    for (const [metric, reason] of Object.entries(m.undefinedReasons)) notes.push(`${level} ${metric === 'f1Max' ? 'F1' : metric.toUpperCase()}: ${reason}`);
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
