/**
 * Evaluation of the AnyAD head on a scored split (validation during training, test once at
 * the end), all 7 modality subsets, with the reference's map pipeline (eval/anomalyMap.ts):
 *
 *   slice ──mask(subset)──▶ frozen encoder (FeatureCache) ──▶ fused, En0, En1
 *   head session (fused, En0, En1, subset → De0, De1; the same buildHead + modality affine as
 *   training, parameters fed as inputs so one session serves every evaluation)
 *   per slice: 1 − cos(En_g, De_g) → upsample to the input size → 256² + Gaussian → top-1 % score
 *   pixel ground truth: preprocessMask (input grid) → nearest to 256²; image label: the
 *   dataset's, from the native-resolution label (a small lesion lost by resizing stays anomalous).
 *
 * The same machinery scores normal validation slices for threshold calibration, and
 * evaluateBaseline scores the non-learned intensity baseline on exactly the same slices.
 */
import {
  EVAL_MAP_SIZE,
  type MetricSet,
  SubsetEvaluator,
  type SubsetCurves,
  anomalyMapFromFeatures,
  curvesOf,
  evaluationMap,
  imageScore,
  resizeNearest,
} from '../eval';
import { intensityBaseline } from '../eval/intensityBaseline';
import { Graph, emitModel } from '../graph';
import { type Feed, type ProviderChoice, type Session, createSession, outputFloat32, releaseSession, run } from '../graph/runtime';
import { applyModalityAffine } from '../model/alignment';
import { encoderModelBytes } from '../model/encoder';
import type { EncoderWeights } from '../model/encoderWeights';
import { addGraphParams, buildHead } from '../model/head';
import type { HeadConfig, WeightMap } from '../model/headWeights';
import { patchGrid } from '../model/posEmbed';
import type { Case } from '../study/discover';
import type { SliceRef } from '../study/dataset';
import { CHANNELS, MODALITY_SUBSETS, type ModalitySubset } from '../study/modalities';
import { type PreprocessGeometry, preprocessMask } from '../study/preprocess';
import { axialImage } from '../study/slice';
import { forEachSliceByCase, fullModalityInput } from '../study/sliceImages';
import { FeatureCache } from './featureCache';
import { maskImage } from './masking';

/** Preprocessed slices of a scored split (all 3 channels) with their ground truth. */
export interface ScoredImages {
  count: number;
  imageSize: number;
  image: (index: number) => Float32Array;
  /** Pixel ground truth on the EVAL_MAP_SIZE² grid, or null when no anomalous pixel survives the resize. */
  mask: (index: number) => Uint8Array | null;
  /** The slices, with their image labels from the native-resolution label volume. */
  slices: SliceRef[];
}

/**
 * Loads the slices of a scored split: images as training preprocesses them, pixel masks through
 * preprocessMask (the model's input grid) then nearest-neighbour to 256², as the reference's
 * ground truth. A scored case needs FLAIR, T1 and T2 (each subset is cut from the full image).
 */
export function loadScoredImages(
  cases: readonly Case[],
  slices: readonly SliceRef[],
  geom: PreprocessGeometry,
  anomalyLabels: 'any' | readonly number[],
  what = 'test',
): ScoredImages {
  const images = new Array<Float32Array>(slices.length);
  const masks = new Array<Uint8Array | null>(slices.length).fill(null);
  forEachSliceByCase(cases, slices, { sequences: CHANNELS, label: true }, what, (loaded, i) => {
    images[i] = fullModalityInput(loaded, slices[i].z, geom);
    if (loaded.label) {
      const lab = axialImage(loaded.label, slices[i].z);
      const onInput = preprocessMask(lab.data, lab.width, lab.height, geom, anomalyLabels);
      if (onInput.some((v) => v !== 0)) masks[i] = resizeNearest(onInput, geom.crop, geom.crop, EVAL_MAP_SIZE, EVAL_MAP_SIZE);
    }
  });
  return { count: slices.length, imageSize: geom.crop, image: (i) => images[i], mask: (i) => masks[i], slices: [...slices] };
}

