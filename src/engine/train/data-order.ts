/**
 * Deterministic data order: which samples make up training batch `step`, from (seed, step)
 * alone, so a resumed run sees exactly the batches an uninterrupted run would have seen,
 * with no generator state to save.
 *
 * Samples are drawn as one endless stream of epochs; epoch e is a permutation of
 * [0, datasetSize) shuffled by a generator seeded with mixSeed(seed, e). Batch k holds the
 * stream positions [k·batchSize, (k+1)·batchSize): every sample is used once per epoch, and a
 * batch may straddle two epochs (so a dataset smaller than a batch still works).
 */
import { createRng, mixSeed } from '../util/random';

export interface DataOrder {
  seed: number;
  datasetSize: number;
  batchSize: number;
}

const permCache = new Map<string, Uint32Array>();

function epochPermutation(seed: number, epoch: number, n: number): Uint32Array {
  const key = `${seed}:${epoch}:${n}`;
  let perm = permCache.get(key);
  if (!perm) {
    const rng = createRng(mixSeed(seed, epoch));
    perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    if (permCache.size >= 4) permCache.delete(permCache.keys().next().value as string);
    permCache.set(key, perm);
  }
  return perm;
}

/** Sample indices of batch `step` (0-based). */
export function batchIndices(order: DataOrder, step: number): number[] {
  const { seed, datasetSize: n, batchSize: b } = order;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`datasetSize must be a positive integer, got ${n}`);
  if (!Number.isInteger(b) || b <= 0) throw new RangeError(`batchSize must be a positive integer, got ${b}`);
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  const out: number[] = [];
  for (let q = step * b; q < (step + 1) * b; q++) {
    out.push(epochPermutation(seed, Math.floor(q / n), n)[q % n]);
  }
  return out;
}

/** Which epoch (0-based, possibly fractional) training is in after `steps` batches. */
export function epochsDone(order: DataOrder, steps: number): number {
  return (steps * order.batchSize) / order.datasetSize;
}
