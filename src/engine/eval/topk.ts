/** Image score = mean of the top fraction of map pixels, found by selection (no full sort). */
import { EvalError } from '../errors';
import { selectKth } from '../util/select';

/** Rearranges `a` so that a[0..k) hold its k largest values (in no particular order). */
export function selectLargest(a: Float32Array, k: number): void {
  if (k <= 0 || k >= a.length) return;
  selectKth(a, k - 1, 'descending');
}

/** The reference's top-k count: Python int(n·ratio), at least 1 (the reference would average 0 values → NaN). */
export function topKCount(pixels: number, ratio: number): number {
  return Math.max(1, Math.trunc(pixels * ratio));
}

/**
 * Mean of the k = int(n·ratio) largest values of `map` (the reference image score with
 * ratio 0.01: 655 of 256² pixels). The mean is taken in float64 and rounded to float32.
 * `map` is not modified.
 */
export function topKMean(map: Float32Array, ratio = 0.01): number {
  if (map.length === 0) throw new EvalError('eval/empty-map', 'cannot score an empty anomaly map');
  if (!(ratio > 0 && ratio <= 1)) throw new EvalError('eval/bad-option', `top-k ratio must be in (0, 1], got ${ratio}`);
  for (let i = 0; i < map.length; i++) {
    if (!Number.isFinite(map[i])) throw new EvalError('eval/non-finite-score', `anomaly map value ${i} is ${map[i]}; maps must be finite`);
  }
  const k = topKCount(map.length, ratio);
  const work = Float32Array.from(map);
  selectLargest(work, k);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += work[i];
  return Math.fround(sum / k);
}