/** Bootstrap resamples for confidence intervals: none during training (selection needs only the point values). */
export interface EvaluateOptions {
  signal?: AbortSignal;
  /** Resamples (by case) for the 95 % intervals; 0 = none. */
  bootstrapSamples?: number;
  bootstrapSeed?: number;
}

/** One subset's evaluator over a scored set; `add(i, map, score?)` per slice. */
function subsetEvaluator(
  set: ScoredImages,
  subset: ModalitySubset,
  o: EvaluateOptions,
): { add: (i: number, map: Float32Array, score?: number) => void; ev: SubsetEvaluator } {
  const ev = new SubsetEvaluator({
    mapSize: EVAL_MAP_SIZE,
    expectedSlices: set.count,
    label: subset.label,
    bootstrap: { samples: o.bootstrapSamples ?? 0, seed: o.bootstrapSeed ?? 0 },
  });
  const add = (i: number, map: Float32Array, score?: number) => {
    const s = set.slices[i];
    ev.addSlice(map, set.mask(i), { score, anomalous: s.anomalous, caseId: s.caseId, name: `${s.caseId} z=${s.z}` });
  };
  return { add, ev };
}

/** Runs `perSubset(subset, add)` for the 7 subsets and collects metrics and curves. */
async function evaluateSubsets(
  set: ScoredImages,
  step: number,
  o: EvaluateOptions,
  perSubset: (subset: ModalitySubset, add: (i: number, map: Float32Array, score?: number) => void) => Promise<void>,
): Promise<EvaluationResult> {
  const t0 = performance.now();
  const metrics: Record<string, MetricSet> = {};
  const curves: Record<string, SubsetCurves> = {};
  for (const subset of MODALITY_SUBSETS) {
    if (o.signal?.aborted) break;
    const { add, ev } = subsetEvaluator(set, subset, o);
    await perSubset(subset, add);
    const res = ev.finalize();
    metrics[subset.label] = res.metrics;
    curves[subset.label] = curvesOf(res);
  }
  return { step, perSubset: metrics, curves, ...means(metrics), seconds: (performance.now() - t0) / 1000 };
}

/** The non-learned intensity baseline (eval/intensityBaseline.ts) on the same slices, all 7 subsets. */
export async function evaluateBaseline(set: ScoredImages, o: EvaluateOptions = {}): Promise<EvaluationResult> {
  return evaluateSubsets(set, 0, o, (subset, add) => {
    for (let i = 0; i < set.count; i++) {
      const b = intensityBaseline(set.image(i), set.imageSize, subset.id);
      add(i, b.map, b.score);
    }
    return Promise.resolve();
  });
}

/** Metrics of one evaluation: per subset label ('F' … 'F+T1+T2'). */
export interface EvaluationResult {
  /** Step after which the parameters were taken (set by the caller). */
  step: number;
  perSubset: Record<string, MetricSet>;
  curves: Record<string, SubsetCurves>;
  /** Mean image-level AP over the 7 subsets (NaN when a subset has none): the model-selection criterion. */
  meanImageAP: number;
  meanImageAUROC: number;
  meanPixelAUROC: number;
  seconds: number;
}

/** Names of the head inference graph (parameters are inputs named as themselves). */
export const HEAD_GRAPH_NAMES = Object.freeze({ fused: 'fused', en0: 'en0', en1: 'en1', subset: 'subset', de0: 'de0', de1: 'de1' });

/**
 * The head's inference graph: inputs fused [B,n,D], en0/en1 [B,D,s,s] (+ subset int64 [B]
 * with the affine) and every parameter; outputs De0, De1 [B,D,s,s].
 */
export function buildHeadInferenceGraph(batch: number, side: number, head: HeadConfig, weights: WeightMap, modalityAffine: boolean): Graph {
  const n = HEAD_GRAPH_NAMES;
  const g = new Graph('anyad-head-infer');
  const fused = g.input(n.fused, [batch, side * side, head.dim]);
  const en0 = g.input(n.en0, [batch, head.dim, side, side]);
  const en1 = g.input(n.en1, [batch, head.dim, side, side]);
  const params = addGraphParams(g, weights);
  let x = fused;
  if (modalityAffine) {
    const subset = g.input(n.subset, [batch], 'int64');
    x = g.scope('modality_affine', () => applyModalityAffine({ fused, en: [en0, en1], subset }, params).headInput);
  }
  const out = buildHead(g, { fused: x }, params, head);
  g.output(n.de0, out.de[0]);
  g.output(n.de1, out.de[1]);
  return g;
}

