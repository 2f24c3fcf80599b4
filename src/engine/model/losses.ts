/**
 * AnyAD's training objective:
 *   total = recon + λ1·gather + λ2·align
 * - recon: the reference's `global_cosine_hm_adaptive(en, de, y=3)` (adaptive reconstruction,
 *   soft-mining gradient hook included);
 * - gather: INP coherence, computed by the head (head.ts, as the reference's forward does);
 * - align: distribution alignment through the modality affine (alignment.ts). λ2 = 0 gives
 *   the reference's effective loss (its alignment term has no gradient).
 */
import { ConfigError } from '../errors';
import {
  Graph,
  type Tensor,
  add,
  cosineSimilarity,
  div,
  grad,
  mul,
  pow,
  reduceMean,
  reshape,
  scaleGradient,
  stopGradient,
  sub,
  sum,
  unsqueeze,
} from '../graph';
import { type ChannelStats, alignmentLoss, applyModalityAffine } from './alignment';
import { type GraphParams, type HeadOutputs, addGraphParams, buildHead } from './head';
import type { HeadConfig, WeightMap } from './headWeights';

export interface ReconLossOptions {
  /** Exponent γ of the per-point gradient factor (d/mean d)^γ; 3 in the reference. */
  gamma?: number;
  /** Apply the reference's gradient hook (default true). Off: the plain gradient of the loss value. */
  softMining?: boolean;
}

/**
 * Adaptive cosine reconstruction loss over the groups (En_s, De_s), each [B, D, s, s]:
 * mean over groups of mean over the batch of 1 − cos(flatten(En_b), flatten(De_b)) (one
 * cosine over D·s·s per sample). The encoder side is stop-gradient. The backward through
 * De_s is multiplied per point by (pd/mean(pd))^γ, pd = 1 − cos(En, De) over channels
 * [B,1,s,s] and the mean over the whole batch, computed without gradient — so, like the
 * reference's hook, the gradient is not the derivative of the value and depends on the batch.
 */
export function adaptiveCosineLoss(en: readonly Tensor[], de: readonly Tensor[], opts: ReconLossOptions = {}): Tensor {
  const gamma = opts.gamma ?? 3;
  if (en.length === 0 || en.length !== de.length)
    throw new ConfigError('config/loss', `need as many encoder as decoder groups (got ${en.length} and ${de.length})`);
  const terms = en.map((e, i) => {
    const target = stopGradient(e);
    let d = de[i];
    if (opts.softMining ?? true) {
      const pd = stopGradient(unsqueeze(sub(1, cosineSimilarity(target, d, 1, 1e-8)), 1));
      d = scaleGradient(d, pow(div(pd, reduceMean(pd)), gamma));
    }
    const b = e.shape[0];
    return reduceMean(sub(1, cosineSimilarity(reshape(target, [b, -1]), reshape(d, [b, -1]), 1, 1e-8)));
  });
  return div(sum(terms), terms.length);
}

export interface ObjectiveConfig {
  /** λ1, weight of the INP coherence loss (0.2). */
  lambdaGather: number;
  /** λ2, weight of the distribution alignment loss (0.2; the reference's train.py uses 0.4 on a term without gradient). */
  lambdaAlign: number;
  /** Encoder groups whose statistics are aligned (the paper's best: [1], i.e. En1). */
  alignGroups: number[];
  /** Use the modality affine (the alignment's trainable path). false = reference head, whose alignment term has no gradient. */
  modalityAffine: boolean;
  /** Reconstruction loss options (γ, gradient hook). */
  recon: ReconLossOptions;
}

export const DEFAULT_OBJECTIVE: Readonly<ObjectiveConfig> = Object.freeze({
  lambdaGather: 0.2,
  lambdaAlign: 0.2,
  alignGroups: [1],
  modalityAffine: true,
  recon: {},
});

/** The reference's effective training loss: recon + 0.2·gather, no affine, no alignment term. */
export const REFERENCE_OBJECTIVE: Readonly<ObjectiveConfig> = Object.freeze({
  lambdaGather: 0.2,
  lambdaAlign: 0,
  alignGroups: [1],
  modalityAffine: false,
  recon: {},
});

/** A fresh (mutable, unshared) copy of an objective such as DEFAULT_OBJECTIVE, with overrides. */
export function copyObjective(base: Readonly<ObjectiveConfig>, overrides: Partial<ObjectiveConfig> = {}): ObjectiveConfig {
  return { ...base, alignGroups: [...base.alignGroups], recon: { ...base.recon }, ...overrides };
}

export interface ObjectiveInputs {
  /** Mean of the encoder's target layers [B, n, D]. */
  fused: Tensor;
  /** [En0, En1] [B, D, s, s]: the reconstruction targets. */
  en: readonly [Tensor, Tensor];
  /** Subset row per sample (id − 1), int64 [B]; required with the modality affine. */
  subset?: Tensor;
}

