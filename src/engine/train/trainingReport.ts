/**
 * The pieces of a training or evaluation report that depend on the slice dataset: the data
 * summary (each split with the counts actually scored), the rows (AnyAD first, then the
 * non-learned intensity baseline on the same slices) and the training chart.
 */
import type { WorkspaceConfig } from '../config';
import { type DataSummary, type ModelResult, lineChartSvg } from '../eval';
import type { SliceDataset } from '../study/dataset';
import type { EvaluationResult } from './evaluate';
import type { EvaluationRecord } from './runState';

/** The name of the reference row in every report. */
export const BASELINE_NAME = 'Intensity baseline (non-learned)';

/** How the slices were chosen and labelled, in words. */
export function sliceRule(config: WorkspaceConfig): string {
  const { slices, minLesionVoxels } = config.data;
  return `axial ${slices.start}–${slices.end}, every ${slices.step}; anomalous = at least ${minLesionVoxels} lesion voxel${minLesionVoxels === 1 ? '' : 's'} in the native-resolution label`;
}

/** The report's data summary for the given splits of `ds`. */
export function dataSummary(config: WorkspaceConfig, ds: SliceDataset, splits: ReadonlyArray<'train' | 'val' | 'test'>): DataSummary {
  const s = ds.summary;
  const of = {
    train: { name: 'train', cases: s.train.cases, slices: ds.train.length, normal: s.train.normal, anomalous: 0 },
    val: {
      name: 'validation (selection, thresholds)',
      cases: s.val.cases,
      slices: ds.val.length,
      normal: s.val.normal,
      anomalous: s.val.anomalous,
    },
    test: { name: 'test (scored once)', cases: s.test.cases, slices: ds.test.length, normal: s.test.normal, anomalous: s.test.anomalous },
  };
  return { dataset: config.data.root, sliceRule: sliceRule(config), splits: splits.map((k) => of[k]) };
}

/** The report rows: the model, then the baseline on exactly the same slices. */
export function reportModels(model: EvaluationResult, baseline: EvaluationResult): ModelResult[] {
  return [
    { name: 'AnyAD', perSubset: model.perSubset },
    { name: BASELINE_NAME, perSubset: baseline.perSubset },
  ];
}

/** The note that explains the baseline row and the intervals. */
export const PROTOCOL_NOTE = `${BASELINE_NAME}: per pixel, the z-scored intensity of the available sequences inside the brain; per image, their 99th percentile over the brain median — computed on the same slices, so a model that does not beat it has learnt nothing useful. Intervals are 95 % bootstrap intervals over cases (seeded).`;

/** Loss (scaled to its maximum) and mean validation metrics against training progress, on the unit square. */
export function trainingChart(losses: number[][], evaluations: EvaluationRecord[], steps: number): string {
  const sorted = [...losses].sort((a, b) => a[0] - b[0]);
  const maxLoss = Math.max(...sorted.map((l) => l[1]).filter(Number.isFinite), 1e-12);
  const evals = [...evaluations].sort((a, b) => a.step - b.step);
  const series = [
    {
      label: `loss ÷ ${maxLoss.toPrecision(3)}`,
      curve: { x: sorted.map((l) => (l[0] + 1) / steps), y: sorted.map((l) => l[1] / maxLoss) },
    },
    { label: 'mean image AP (validation)', curve: { x: evals.map((e) => e.step / steps), y: evals.map((e) => e.meanImageAP) } },
    { label: 'mean image AUROC (validation)', curve: { x: evals.map((e) => e.step / steps), y: evals.map((e) => e.meanImageAUROC) } },
    { label: 'mean pixel AUROC (validation)', curve: { x: evals.map((e) => e.step / steps), y: evals.map((e) => e.meanPixelAUROC) } },
  ].filter((s) => s.curve.y.every(Number.isFinite));
  return lineChartSvg({ title: 'Training', xLabel: `Training progress (step ÷ ${steps})`, yLabel: 'Value', series });
}
