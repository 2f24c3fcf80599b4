/**
 * The deployable AnyAD model: one ONNX graph from the preprocessed image to the anomaly maps
 * and the image score, with the frozen encoder, the trained head (and the modality affine)
 * baked in as initializers.
 *
 * B is static or a symbolic 'batch' axis (bundles: symbolic, so a volume runs in batches).
 *
 *   image [B,3,C,C] ─ encoder ─▶ fused, En0, En1 ─ (affine(subset)) ─ head ─▶ De0, De1
 *   map    [B,1,C,C]     = mean_g upsample_{align_corners}(1 − cos(En_g, De_g))   (golden amap_px)
 *   map256 [B,1,256,256] = Gaussian5×5,σ4,zero-pad(resize_{half-pixel}(map, 256)) (golden amap_256_smooth)
 *   score  [B]           = mean of the top ⌊0.01·256²⌋ = 655 values of map256       (golden all.score)
 *
 * The arithmetic is the reference's (docs/reference-arithmetic.md#anomaly-map, #image-score), the same
 * as eval/anomalyMap.ts computes on the CPU; `subset` (int64 ids 1..7) selects the modality
 * affine's row and is ignored when the model has no affine (reference mode).
 */
import { ConfigError } from '../errors';
import {
  Graph,
  SYMBOLIC_BATCH_SENTINEL,
  type Tensor,
  add,
  clip,
  conv,
  div,
  emitModel,
  matmul,
  mul,
  reshape,
  resize,
  sqrt,
  sub,
  topK,
  transpose,
} from '../graph';
import { EVAL_MAP_SIZE, SCORE_TOP_RATIO, referenceGaussianKernel, topKCount } from '../eval';
import { AFFINE_GROUPS, affineParamNames, applyModalityAffine } from './alignment';
import { buildEncoder } from './encoder';
import { type EncoderWeights, describeProvenance } from './encoderWeights';
import { addGraphParams, buildHead } from './head';
import { type HeadConfig, type WeightMap, headParamShapes, validateHeadConfig } from './headWeights';

/** Input and output names of the inference model. */
export const INFERENCE_NAMES = Object.freeze({ image: 'image', subset: 'subset', map: 'map', map256: 'map256', score: 'score' });

export interface InferenceModelSpec {
  encoder: EncoderWeights;
  head: { config: HeadConfig; params: WeightMap };
  /** Modality affine parameters (`modality_affine.en{g}.{weight,bias}`, [7, D]); absent = reference mode (no affine). */
  affine?: WeightMap;
  /** Batch size B: a number (static), or 'dynamic' (a symbolic 'batch' axis: any B at run time). */
  batch: number | 'dynamic';
  /** Input side C (the preprocessing crop; a multiple of the patch size). */
  size: number;
}

export interface InferenceGraph {
  graph: Graph;
  /** Patch grid side s. */
  side: number;
  /** Pixels averaged for the score (655). */
  topK: number;
}

/** The affine's parameters out of a map that may hold more (e.g. the trainer's head + affine params). */
export function pickAffineParams(params: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): WeightMap | undefined {
  const out: WeightMap = new Map();
  for (let g = 0; g < AFFINE_GROUPS; g++) {
    for (const name of Object.values(affineParamNames(g))) {
      const t = params.get(name);
      if (t) out.set(name, t);
    }
  }
  if (out.size === 0) return undefined;
  if (out.size !== 2 * AFFINE_GROUPS)
    throw new ConfigError('config/affine', `the modality affine is incomplete: found ${[...out.keys()].join(', ')}`);
  return out;
}

