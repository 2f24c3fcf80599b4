/**
 * Threshold metrics of a small in-memory score set (image level: one score per slice).
 * Scores are doubles and sorted by an index sort; large pixel sets go through
 * PixelMetricAccumulator instead, which shares the same ThresholdSweep.
 */
import { EvalError } from '../errors';
import { ThresholdSweep } from './thresholdSweep';
import type { BinaryMetrics } from './types';

export interface BinaryMetricsOptions {
  /** Most points kept per plotted curve (default 512). */
  curvePoints?: number;
  /** Names the score set in error messages, e.g. 'image scores of subset F+T1'. */
  what?: string;
}

/** AUROC, AP, F1-max and curves of `scores` against 0/1 (or boolean) `labels`. */
export function binaryMetrics(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  options: BinaryMetricsOptions = {},
): BinaryMetrics {
  const what = options.what ?? 'scores';
  const n = scores.length;
  if (labels.length !== n) {
    throw new EvalError('eval/length-mismatch', `${what}: ${n} scores but ${labels.length} labels`);
  }
  let positives = 0;
  const isPos = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (!Number.isFinite(s)) {
      throw new EvalError('eval/non-finite-score', `${what}: score ${i} is ${s}; every score must be a finite number`);
    }
    const l = labels[i];
    if (l !== 0 && l !== 1 && l !== true && l !== false) {
      throw new EvalError('eval/bad-label', `${what}: label ${i} is ${String(l)}; labels must be 0/1 or booleans`);
    }
    if (l === 1 || l === true) {
      isPos[i] = 1;
      positives++;
    }
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[b] - scores[a]);

  const sweep = new ThresholdSweep(positives, n - positives, options.curvePoints);
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n;) {
    const t = scores[order[k]];
    // A tie block (all scores equal to t) moves as one step.
    while (k < n && scores[order[k]] === t) {
      if (isPos[order[k]]) tp++;
      else fp++;
      k++;
    }
    sweep.step(t, tp, fp);
  }
  return sweep.result();
}
