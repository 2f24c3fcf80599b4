import type { MetricSet } from '../engine/eval';
import type { RunTrainingResult } from '../engine/train/pipeline';

/** What a completed training run has written and scored. */
export interface CompletedRun {
  bestStep: number;
  metrics: Record<string, MetricSet>;
  baseline: Record<string, MetricSet>;
  bundleDir: string;
  reportPath: string;
}

/**
 * The outputs of a run that completed. The engine's result type leaves them optional because a
 * cancelled run has none; a completed run without them is a bug (exit 70), not a user error.
 */
export function completedRun(r: RunTrainingResult): CompletedRun {
  const { bestStep, metrics, baseline, bundleDir, reportPath } = r;
  if (!r.completed || bestStep === undefined || !metrics || !baseline || !bundleDir || !reportPath)
    throw new Error('a completed training run came back without its selected step, test metrics, bundle or report');
  return { bestStep, metrics, baseline, bundleDir, reportPath };
}