export function buildInferenceGraph(spec: InferenceModelSpec): InferenceGraph {
  const { encoder, size: c } = spec;
  // A dynamic batch is built at a sentinel size that emitModel turns into the symbolic axis.
  const b = spec.batch === 'dynamic' ? SYMBOLIC_BATCH_SENTINEL : spec.batch;
  const cfg = encoder.config;
  const head = validateHeadConfig(spec.head.config);
  if (!Number.isSafeInteger(b) || b < 1) throw new ConfigError('config/inference', `batch must be a positive integer, got ${b}`);
  if (!Number.isSafeInteger(c) || c < cfg.patchSize || c % cfg.patchSize !== 0) {
    throw new ConfigError('config/inference', `input size ${c} must be a positive multiple of the patch size ${cfg.patchSize}`);
  }
  if (head.dim !== cfg.embedDim)
    throw new ConfigError('config/inference', `the head is ${head.dim} wide but the encoder's features are ${cfg.embedDim} wide`);
  if (cfg.fuseGroups.length !== 2)
    throw new ConfigError('config/inference', `AnyAD needs exactly 2 encoder groups, the encoder config has ${cfg.fuseGroups.length}`);
  const headWeights: WeightMap = new Map();
  for (const [name, shape] of headParamShapes(head)) {
    const t = spec.head.params.get(name);
    if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ConfigError(
        'config/inference',
        `head parameter '${name}' must be [${shape.join(', ')}], got ${t ? `[${t.shape.join(', ')}]` : 'nothing'}`,
      );
    }
    headWeights.set(name, t);
  }

  const g = new Graph('anyad-inference');
  const image = g.input(INFERENCE_NAMES.image, [b, 3, c, c]);
  const subset = g.input(INFERENCE_NAMES.subset, [b], 'int64');
  const enc = g.scope('encoder', () => buildEncoder(g, image, encoder));
  const [s] = enc.grid;
  const en = enc.en as [Tensor, Tensor];
  const params = addGraphParams(g, headWeights);
  let headInput = enc.fused;
  if (spec.affine) {
    for (const [k, v] of spec.affine) params.set(k, g.param(k, v.shape, v.data));
    // Ids 1..7 → rows 0..6 of the affine tables.
    headInput = g.scope('modality_affine', () => applyModalityAffine({ fused: enc.fused, en, subset, subsetIds: true }, params).headInput);
  }
  const de = buildHead(g, { fused: headInput }, params, head).de;

  const map = g.scope('map', () => {
    // Per group 1 − cos over channels [B,1,s,s], upsampled (align_corners) to C, then averaged.
    const up = en.map((e, k) =>
      resize(reshape(sub(1, batchInvariantCosine(g, e, de[k])), [b, 1, s, s]), { mode: 'bilinear', alignCorners: true, size: [c, c] }),
    );
    return div(add(up[0], up[1]), 2);
  });
  const m = EVAL_MAP_SIZE;
  const map256 = g.scope('map256', () => {
    const resized = resize(map, { mode: 'bilinear', alignCorners: false, size: [m, m] });
    return conv(resized, g.constant(referenceGaussianKernel(), [1, 1, 5, 5], 'gaussian_kernel'), null, { pads: 2 });
  });
  const k = topKCount(m * m, SCORE_TOP_RATIO);
  // The top-k sum as a MatMul by ones, for the same reason as batchInvariantCosine.
  const score = g.scope('score', () =>
    reshape(div(matmul(topK(reshape(map256, [b, m * m]), k, 1)[0], g.constant(new Float32Array(k).fill(1), [k, 1])), k), [b]),
  );
  g.output(INFERENCE_NAMES.map, map);
  g.output(INFERENCE_NAMES.map256, map256);
  g.output(INFERENCE_NAMES.score, score);
  return { graph: g, side: s, topK: k };
}

/**
 * cosineSimilarity over the channels of [B,D,s,s] (torch 1.13's formula, eps 1e-8) → [B,s·s],
 * with every channel sum a MatMul by ones over channel-last rows. onnxruntime reduces (and
 * its optimiser rewrites) a ReduceSum over a middle axis in an order that depends on B; a
 * MatMul row's sum does not, so each image's map is bit-identical alone or in a batch.
 */
function batchInvariantCosine(g: Graph, a: Tensor, d: Tensor): Tensor {
  const [b, dim, h, w] = a.shape;
  const ones = g.constant(new Float32Array(dim).fill(1), [dim, 1], undefined);
  const rows = (t: Tensor) => transpose(reshape(t, [b, dim, h * w]), [0, 2, 1]);
  const sumLast = (t: Tensor) => matmul(t, ones);
  const norm = (t: Tensor) => div(t, sqrt(clip(sumLast(mul(t, t)), 1e-16)));
  return reshape(sumLast(mul(norm(rows(a)), norm(rows(d)))), [b, h * w]);
}

/** ONNX bytes of the inference model (every weight an initializer). */
export function buildInferenceModel(spec: InferenceModelSpec): Uint8Array {
  const { graph } = buildInferenceGraph(spec);
  const mode = spec.affine ? 'with modality affine' : 'reference mode, no affine';
  return emitModel(graph, {
    docString: `AnyAD inference (${mode}); ${describeProvenance(spec.encoder.provenance)}`,
    ...(spec.batch === 'dynamic' ? { symbolicBatch: { size: SYMBOLIC_BATCH_SENTINEL } } : {}),
  });
}
