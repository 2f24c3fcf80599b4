/** Result types of the evaluation layer (metrics of one score set, one modality subset). */

/** A plotted curve, downsampled: x and y have the same length. */
export interface Curve {
  x: number[];
  y: number[];
}

/** Names of the metrics a value can be missing for. */
export type MetricName = 'auroc' | 'ap' | 'f1Max' | 'aupro';

/**
 * Threshold metrics of one binary score set (prediction = score ≥ threshold).
 * A metric that has no defined value for this input is null, and `undefinedReasons` says why
 * (e.g. AUROC with one class only); numbers are never NaN.
 */
export interface BinaryMetrics {
  auroc: number | null;
  /** Step-wise average precision, Σ (R_n − R_{n−1}) P_n over distinct thresholds (scikit-learn's). */
  ap: number | null;
  /** Best F1 over the distinct thresholds; ties go to the lowest threshold (scikit-learn's argmax order). */
  f1Max: number | null;
  /** The threshold t (score ≥ t is anomalous) at which f1Max is reached. */
  f1Threshold: number | null;
  positives: number;
  negatives: number;
  /** How many distinct score values (= ROC/PR points) the sweep saw. */
  distinctThresholds: number;
  undefinedReasons: Partial<Record<MetricName, string>>;
  /** ROC (x = FPR, y = TPR) from (0,0), and PR (x = recall, y = precision) from (0,1); empty when undefined. */
  roc: Curve;
  pr: Curve;
}

/** Pixel-level metrics: the binary ones plus AUPRO over connected ground-truth regions. */
export interface PixelMetrics extends BinaryMetrics {
  /** ∫ PRO d(FPR) over FPR ∈ [0, limit], divided by limit (0.3 by default): in [0, 1]. */
  aupro: number | null;
  /** 8-connected anomalous regions, counted per image. */
  regions: number;
  images: number;
  /** The FPR limit AUPRO integrates to. */
  proFprLimit: number;
}

/** The paper's metric cells for one model and one modality subset. null = "n/a". */
export interface MetricSet {
  image: { auroc: number | null; ap: number | null; f1: number | null };
  pixel: { auroc: number | null; ap: number | null; f1: number | null; aupro: number | null };
  /** Why some value is missing, in words (shown under the table). */
  notes?: string[];
  /**
   * 95 % case-bootstrap percentile intervals (eval/bootstrap.ts); null where the metric is
   * undefined. Absent in results made before intervals existed or with the bootstrap off.
   */
  ci?: {
    image: { auroc: [number, number] | null; ap: [number, number] | null };
    pixel: { auroc: [number, number] | null; ap: [number, number] | null };
  };
  /** What the numbers rest on: resampling units (cases), slices scored, by image label. */
  counts?: { cases: number; slices: number; normal: number; anomalous: number };
}
