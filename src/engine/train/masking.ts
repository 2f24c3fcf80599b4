/**
 * Modality masking for training: which of the 7 subsets (ids 1..7, channel order
 * [FLAIR, T1, T2]) each training sample sees, and the masked input itself.
 *
 * The choice is a pure function of (seed, batch position), like the data order, so a resumed
 * run masks exactly as an uninterrupted one would, with no generator state to save:
 *   - 'sample' (default): every sample of every batch draws its own subset;
 *   - 'batch': one subset for a whole batch;
 *   - 'epoch': one subset per pass over the data (the reference's scheme). Epochs follow the
 *     data order's stream (batch k holds stream positions k·B … k·B+B−1, epoch = position / N),
 *     so a batch straddling two epochs can hold both epochs' subsets.
 * A masked input is the full-modality preprocessed image with the missing channels set to
 * exactly 0.0, which equals preprocessing with the subset (study/preprocess.ts step 7).
 */
import { ConfigError } from '../errors';
import { MODALITY_SUBSETS, subsetById } from '../study/modalities';
import { createRng, mixSeed } from '../util/random';
import type { DataOrder } from './data-order';

export type MaskingMode = 'sample' | 'batch' | 'epoch';
export const MASKING_MODES: readonly MaskingMode[] = ['sample', 'batch', 'epoch'];

export interface MaskingConfig {
  mode: MaskingMode;
  seed: number;
  /** Subset ids drawn from, uniformly (default all 7). */
  subsets: number[];
}

export const ALL_SUBSET_IDS: readonly number[] = MODALITY_SUBSETS.map((s) => s.id);

/** A full masking config from partial settings; throws ConfigError on a bad mode or subset id. */
export function maskingConfig(partial: Partial<MaskingConfig> = {}): MaskingConfig {
  const mode = partial.mode ?? 'sample';
  if (!MASKING_MODES.includes(mode))
    throw new ConfigError('config/masking', `masking mode must be one of ${MASKING_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  const subsets = [...(partial.subsets ?? ALL_SUBSET_IDS)];
  if (subsets.length === 0) throw new ConfigError('config/masking', 'masking needs at least one modality subset');
  for (const id of subsets) {
    if (!Number.isInteger(id) || id < 1 || id > 7)
      throw new ConfigError('config/masking', `modality subset ids are integers 1..7, got ${JSON.stringify(id)}`);
  }
  return { mode, seed: partial.seed ?? 0, subsets };
}

/** Domain tags keep the three modes' streams unrelated to each other and to the data order. */
const TAG = { sample: 0x5a301, batch: 0x5a302, epoch: 0x5a303 } as const;

function draw(cfg: MaskingConfig, ...key: number[]): number {
  return cfg.subsets[createRng(mixSeed(cfg.seed, ...key)).int(cfg.subsets.length)];
}

/** Subset id of the sample at position `index` (0-based) of training batch `step`. */
export function subsetFor(cfg: MaskingConfig, order: DataOrder, step: number, index: number): number {
  switch (cfg.mode) {
    case 'sample':
      return draw(cfg, TAG.sample, step, index);
    case 'batch':
      return draw(cfg, TAG.batch, step);
    case 'epoch':
      return draw(cfg, TAG.epoch, Math.floor((step * order.batchSize + index) / order.datasetSize));
  }
}

/** Subset ids of every sample of training batch `step`. */
export function batchSubsets(cfg: MaskingConfig, order: DataOrder, step: number): number[] {
  return Array.from({ length: order.batchSize }, (_, i) => subsetFor(cfg, order, step, i));
}

/**
 * The input of a sample with subset `subsetId`: a copy of the full-modality image [3, H, W]
 * (channel-major) whose missing channels are exactly 0.0.
 */
export function maskImage(full: Float32Array, subsetId: number): Float32Array {
  if (full.length % 3 !== 0) throw new RangeError(`an image [3, H, W] has a multiple of 3 values, got ${full.length}`);
  const plane = full.length / 3;
  const out = full.slice();
  subsetById(subsetId).keep.forEach((keep, c) => {
    if (!keep) out.fill(0, c * plane, (c + 1) * plane);
  });
  return out;
}