export interface HeadEvaluatorOptions {
  encoder: EncoderWeights;
  head: HeadConfig;
  /** Parameter names and shapes the head session takes (values are fed per call). */
  template: WeightMap;
  modalityAffine: boolean;
  imageSize: number;
  /** Static batch of the encoder and head sessions. */
  batch: number;
  provider?: ProviderChoice;
  threads?: number;
  /** Most bytes of encoder features kept per image set (default 1 GiB); beyond, features are recomputed. */
  cacheBytes?: number;
  log?: (message: string) => void;
}

/** Image set the evaluator encodes (the test split, or normal training slices for calibration). */
export interface ImageSet {
  count: number;
  image: (index: number) => Float32Array;
}

/**
 * Owns an encoder session and a head inference session; computes evaluation maps for any
 * parameters. Call release() when done.
 */
export class HeadEvaluator {
  private readonly caches = new Map<ImageSet, FeatureCache>();
  private readonly side: number;

  private constructor(
    private readonly o: HeadEvaluatorOptions,
    private readonly encoderSession: Session,
    private readonly headSession: Session,
  ) {
    this.side = patchGrid(o.imageSize, o.imageSize, o.encoder.config.patchSize)[0];
  }

  static async create(o: HeadEvaluatorOptions): Promise<HeadEvaluator> {
    const side = patchGrid(o.imageSize, o.imageSize, o.encoder.config.patchSize)[0];
    const sessionOpts = { provider: o.provider ?? 'cpu', threads: o.threads ?? 0, log: o.log };
    // The same encoder bytes as the trainer's: the runtime's reference-counted cache shares one session.
    const enc = await createSession(encoderModelBytes(o.encoder, { batch: o.batch, height: o.imageSize, width: o.imageSize }), sessionOpts);
    const graph = buildHeadInferenceGraph(o.batch, side, o.head, o.template, o.modalityAffine);
    const head = await createSession(emitModel(graph, { paramsAs: 'inputs', docString: 'AnyAD head (evaluation)' }), sessionOpts);
    return new HeadEvaluator(o, enc, head);
  }

  async release(): Promise<void> {
    await releaseSession(this.headSession);
    await releaseSession(this.encoderSession);
  }

  private cacheFor(set: ImageSet): FeatureCache {
    let c = this.caches.get(set);
    if (!c) {
      const perEntry = 3 * this.side * this.side * this.o.head.dim * 4;
      c = new FeatureCache({
        session: this.encoderSession,
        encoderBatch: this.o.batch,
        imageSize: this.o.imageSize,
        dim: this.o.head.dim,
        side: this.side,
        image: set.image,
        maxEntries: Math.floor((this.o.cacheBytes ?? 2 ** 30) / perEntry),
      });
      this.caches.set(set, c);
    }
    return c;
  }

