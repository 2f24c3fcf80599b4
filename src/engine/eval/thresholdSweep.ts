/**
 * The one sweep every threshold metric shares. A caller walks its scores from the highest
 * down and, after each block of equal scores (a tie block moves as one step, as in
 * scikit-learn), reports the cumulative true/false positive counts. From those steps:
 *
 * - AUROC: trapezoid over the ROC points. With integer counts the area is
 *   Σ ΔFP·(TP + TP_prev) / (2·P·N), summed exactly in doubles up to 2^53, i.e. the
 *   Mann–Whitney statistic with ties counted half, rounded once.
 * - AP: Σ (R_n − R_{n−1})·P_n, scikit-learn's `average_precision_score`.
 * - F1-max: max of 2·TP / (TP + FP + P) (= 2PR/(P+R)) over the steps; among equal maxima
 *   the lowest threshold wins, as np.argmax over scikit-learn's ascending thresholds.
 * - downsampled ROC/PR curves for plotting.
 */
import type { BinaryMetrics, Curve, MetricName } from './types';

/**
 * Keeps a curve small enough to plot: a point is kept when it moved at least `delta` in x
 * or y from the last kept point; whenever more than `maxPoints` are kept, every other point
 * is dropped and delta doubles. The first and the last point are always kept.
 */
export class CurveSampler {
  private readonly xs: number[] = [];
  private readonly ys: number[] = [];
  private delta: number;
  private pendingX = NaN;
  private pendingY = NaN;

  constructor(private readonly maxPoints = 512) {
    this.delta = 1 / maxPoints;
  }

  push(x: number, y: number): void {
    const n = this.xs.length;
    if (n > 0 && Math.abs(x - this.xs[n - 1]) < this.delta && Math.abs(y - this.ys[n - 1]) < this.delta) {
      this.pendingX = x;
      this.pendingY = y;
      return;
    }
    this.keep(x, y);
  }

  /** The sampled curve, with the last point pushed included. */
  finish(): Curve {
    if (!Number.isNaN(this.pendingX)) this.keep(this.pendingX, this.pendingY);
    return { x: this.xs.slice(), y: this.ys.slice() };
  }

  private keep(x: number, y: number): void {
    this.xs.push(x);
    this.ys.push(y);
    this.pendingX = NaN;
    if (this.xs.length > this.maxPoints) {
      let w = 0;
      for (let r = 0; r < this.xs.length; r += 2) {
        this.xs[w] = this.xs[r];
        this.ys[w] = this.ys[r];
        w++;
      }
      // Keep the newest point: it is the reference for the next distance test.
      if ((this.xs.length & 1) === 0) {
        this.xs[w] = x;
        this.ys[w] = y;
        w++;
      }
      this.xs.length = w;
      this.ys.length = w;
      this.delta *= 2;
    }
  }
}

export class ThresholdSweep {
  private tpPrev = 0;
  private fpPrev = 0;
  /** 2 × (area under ROC) × P × N, an integer while it stays below 2^53. */
  private area2 = 0;
  /** Σ ΔTP · precision; AP = apSum / P. */
  private apSum = 0;
  private bestF1 = -1;
  private bestThreshold = NaN;
  private steps = 0;
  private readonly rocCurve: CurveSampler;
  private readonly prCurve: CurveSampler;

  constructor(
    readonly positives: number,
    readonly negatives: number,
    curvePoints = 512,
  ) {
    this.rocCurve = new CurveSampler(curvePoints);
    this.prCurve = new CurveSampler(curvePoints);
    this.rocCurve.push(0, 0);
    this.prCurve.push(0, 1);
  }

  /** After every score ≥ threshold is counted: tp, fp are cumulative counts. */
  step(threshold: number, tp: number, fp: number): void {
    const P = this.positives;
    const N = this.negatives;
    this.area2 += (fp - this.fpPrev) * (tp + this.tpPrev);
    if (P > 0) {
      const precision = tp / (tp + fp);
      this.apSum += (tp - this.tpPrev) * precision;
      const f1 = (2 * tp) / (tp + fp + P);
      if (f1 >= this.bestF1) {
        this.bestF1 = f1;
        this.bestThreshold = threshold;
      }
      this.prCurve.push(tp / P, precision);
      if (N > 0) this.rocCurve.push(fp / N, tp / P);
    }
    this.tpPrev = tp;
    this.fpPrev = fp;
    this.steps++;
  }

  result(): BinaryMetrics {
    const P = this.positives;
    const N = this.negatives;
    const reasons: Partial<Record<MetricName, string>> = {};
    const noPos = P === 0 ? 'no anomalous samples (one class only)' : undefined;
    const noNeg = N === 0 ? 'no normal samples (one class only)' : undefined;
    if (noPos || noNeg) reasons.auroc = noPos ?? noNeg;
    if (noPos) {
      reasons.ap = noPos;
      reasons.f1Max = noPos;
    }
    const rocDefined = P > 0 && N > 0;
    return {
      auroc: rocDefined ? this.area2 / (2 * P * N) : null,
      ap: P > 0 ? this.apSum / P : null,
      f1Max: P > 0 ? this.bestF1 : null,
      f1Threshold: P > 0 ? this.bestThreshold : null,
      positives: P,
      negatives: N,
      distinctThresholds: this.steps,
      undefinedReasons: reasons,
      roc: rocDefined ? this.rocCurve.finish() : { x: [], y: [] },
      pr: P > 0 ? this.prCurve.finish() : { x: [], y: [] },
    };
  }
}

/**
 * Integrates PRO over FPR from the points of a descending-threshold sweep (FPR never
 * decreases), starting at (0, 0): trapezoids between consecutive points, the segment that
 * crosses `limit` cut there by linear interpolation, vertical steps adding no area.
 */
export class ProIntegrator {
  private x0 = 0;
  private y0 = 0;
  private area = 0;
  private reached = false;

  constructor(readonly limit = 0.3) {}

  push(fpr: number, pro: number): void {
    if (this.reached) return;
    if (fpr > this.x0) {
      const xe = Math.min(fpr, this.limit);
      const ye = this.y0 + ((pro - this.y0) * (xe - this.x0)) / (fpr - this.x0);
      this.area += ((xe - this.x0) * (this.y0 + ye)) / 2;
      if (fpr >= this.limit) this.reached = true;
    }
    this.x0 = fpr;
    this.y0 = pro;
  }

  /** Normalised area (in [0, 1] up to rounding); the sweep must have reached FPR = 1. */
  value(): number {
    return this.area / this.limit;
  }
}
