/**
 * Quickselect: puts the k-th value of an order in place without sorting the array. Hoare
 * partitioning with a median-of-three pivot (equal values split evenly, so flat maps stay
 * O(n)); after too many rounds it sorts what is left, which bounds the worst case at O(n log n).
 */
export type SelectOrder = 'ascending' | 'descending';

/**
 * Rearranges `a` so that a[k] holds the value at position k of `order`, everything before it
 * comes no later in that order and everything after it no earlier.
 */
export function selectKth(a: Float32Array | Float64Array, k: number, order: SelectOrder = 'ascending'): void {
  if (k < 0 || k >= a.length) return;
  const desc = order === 'descending';
  let lo = 0;
  let hi = a.length - 1;
  let budget = 2 * Math.ceil(Math.log2(a.length)) + 8;
  while (hi > lo) {
    if (budget-- === 0) {
      const rest = a.subarray(lo, hi + 1).sort();
      if (desc) rest.reverse();
      return;
    }
    const mid = lo + ((hi - lo) >> 1);
    const p0 = a[lo],
      p1 = a[mid],
      p2 = a[hi];
    const pivot = Math.max(Math.min(p0, p1), Math.min(Math.max(p0, p1), p2));
    let i = lo;
    let j = hi;
    // [lo, j] come no later than the pivot in `order`, [i, hi] no earlier.
    while (i <= j) {
      if (desc) {
        while (a[i] > pivot) i++;
        while (a[j] < pivot) j--;
      } else {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
      }
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return; // k sits among values equal to the pivot
  }
}
