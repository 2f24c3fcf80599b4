/**
 * The AnyAD trainer: the frozen encoder's features (cached per slice and modality subset),
 * a full-modality statistics pre-pass for the alignment loss, then the head's training graph
 * run once per step with StableAdamW, the warm-cosine schedule and gradient clipping, as the
 * reference trains.
 *
 *   images ──mask(subset)──▶ encoder (once per pair, FeatureCache) ──▶ fused, En0, En1
 *   pre-pass: En0/En1 of every training slice with all 3 channels → channel mean/std
 *   step k:   batch = data order (seed, k); subsets = masking (seed, k); one session run gives
 *             loss, recon, gather, align and every gradient; clip 0.1; StableAdamW.
 *
 * The loop is step.ts's trainLoop (run → clip → update, checkpoints, resume checks): a batch
 * is built asynchronously from the feature cache, the loss terms are fetched as scalar
 * outputs, and the head/objective/masking/image size are part of the checkpoint's identity.
 * Resuming continues exactly (data order and masking are pure functions of (seed, step), the
 * statistics are recomputed deterministically).
 */
import { ConfigError, required } from '../errors';
import { type Graph, emitModel } from '../graph';
import { type Feed, type ProviderChoice, type Session, type SessionOptions, createSession, releaseSession } from '../graph/runtime';
import { type ChannelStats, ChannelStatsAccumulator, initModalityAffine } from '../model/alignment';
import { encoderModelBytes } from '../model/encoder';
import type { EncoderWeights } from '../model/encoderWeights';
import { type HeadConfig, headConfig, initHeadParams } from '../model/headWeights';
import { DEFAULT_OBJECTIVE, type ObjectiveConfig, TRAINING_GRAPH_NAMES, buildTrainingGraph, copyObjective } from '../model/losses';
import { patchGrid } from '../model/posEmbed';
import type { Case } from '../study/discover';
import type { SliceRef } from '../study/dataset';
import { CHANNELS, FULL_SUBSET } from '../study/modalities';
import type { PreprocessGeometry } from '../study/preprocess';
import { forEachSliceByCase, fullModalityInput } from '../study/sliceImages';
import type { DataOrder } from './data-order';
import { FeatureCache, type FeatureCacheStats } from './featureCache';
import { type MaskingConfig, batchSubsets, maskingConfig } from './masking';
import type { StableAdamWOptions } from './optim';
import { appendToTrainingGraph } from './optimGraph';
import { makeParams, type Params } from './params';
import { mixSeed } from '../util/random';
import { type WarmCosineConfig, referenceLrSchedule } from './schedule';
import { type StepResult, trainLoop } from './step';

/** Full-modality preprocessed training images, [3, H, W] each, H = W = imageSize. */
export interface TrainingImages {
  count: number;
  imageSize: number;
  image: (index: number) => Float32Array;
}

/**
 * Loads and preprocesses (all 3 channels) the given training slices, each case read once.
 * Training needs FLAIR, T1 and T2 for every training case (the masking removes channels,
 * the statistics need all of them); a case without one is a StudyError naming it.
 */
export function loadTrainingImages(
  cases: readonly Case[],
  slices: readonly SliceRef[],
  geom: PreprocessGeometry,
): TrainingImages & { slices: SliceRef[] } {
  const images = new Array<Float32Array>(slices.length);
  forEachSliceByCase(cases, slices, { sequences: CHANNELS, label: false }, 'training', (loaded, i) => {
    images[i] = fullModalityInput(loaded, slices[i].z, geom);
  });
  return { count: slices.length, imageSize: geom.crop, image: (i) => images[i], slices: [...slices] };
}

/** Our default run length (the reference's iteration count for BraTS is not in shared/). */
export const DEFAULT_TRAIN_STEPS = 10000;
/** The reference's batch size. */
export const REFERENCE_BATCH_SIZE = 16;

export interface AnyADProgress {
  /** Steps completed (1-based count after this step). */
  step: number;
  totalSteps: number;
  loss: number;
  recon: number;
  gather: number;
  /** Unweighted alignment term; NaN when the objective has none (λ2 = 0). */
  align: number;
  /** Training samples per second over this run so far (encoder misses included). */
  samplesPerSec: number;
  etaSec: number;
}

