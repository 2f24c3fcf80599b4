/** What a metrics report is made of (input of writeReport). */
import type { SubsetCurves } from './subsetEvaluator';
import type { MetricSet } from './types';

/** standard: train and test on one dataset; cross-domain: train on A, test on B; zero-shot: an unseen sequence. */
export type ReportKind = 'standard' | 'cross-domain' | 'zero-shot';

export interface ModelResult {
  /** e.g. 'AnyAD', 'INP-Former baseline', 'w/o alignment loss'. */
  name: string;
  /** Keyed by column label: the subset labels 'F' … 'F+T1+T2', or e.g. 'T1ce' in zero-shot runs. */
  perSubset: Record<string, MetricSet>;
}

export interface SplitSummary {
  /** e.g. 'train', 'test'. */
  name: string;
  cases: number;
  slices: number;
  normal: number;
  anomalous: number;
}

export interface DataSummary {
  /** Dataset name or workspace folder. */
  dataset?: string;
  /** How slices were chosen, e.g. 'axial 80–120, every 5th'. */
  sliceRule?: string;
  splits: SplitSummary[];
}

/** Where the encoder weights came from. A random-init encoder is flagged loudly in the report. */
export type EncoderProvenance =
  { kind: 'pretrained'; name: string; file?: string; sha256?: string } | { kind: 'random-init'; name: string; seed: number };

export interface ReportInput {
  title: string;
  kind: ReportKind;
  /** Required for 'cross-domain': the training and the test domain. */
  trainedOn?: string;
  testedOn?: string;
  /** Required for 'zero-shot': the sequence never seen in training, e.g. 'T1ce'. */
  unseenSequence?: string;
  /** One table block per model, in this order (the first is the main one). */
  models: ModelResult[];
  /** Column order; default: the 7 subsets present (paper order), then any other labels. */
  columns?: string[];
  dataSummary: DataSummary;
  /** The run's configuration, shown as a JSON block. */
  config: unknown;
  encoder: EncoderProvenance;
  /** Seconds per phase, e.g. { 'feature cache': 12.5, train: 840, evaluation: 95 }. */
  timing: Record<string, number>;
  /** ROC/PR curves per column of one model (default: the first model) for the figures. */
  curves?: { model?: string; perSubset: Record<string, SubsetCurves> };
  /** ISO time stamp shown in the report (default: now). */
  generatedAt?: string;
  /** Free remarks, shown as a list. */
  notes?: string[];
  /** How the intervals in the models' MetricSet.ci were drawn, for the interval tables' caption. */
  bootstrap?: { samples: number; seed: number };
}

export interface WrittenReport {
  markdownPath: string;
  jsonPath: string;
  /** Every file written, markdown and JSON included. */
  files: string[];
}
