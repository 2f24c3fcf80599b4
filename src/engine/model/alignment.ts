/**
 * Distribution alignment, made to act.
 *
 * The paper pulls the per-channel mean and spread of missing-modality features toward
 * statistics precomputed on full-modality images. The public reference computes that loss on
 * frozen encoder features, so it has no gradient and only changes the logged loss value
 * (docs/reference-arithmetic.md#findings-about-the-reference, finding 4). Here the loss acts through a trainable
 * **modality-conditioned channel affine**: per modality subset s (ids 1..7) and encoder group
 * g (En0, En1) a scale γ[s,g,c] and shift β[s,g,c] per channel, initialised to 1 and 0.
 *
 * Where it applies (and why nothing can collapse):
 * - The head's input becomes x' = fused + ½ Σ_g ((γ_g − 1)·En_g + β_g), i.e. the mean of the
 *   two affine-mapped groups, because fused (mean of the 8 layers) = ½(En0 + En1) for the two
 *   equal-size groups. At init x' is exactly `fused` (bit for bit), so the reference head is
 *   recovered. One affine per group therefore also covers the decoder input: a separate
 *   affine on `fused` would only duplicate it.
 * - The alignment statistics are taken on A_g(En_g) = γ_g·En_g + β_g, the same parameters that
 *   shape x', so aligning statistics changes what the decoder sees. Its optimum is moment
 *   matching (γ = σ_full/σ_s, β = μ_full − γ μ_s) against FIXED full-modality statistics with
 *   σ_full > 0, so γ cannot shrink to 0 and the features cannot be flattened.
 * - The reconstruction target stays the RAW encoder features under stop-gradient (losses.ts):
 *   the affine cannot move the target toward the decoder, and anomaly maps keep comparing raw
 *   En with De, as in the reference.
 * - The INP extractor (aggregation block and gather loss) reads x' under stop-gradient
 *   (head.ts), as the reference's frozen x, so INP coherence cannot pull the features together
 *   through the affine; x' is trained only through the bottleneck → decoder path (recon).
 */
import { ConfigError, required } from '../errors';
import { type Tensor, add, concat, gather, mul, reduceMean, reshape, sqrt, sub, unsqueeze } from '../graph';
import { type GraphParams, toTokens } from './head';
import type { WeightMap } from './headWeights';

/** Modality subsets: ids 1..7 = flair, t1, t2, flair+t1, flair+t2, t1+t2, all (row = id − 1). */
export const SUBSET_COUNT = 7;
/** Encoder groups that get an affine (En0, En1). */
export const AFFINE_GROUPS = 2;

export function affineParamNames(group: number): { weight: string; bias: string } {
  return { weight: `modality_affine.en${group}.weight`, bias: `modality_affine.en${group}.bias` };
}

/** The affine's parameters at identity: `modality_affine.en{g}.weight` = 1, `.bias` = 0, each [7, D]. */
export function initModalityAffine(dim: number): WeightMap {
  const out: WeightMap = new Map();
  for (let g = 0; g < AFFINE_GROUPS; g++) {
    const names = affineParamNames(g);
    out.set(names.weight, { shape: [SUBSET_COUNT, dim], data: new Float32Array(SUBSET_COUNT * dim).fill(1) });
    out.set(names.bias, { shape: [SUBSET_COUNT, dim], data: new Float32Array(SUBSET_COUNT * dim) });
  }
  return out;
}

export interface AffineInputs {
  /** Mean of the target layers, tokens [B, n, D]. */
  fused: Tensor;
  /** Encoder groups [B, D, s, s]. */
  en: readonly [Tensor, Tensor];
  /** Subset row per sample (id − 1, 0..6), int64 [B]; with `subsetIds`, the ids 1..7 themselves. */
  subset: Tensor;
  /**
   * `subset` holds ids 1..7: the tables get a leading unused row (folded at build time) instead
   * of an int64 `id − 1` in the graph, which the WebGPU provider would run on the CPU.
   */
  subsetIds?: boolean;
}

export interface AffineOutputs {
  /** Head input x' [B, n, D]. */
  headInput: Tensor;
  /** A_g(En_g) [B, D, s, s], for the alignment statistics only. */
  enAffine: [Tensor, Tensor];
}

