/** Image score = mean of the top fraction of map pixels, found by selection (no full sort). */
import { EvalError } from '../errors';

/**
 * Rearranges `a` so that a[0..k) hold its k largest values (in no particular order).
 * Quickselect with median-of-three pivots and Hoare partitioning (equal values split evenly,
 * so flat maps stay O(n)); after too many rounds it sorts what is left (O(n log n) bound).
 */
export function selectLargest(a: Float32Array, k: number): void {
  if (k <= 0 || k >= a.length) return;
  const target = k - 1;
  let lo = 0;
  let hi = a.length - 1;
  let budget = 2 * Math.ceil(Math.log2(a.length)) + 8;
  while (hi > lo) {
    if (budget-- === 0) {
      a.subarray(lo, hi + 1)
        .sort()
        .reverse();
      return;
    }
    const mid = lo + ((hi - lo) >> 1);
    const p0 = a[lo],
      p1 = a[mid],
      p2 = a[hi];
    const pivot = Math.max(Math.min(p0, p1), Math.min(Math.max(p0, p1), p2));
    let i = lo;
    let j = hi;
    // Descending partition: [lo, j] ≥ pivot ≥ [i, hi].
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return; // target sits among values equal to the pivot
  }
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