  /**
   * Evaluation maps (256², reference pipeline) of `indices` of `set` with `subsetId`, in
   * batches; `onMap` receives each map with its index.
   */
  async maps(
    set: ImageSet,
    subsetId: number,
    params: WeightMap,
    onMap: (index: number, map: Float32Array) => void,
    indices?: readonly number[],
  ): Promise<void> {
    const { batch: b, head, imageSize } = this.o;
    const s = this.side;
    const d = head.dim;
    const per = s * s * d;
    const all = indices ?? Array.from({ length: set.count }, (_, i) => i);
    const cache = this.cacheFor(set);
    const N = HEAD_GRAPH_NAMES;
    const feeds: Record<string, Feed> = {};
    const shapes: Record<string, readonly number[]> = { [N.fused]: [b, s * s, d], [N.en0]: [b, d, s, s], [N.en1]: [b, d, s, s] };
    for (const [name, p] of params) {
      feeds[name] = p.data;
      shapes[name] = p.shape;
    }
    if (this.o.modalityAffine) {
      feeds[N.subset] = new BigInt64Array(b).fill(BigInt(subsetId - 1));
      shapes[N.subset] = [b];
    }
    for (let start = 0; start < all.length; start += b) {
      const idx = all.slice(start, start + b);
      const feats = await cache.get(idx.map((slice) => ({ slice, subset: subsetId })));
      const fused = new Float32Array(b * per);
      const en0 = new Float32Array(b * per);
      const en1 = new Float32Array(b * per);
      feats.forEach((f, i) => {
        fused.set(f.fused, i * per);
        en0.set(f.en0, i * per);
        en1.set(f.en1, i * per);
      });
      const out = await run(this.headSession, { ...feeds, [N.fused]: fused, [N.en0]: en0, [N.en1]: en1 }, shapes, [N.de0, N.de1]);
      const de0 = outputFloat32(out, N.de0);
      const de1 = outputFloat32(out, N.de1);
      idx.forEach((index, i) => {
        const sl = (a: Float32Array) => a.subarray(i * per, (i + 1) * per);
        const amap = anomalyMapFromFeatures(
          [
            { en: sl(en0), de: sl(de0) },
            { en: sl(en1), de: sl(de1) },
          ],
          d,
          s,
          imageSize,
        );
        onMap(index, evaluationMap(amap, imageSize));
      });
    }
  }

  /** Image scores (top-1 % of the evaluation map) of `indices` of `set` with `subsetId`. */
  async scores(set: ImageSet, subsetId: number, params: WeightMap, indices?: readonly number[]): Promise<number[]> {
    const out: number[] = [];
    await this.maps(set, subsetId, params, (_i, map) => out.push(imageScore(map)), indices);
    return out;
  }

  /** All 7 subsets on a scored split: image and pixel metrics per subset. */
  async evaluate(set: ScoredImages, params: WeightMap, step = 0, o: EvaluateOptions = {}): Promise<EvaluationResult> {
    return evaluateSubsets(set, step, o, (subset, add) => this.maps(set, subset.id, params, (i, map) => add(i, map)));
  }
}

/**
 * The same evaluation through an exported model file (bundle's model.onnx: image [1,3,C,C] +
 * subset id [1] → map256, score), so a bundle is judged by exactly what detection runs.
 */
export async function evaluateModelFile(
  modelPath: string,
  set: ScoredImages,
  opts: EvaluateOptions & { provider?: ProviderChoice; threads?: number; log?: (m: string) => void; step?: number } = {},
): Promise<EvaluationResult> {
  const session = await createSession(modelPath, { provider: opts.provider ?? 'cpu', threads: opts.threads ?? 0, log: opts.log });
  const c = set.imageSize;
  try {
    return await evaluateSubsets(set, opts.step ?? 0, opts, async (subset, add) => {
      for (let i = 0; i < set.count; i++) {
        const out = await run(
          session,
          { image: maskImage(set.image(i), subset.id), subset: BigInt64Array.of(BigInt(subset.id)) },
          { image: [1, 3, c, c], subset: [1] },
          ['map256', 'score'],
        );
        add(i, outputFloat32(out, 'map256'), outputFloat32(out, 'score')[0]);
      }
    });
  } finally {
    await releaseSession(session);
  }
}

/** Means over the 7 subsets (NaN when a subset lacks the value). */
function means(perSubset: Record<string, MetricSet>): Pick<EvaluationResult, 'meanImageAP' | 'meanImageAUROC' | 'meanPixelAUROC'> {
  const mean = (get: (m: MetricSet) => number | null): number => {
    const vals = Object.values(perSubset).map(get);
    return vals.length === MODALITY_SUBSETS.length && vals.every((v) => v !== null)
      ? vals.reduce((a, v) => a + v, 0) / vals.length
      : Number.NaN;
  };
  return { meanImageAP: mean((m) => m.image.ap), meanImageAUROC: mean((m) => m.image.auroc), meanPixelAUROC: mean((m) => m.pixel.auroc) };
}