/** Applies each sample's subset affine (see the module comment for the design). */
export function applyModalityAffine(inputs: AffineInputs, params: GraphParams): AffineOutputs {
  const { fused, en, subset } = inputs;
  if (subset.dtype !== 'int64' || subset.rank !== 1 || subset.shape[0] !== fused.shape[0]) {
    throw new ConfigError('config/affine', `subset must be int64 [${fused.shape[0]}], got ${subset.dtype}[${subset.shape.join(', ')}]`);
  }
  const [b, d] = en[0].shape;
  let shift: Tensor | undefined;
  const enAffine = en.map((e, g) => {
    const names = affineParamNames(g);
    const w = params.get(names.weight);
    const bias = params.get(names.bias);
    if (!w || !bias) throw new ConfigError('config/affine', `modality affine parameters ${names.weight} / ${names.bias} were not given`);
    const table = (t: Tensor) => (inputs.subsetIds ? concat([t.graph.constant(new Float32Array(d), [1, d]), t], 0) : t);
    const gamma = gather(table(w), subset, 0); // [B, D]
    const beta = gather(table(bias), subset, 0);
    // Token layout: (γ − 1)·En_g + β, the change A_g makes to group g.
    const delta = add(mul(unsqueeze(sub(gamma, 1), 1), toTokens(e)), unsqueeze(beta, 1));
    shift = shift ? add(shift, delta) : delta;
    return add(mul(e, reshape(gamma, [b, d, 1, 1])), reshape(beta, [b, d, 1, 1]));
  }) as [Tensor, Tensor];
  return { headInput: add(fused, mul(required(shift, 'the modality shift'), 1 / AFFINE_GROUPS)), enAffine };
}

/** Per-channel statistics of full-modality features (population standard deviation). */
export interface ChannelStats {
  mean: Float32Array;
  std: Float32Array;
  /** Number of values per channel they were computed from. */
  count: number;
}

/** Added to the variance before the square root so the std has a finite gradient at 0. */
const STD_EPS = 1e-12;

/**
 * Distribution alignment loss of one feature map f [B, C, h, w] against reference stats:
 * MSE(μ, μ_full) + MSE(σ, σ_full) with μ_c, σ_c over (batch, h, w). Standard deviation as the
 * reference code (the paper writes variance); population form, as the paper's equation 3.
 */
export function alignmentLoss(f: Tensor, stats: ChannelStats): Tensor {
  const c = f.shape[1];
  if (f.rank !== 4 || stats.mean.length !== c || stats.std.length !== c) {
    throw new ConfigError(
      'config/alignment',
      `alignment statistics have ${stats.mean.length} channels but the features are [${f.shape.join(', ')}]`,
    );
  }
  const g = f.graph;
  const mean = reduceMean(f, [0, 2, 3], true);
  const centred = sub(f, mean);
  const std = sqrt(add(reduceMean(mul(centred, centred), [0, 2, 3], false), STD_EPS));
  const dMean = sub(reshape(mean, [c]), g.constant(stats.mean, [c]));
  const dStd = sub(std, g.constant(stats.std, [c]));
  return add(reduceMean(mul(dMean, dMean)), reduceMean(mul(dStd, dStd)));
}

/**
 * Accumulates per-channel statistics of [B, C, h, w] feature maps over a whole training set
 * (in float64, by running sums), for the full-modality reference distribution.
 */
export class ChannelStatsAccumulator {
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  private count = 0;

  constructor(readonly channels: number) {
    this.sum = new Float64Array(channels);
    this.sumSq = new Float64Array(channels);
  }

  /** Adds a batch of feature maps, data in [B, C, h, w] row-major order. */
  add(data: Float32Array, shape: readonly number[]): void {
    const [b, c, h, w] = shape;
    if (shape.length !== 4 || c !== this.channels || data.length !== b * c * h * w) {
      throw new ConfigError(
        'config/alignment',
        `expected [B, ${this.channels}, h, w] features, got shape [${shape.join(', ')}] with ${data.length} values`,
      );
    }
    const plane = h * w;
    for (let i = 0; i < b; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * plane;
        let s = 0;
        let s2 = 0;
        for (let k = 0; k < plane; k++) {
          const v = data[base + k];
          s += v;
          s2 += v * v;
        }
        this.sum[ch] += s;
        this.sumSq[ch] += s2;
      }
    }
    this.count += b * plane;
  }

  result(): ChannelStats {
    if (this.count === 0) throw new ConfigError('config/alignment', 'no full-modality features were accumulated');
    const mean = new Float32Array(this.channels);
    const std = new Float32Array(this.channels);
    for (let ch = 0; ch < this.channels; ch++) {
      const m = this.sum[ch] / this.count;
      mean[ch] = m;
      std[ch] = Math.sqrt(Math.max(this.sumSq[ch] / this.count - m * m, 0));
    }
    return { mean, std, count: this.count };
  }
}