export interface Objective {
  head: HeadOutputs;
  /** What the head consumed: fused, or the affine-mapped x'. */
  headInput: Tensor;
  recon: Tensor;
  gather: Tensor;
  /** The alignment term (unweighted); null when λ2 = 0. */
  align: Tensor | null;
  total: Tensor;
}

/**
 * Builds head + losses on graph inputs. `params` holds the head's parameters (and the affine's
 * when cfg.modalityAffine); `stats[g]` are the full-modality statistics of group g, required
 * for each group in cfg.alignGroups when λ2 > 0.
 */
export function buildObjective(
  g: Graph,
  inputs: ObjectiveInputs,
  params: GraphParams,
  headCfg: HeadConfig,
  cfg: ObjectiveConfig,
  stats: ReadonlyArray<ChannelStats | undefined> = [],
): Objective {
  let headInput = inputs.fused;
  let statFeatures: readonly Tensor[] = inputs.en;
  if (cfg.modalityAffine) {
    const subset = inputs.subset;
    if (!subset) throw new ConfigError('config/objective', 'the modality affine needs the per-sample subset input');
    const affine = g.scope('modality_affine', () => applyModalityAffine({ fused: inputs.fused, en: inputs.en, subset }, params));
    headInput = affine.headInput;
    statFeatures = affine.enAffine;
  }
  const head = buildHead(g, { fused: headInput }, params, headCfg);
  const recon = g.scope('recon', () => adaptiveCosineLoss(inputs.en, head.de, cfg.recon));
  let total = add(recon, mul(head.gatherLoss, cfg.lambdaGather));
  let align: Tensor | null = null;
  if (cfg.lambdaAlign !== 0) {
    if (cfg.alignGroups.length === 0) throw new ConfigError('config/objective', 'lambdaAlign > 0 but no alignGroups are given');
    align = g.scope('align', () =>
      div(
        sum(
          cfg.alignGroups.map((grp) => {
            const f = statFeatures[grp];
            const s = stats[grp];
            if (!f)
              throw new ConfigError(
                'config/objective',
                `alignGroups names group ${grp}, but there are ${statFeatures.length} encoder groups`,
              );
            if (!s) throw new ConfigError('config/objective', `no full-modality statistics were given for encoder group ${grp}`);
            return alignmentLoss(f, s);
          }),
        ),
        cfg.alignGroups.length,
      ),
    );
    total = add(total, mul(align, cfg.lambdaAlign));
  }
  return { head, headInput, recon, gather: head.gatherLoss, align, total };
}

/** Input and output names of the training graph (parameters are inputs named as themselves, gradients 'grad.<name>'). */
export const TRAINING_GRAPH_NAMES = Object.freeze({
  fused: 'fused',
  en0: 'en0',
  en1: 'en1',
  subset: 'subset',
  loss: 'loss',
  recon: 'loss.recon',
  gather: 'loss.gather',
  align: 'loss.align',
});

export interface TrainingGraphSpec {
  batch: number;
  /** Patch grid side s (n = s² tokens). */
  side: number;
  head: HeadConfig;
  /** Initial values of every trainable parameter: head (+ modality affine when the objective uses it). */
  weights: WeightMap;
  objective: ObjectiveConfig;
  /** Full-modality statistics per encoder group (needed for the aligned groups when λ2 > 0). */
  stats?: ReadonlyArray<ChannelStats | undefined>;
  /** Append the gradient of the total w.r.t. every parameter as 'grad.<name>' (default true). */
  grads?: boolean;
}

/**
 * The one-run-per-step training graph: inputs 'fused' [B,n,D], 'en0', 'en1' [B,D,s,s]
 * (+ 'subset' int64 [B] with the affine) and every parameter (emit with paramsAs: 'inputs');
 * outputs 'loss', 'loss.recon', 'loss.gather' (+ 'loss.align') and 'grad.<name>'.
 */
export function buildTrainingGraph(spec: TrainingGraphSpec): { graph: Graph; objective: Objective; params: Map<string, Tensor> } {
  const n = TRAINING_GRAPH_NAMES;
  const { batch: b, side: s, head } = spec;
  const graph = new Graph('anyad-head-train');
  const fused = graph.input(n.fused, [b, s * s, head.dim]);
  const en: [Tensor, Tensor] = [graph.input(n.en0, [b, head.dim, s, s]), graph.input(n.en1, [b, head.dim, s, s])];
  const subset = spec.objective.modalityAffine ? graph.input(n.subset, [b], 'int64') : undefined;
  const params = addGraphParams(graph, spec.weights);
  const objective = buildObjective(graph, { fused, en, subset }, params, head, spec.objective, spec.stats ?? []);
  graph.output(n.loss, objective.total);
  graph.output(n.recon, objective.recon);
  graph.output(n.gather, objective.gather);
  if (objective.align) graph.output(n.align, objective.align);
  if (spec.grads ?? true) grad(objective.total, [...params.values()]);
  return { graph, objective, params };
}