export interface AnyADStepRecord {
  /** 0-based index of the step. */
  step: number;
  loss: number;
  recon: number;
  gather: number;
  align: number;
  gradNorm: number;
  lr: number;
  /** Subset id of each sample of the batch. */
  subsets: number[];
  /** Wall time of the step in milliseconds (encoder misses included). */
  ms: number;
}

export interface TrainAnyADOptions {
  images: TrainingImages;
  encoder: EncoderWeights;
  /** Head settings; default: the reference head with the encoder's width and head count. */
  head?: Partial<Omit<HeadConfig, 'dim'>>;
  objective?: ObjectiveConfig;
  /** Seed of the head's initialisation, the data order and the masking. */
  seed?: number;
  steps?: number;
  batchSize?: number;
  /** Overrides of the reference schedule (lr 1e-3 → 1e-4, 100 warm-up steps). */
  lr?: Partial<Omit<WarmCosineConfig, 'totalIters'>>;
  optimizer?: Partial<StableAdamWOptions>;
  maxGradNorm?: number;
  masking?: Partial<Omit<MaskingConfig, 'seed'>>;
  /** Most feature-cache entries (default: no limit). */
  cacheMaxEntries?: number;
  /**
   * Encoder features of these same `images` under this same `encoder`, from openTrainingFeatures:
   * several trainings on one image set (a benchmark's runs) then encode each (slice, subset) once.
   * The caller releases it; without it, trainAnyAD opens and releases its own.
   */
  features?: TrainingFeatures;
  provider?: ProviderChoice;
  threads?: number;
  checkpointDir?: string;
  /** Checkpoint every this many steps (and after the last / on cancel). Default: only at the end. */
  checkpointEvery?: number;
  keepCheckpoints?: number;
  /** Continue from the newest checkpoint in checkpointDir, when there is one. */
  resume?: boolean;
  onProgress?: (p: AnyADProgress) => void | Promise<void>;
  /**
   * Called with the live parameters after every `evaluateEvery`-th step before the last (after
   * that step's checkpoint is written and progress reported), and again for the resumed step
   * when resuming from such a checkpoint (its evaluation may have been interrupted; the caller
   * skips what it already has); the caller copies what it keeps.
   * The final parameters come back in the result, so the last step is the caller's to evaluate.
   */
  onEvaluate?: (params: Params, step: number) => Promise<void>;
  evaluateEvery?: number;
  /**
   * Called before each checkpoint is written with the records of the steps taken since the
   * previous call (see TrainLoopOptions.beforeCheckpoint): the caller persists its loss history.
   */
  onCheckpoint?: (step: number, records: AnyADStepRecord[]) => void | Promise<void>;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface TrainAnyADResult {
  /** Head (+ modality affine) parameters under the reference names. */
  params: Params;
  headConfig: HeadConfig;
  objective: ObjectiveConfig;
  /** Full-modality channel statistics of [En0, En1]. */
  stats: ChannelStats[];
  /** Steps taken by this call. */
  history: AnyADStepRecord[];
  /** Steps completed in total. */
  step: number;
  resumedFrom: number;
  cancelled: boolean;
  cache: FeatureCacheStats;
  timing: { statsSec: number; trainSec: number };
}

/**
 * Full-modality channel statistics of the encoder groups over every training image. The
 * modality affine is the identity for the full subset at the start, so these are the raw
 * features' statistics; the alignment term pulls the other subsets' affine-mapped features to them.
 */
export async function fullModalityStats(
  cache: FeatureCache,
  count: number,
  chunk: number,
  dim: number,
  side: number,
  signal?: AbortSignal,
): Promise<ChannelStats[] | undefined> {
  const acc = [new ChannelStatsAccumulator(dim), new ChannelStatsAccumulator(dim)];
  for (let start = 0; start < count; start += chunk) {
    if (signal?.aborted) return undefined;
    const reqs = Array.from({ length: Math.min(chunk, count - start) }, (_, i) => ({ slice: start + i, subset: FULL_SUBSET.id }));
    for (const f of await cache.get(reqs)) {
      acc[0].add(f.en0, [1, dim, side, side]);
      acc[1].add(f.en1, [1, dim, side, side]);
    }
  }
  return acc.map((a) => a.result());
}

/** What must be the same for a checkpoint to be resumed (beyond schedule, data order, optimiser). */
function runIdentity(head: HeadConfig, objective: ObjectiveConfig, masking: MaskingConfig, imageSize: number): Record<string, string> {
  return {
    head: JSON.stringify(head),
    objective: JSON.stringify(objective),
    masking: JSON.stringify(masking),
    imageSize: String(imageSize),
  };
}

/** An encoder session and the feature cache over one training image set (see TrainAnyADOptions.features). */
export interface TrainingFeatures {
  cache: FeatureCache;
  imageSize: number;
  /** Encoder graph batch (the training batch it was opened for). */
  batch: number;
  release(): Promise<void>;
}

/** Opens the frozen encoder on `images` with a feature cache; `batch` must be the training batch size. */
export async function openTrainingFeatures(
  encoder: EncoderWeights,
  images: TrainingImages,
  o: { batch: number; maxEntries?: number; provider?: ProviderChoice; threads?: number; log?: (message: string) => void },
): Promise<TrainingFeatures> {
  const enc = encoder.config;
  const [side] = patchGrid(images.imageSize, images.imageSize, enc.patchSize);
  const session = await createSession(encoderModelBytes(encoder, { batch: o.batch, height: images.imageSize, width: images.imageSize }), {
    provider: o.provider ?? 'cpu',
    threads: o.threads ?? 0,
    log: o.log,
  });
  const cache = new FeatureCache({
    session,
    encoderBatch: o.batch,
    imageSize: images.imageSize,
    dim: enc.embedDim,
    side,
    image: images.image,
    maxEntries: o.maxEntries,
  });
  return { cache, imageSize: images.imageSize, batch: o.batch, release: () => releaseSession(session) };
}

/** The run's settings, checked and with defaults filled in. */
interface TrainSetup {
  seed: number;
  totalSteps: number;
  batch: number;
  objective: ObjectiveConfig;
  head: HeadConfig;
  masking: MaskingConfig;
  schedule: WarmCosineConfig;
  dataOrder: DataOrder;
  /** Patches per image side. */
  side: number;
  sessionOpts: { provider: ProviderChoice; threads: number; log?: (message: string) => void };
}

function trainSetup(o: TrainAnyADOptions): TrainSetup {
  const enc = o.encoder.config;
  if (enc.fuseGroups.length !== 2)
    throw new ConfigError(
      'config/train',
      `AnyAD needs exactly 2 encoder groups (En0, En1), the encoder config has ${enc.fuseGroups.length}`,
    );
  const { images } = o;
  if (images.count < 1) throw new ConfigError('train/empty', 'the training set is empty: no normal slices in the train cases');
  const seed = o.seed ?? 0;
  const totalSteps = o.steps ?? DEFAULT_TRAIN_STEPS;
  const batch = o.batchSize ?? REFERENCE_BATCH_SIZE;
  if (!Number.isInteger(totalSteps) || totalSteps < 0)
    throw new ConfigError('config/train', `steps must be a non-negative integer, got ${totalSteps}`);
  if (!Number.isInteger(batch) || batch < 1) throw new ConfigError('config/train', `batch size must be a positive integer, got ${batch}`);
  const headOverrides: Partial<HeadConfig> = Object.fromEntries(Object.entries(o.head ?? {}).filter(([, v]) => v !== undefined));
  const [side, sideW] = patchGrid(images.imageSize, images.imageSize, enc.patchSize);
  if (side !== sideW) throw new ConfigError('config/train', 'training images must be square');
  return {
    seed,
    totalSteps,
    batch,
    objective: o.objective ?? copyObjective(DEFAULT_OBJECTIVE),
    head: headConfig(enc.embedDim, o.head?.heads ?? enc.numHeads, headOverrides),
    masking: maskingConfig({ ...o.masking, seed: mixSeed(seed, 0x3a5c) }),
    schedule: { ...referenceLrSchedule(totalSteps), ...o.lr, totalIters: totalSteps },
    dataOrder: { seed, datasetSize: images.count, batchSize: batch },
    side,
    sessionOpts: { provider: o.provider ?? 'cpu', threads: o.threads ?? 0, log: o.log },
  };
}

/** The encoder features (shared, or opened here: `own`) and the full-modality statistics the alignment loss is built with. */
async function featuresAndStats(
  o: TrainAnyADOptions,
  setup: TrainSetup,
): Promise<{ cache: FeatureCache; own?: TrainingFeatures; stats?: ChannelStats[]; statsSec: number }> {
  const { images } = o;
  const { batch } = setup;
  const t0 = performance.now();
  if (o.features && (o.features.imageSize !== images.imageSize || o.features.batch !== batch)) {
    throw new ConfigError(
      'config/train',
      `the shared encoder features were opened for ${o.features.imageSize} px at batch ${o.features.batch}, this training runs ${images.imageSize} px at batch ${batch}`,
    );
  }
  const own = o.features
    ? undefined
    : await openTrainingFeatures(o.encoder, images, { batch, maxEntries: o.cacheMaxEntries, ...setup.sessionOpts });
  const { cache } = o.features ?? required(own, 'the training features');
  const stats = await fullModalityStats(cache, images.count, batch, o.encoder.config.embedDim, setup.side, o.signal).catch(
    async (e: unknown) => {
      await own?.release();
      throw e;
    },
  );
  return { cache, own, stats, statsSec: (performance.now() - t0) / 1000 };
}

/** The training graph's feeds for a batch: cached encoder features of each slice under its drawn modality subset. */
function batchMaker(setup: TrainSetup, cache: FeatureCache) {
  const N = TRAINING_GRAPH_NAMES;
  const { batch, side, head, masking, dataOrder, objective } = setup;
  const n = side * side * head.dim;
  return async (indices: readonly number[], step: number) => {
    const subsets = batchSubsets(masking, dataOrder, step);
    const feats = await cache.get(indices.map((slice, i) => ({ slice, subset: subsets[i] })));
    const feeds: Record<string, Feed> = {
      [N.fused]: concatAll(
        feats.map((f) => f.fused),
        n,
      ),
      [N.en0]: concatAll(
        feats.map((f) => f.en0),
        n,
      ),
      [N.en1]: concatAll(
        feats.map((f) => f.en1),
        n,
      ),
    };
    const shapes: Record<string, readonly number[]> = {
      [N.fused]: [batch, side * side, head.dim],
      [N.en0]: [batch, head.dim, side, side],
      [N.en1]: [batch, head.dim, side, side],
    };
    if (objective.modalityAffine) {
      feeds[N.subset] = BigInt64Array.from(subsets, (id) => BigInt(id - 1));
      shapes[N.subset] = [batch];
    }
    return { feeds, shapes };
  };
}

/** A step's record: the loss and its terms, the gradient norm, the learning rate and the batch's subsets. */
function stepRecorder(setup: TrainSetup): (r: StepResult) => AnyADStepRecord {
  const N = TRAINING_GRAPH_NAMES;
  const term = (r: StepResult, name: string) => r.outputs[name] ?? Number.NaN;
  return (r) => ({
    step: r.step,
    loss: r.loss,
    recon: term(r, N.recon),
    gather: term(r, N.gather),
    align: term(r, N.align),
    gradNorm: r.gradNorm,
    lr: r.lr,
    subsets: batchSubsets(setup.masking, setup.dataOrder, r.step),
    ms: r.ms,
  });
}

/** Progress after each step (throughput and time left over this call's steps) and the evaluations due. */
function stepReporter(o: TrainAnyADOptions, setup: TrainSetup, params: Params, history: AnyADStepRecord[]) {
  const toRecord = stepRecorder(setup);
  const { totalSteps, batch } = setup;
  const tTrain = performance.now();
  let firstStep: number | undefined;
  return async (r: StepResult) => {
    if (!Number.isFinite(r.loss))
      throw new ConfigError('train/diverged', `the loss is ${r.loss} at step ${r.step}; lower the learning rate`);
    const rec = toRecord(r);
    history.push(rec);
    firstStep ??= r.step;
    const step = r.step + 1;
    const elapsed = (performance.now() - tTrain) / 1000;
    const done = step - firstStep;
    await o.onProgress?.({
      step,
      totalSteps,
      loss: rec.loss,
      recon: rec.recon,
      gather: rec.gather,
      align: rec.align,
      samplesPerSec: (done * batch) / elapsed,
      etaSec: (elapsed / done) * (totalSteps - step),
    });
    const every = o.evaluateEvery ?? 0;
    if (o.onEvaluate && every > 0 && step % every === 0 && step < totalSteps && !o.signal?.aborted) await o.onEvaluate(params, step);
  };
}

/** The reference head at init + the modality affine at identity, as weights and as the trainer's parameters. */
function initialParams({ head, seed, objective }: TrainSetup) {
  const weights = initHeadParams(head, seed);
  if (objective.modalityAffine) for (const [k, v] of initModalityAffine(head.dim)) weights.set(k, v);
  const params = makeParams([...weights].map(([k, v]) => [k, v.shape, v.data] as [string, readonly number[], Float32Array]));
  return { weights, params };
}

export async function trainAnyAD(o: TrainAnyADOptions): Promise<TrainAnyADResult> {
  const setup = trainSetup(o);
  const { head, objective, totalSteps } = setup;
  const { cache, own, stats, statsSec } = await featuresAndStats(o, setup);
  const { weights, params } = initialParams(setup);
  const result = (history: AnyADStepRecord[], step: number, resumedFrom: number, trainSec: number): TrainAnyADResult => ({
    params,
    headConfig: head,
    objective,
    stats: stats ?? [],
    history,
    step,
    resumedFrom,
    cancelled: !stats || step < totalSteps,
    cache: cache.stats(),
    timing: { statsSec, trainSec },
  });
  if (!stats) {
    await own?.release();
    return result([], 0, 0, 0);
  }
  const { graph } = buildTrainingGraph({ batch: setup.batch, side: setup.side, head, weights, objective, stats });
  const { session, optimizerInGraph } = await openTrainingSession(graph, setup.sessionOpts, o);
  const N = TRAINING_GRAPH_NAMES;
  const history: AnyADStepRecord[] = [];
  const toRecord = stepRecorder(setup);
  const tTrain = performance.now();
  try {
    const onCheckpoint = o.onCheckpoint;
    const loop = await trainLoop({
      program: { session, optimizerInGraph },
      params,
      optimizer: o.optimizer,
      schedule: setup.schedule,
      totalSteps,
      dataOrder: setup.dataOrder,
      maxGradNorm: o.maxGradNorm,
      scalarOutputs: [N.recon, N.gather, ...(objective.lambdaAlign !== 0 ? [N.align] : [])],
      identity: runIdentity(head, objective, setup.masking, o.images.imageSize),
      checkpointDir: o.checkpointDir,
      checkpointEvery: o.checkpointEvery,
      keepCheckpoints: o.keepCheckpoints,
      resume: o.resume,
      signal: o.signal,
      log: o.log,
      makeBatch: batchMaker(setup, cache),
      beforeCheckpoint: onCheckpoint && ((step, steps) => onCheckpoint(step, steps.map(toRecord))),
      // A kill or Cancel during the evaluation of a checkpointed step: the resumed run redoes it.
      onResume: async (step) => {
        const every = o.evaluateEvery ?? 0;
        if (o.onEvaluate && every > 0 && step % every === 0 && step < totalSteps) await o.onEvaluate(params, step);
      },
      onStep: stepReporter(o, setup, params, history),
      needsParams: (step) => Boolean(o.onEvaluate) && (o.evaluateEvery ?? 0) > 0 && step % (o.evaluateEvery ?? 0) === 0,
    });
    return result(history, loop.step, loop.resumedFrom, (performance.now() - tTrain) / 1000);
  } finally {
    await releaseSession(session);
    await own?.release();
  }
}

/**
 * The training graph's session. No memory pattern: a step's peak memory roughly halves
 * (runtime.ts leanMemory). On WebGPU the optimiser joins the graph and the parameters and its
 * state stay on the device between steps (deviceStep.ts); elsewhere it runs on the host
 * (optim.ts, the reference's arithmetic to the bit).
 */
async function openTrainingSession(
  graph: Graph,
  sessionOpts: SessionOptions,
  o: Pick<TrainAnyADOptions, 'optimizer' | 'maxGradNorm' | 'log'>,
): Promise<{ session: Session; optimizerInGraph: boolean }> {
  const session = await createSession(emitModel(graph, { paramsAs: 'inputs' }), { ...sessionOpts, leanMemory: true });
  if (session.provider !== 'webgpu') return { session, optimizerInGraph: false };
  await releaseSession(session);
  const deviceOutputs = appendToTrainingGraph(graph, { ...o.optimizer, maxGradNorm: o.maxGradNorm });
  const device = await createSession(emitModel(graph, { paramsAs: 'inputs' }), {
    ...sessionOpts,
    provider: 'webgpu',
    leanMemory: true,
    deviceOutputs,
  });
  o.log?.(`training on ${device.provider}: the optimiser runs in the graph; parameters and its state stay on the device`);
  return { session: device, optimizerInGraph: true };
}

function concatAll(parts: Float32Array[], per: number): Float32Array {
  const out = new Float32Array(parts.length * per);
  parts.forEach((p, i) => out.set(p, i * per));
  return out;
}
