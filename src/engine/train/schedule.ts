/**
 * Learning-rate schedule of the reference code (`WarmCosineScheduler` in Dinomaly/INP-Former/
 * AnyAD utils.py): a linear warm-up from `startWarmupValue` to `baseValue` over `warmupIters`
 * (numpy.linspace, both ends included), then a half cosine from `baseValue` towards
 * `finalValue` over the remaining iterations, and `finalValue` from `totalIters` on.
 *
 * The reference steps the scheduler after each optimiser step, and torch's scheduler
 * constructor already sets schedule[0]: the optimiser step with 0-based index i uses
 * schedule[i] (so the very first step uses the warm-up start value, 0 by default).
 */
export interface WarmCosineConfig {
  baseValue: number;
  finalValue: number;
  totalIters: number;
  warmupIters: number;
  startWarmupValue: number;
}

/** The reference's defaults for AnyAD training (lr 1e-3 → 1e-4, 100 warm-up steps). */
export function referenceLrSchedule(totalIters: number): WarmCosineConfig {
  return { baseValue: 1e-3, finalValue: 1e-4, totalIters, warmupIters: 100, startWarmupValue: 0 };
}

function checkConfig(c: WarmCosineConfig): void {
  if (!Number.isInteger(c.totalIters) || c.totalIters < 0)
    throw new RangeError(`totalIters must be a non-negative integer, got ${c.totalIters}`);
  // warmupIters > totalIters is allowed, as in the reference: a short run then ends inside the
  // warm-up ramp (and uses finalValue from totalIters on).
  if (!Number.isInteger(c.warmupIters) || c.warmupIters < 0)
    throw new RangeError(`warmupIters must be a non-negative integer, got ${c.warmupIters}`);
}

/** Learning rate of the optimiser step with 0-based index `iteration`, in float64 as numpy computes it. */
export function warmCosineLr(c: WarmCosineConfig, iteration: number): number {
  checkConfig(c);
  if (!Number.isInteger(iteration) || iteration < 0) throw new RangeError(`iteration must be a non-negative integer, got ${iteration}`);
  if (iteration >= c.totalIters) return c.finalValue;
  if (iteration < c.warmupIters) {
    const num = c.warmupIters;
    if (num > 1 && iteration === num - 1) return c.baseValue; // linspace stores the endpoint exactly
    const step = num > 1 ? (c.baseValue - c.startWarmupValue) / (num - 1) : 0;
    return iteration * step + c.startWarmupValue;
  }
  const n = c.totalIters - c.warmupIters;
  const i = iteration - c.warmupIters;
  return c.finalValue + 0.5 * (c.baseValue - c.finalValue) * (1 + Math.cos((Math.PI * i) / n));
}
