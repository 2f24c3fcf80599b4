/**
 * The end-to-end training job behind `anyad train`, `anyad demo` and "AnyAD: Train on workspace":
 *
 *   workspace config → discover cases → slice dataset (train / validation / test by case)
 *   → preprocessed train and validation images (the test split is not read yet)
 *   → encoder (weights from the config, else a seeded RANDOM-INIT one)
 *   → trainAnyAD (checkpoints in output.dir/checkpoints; resumed when compatible)
 *       every `evalEvery` steps and at the end: all 7 subsets on the VALIDATION split
 *   → selection (selection.ts: best mean image AP on validation)
 *   → per-subset thresholds from NORMAL validation slices' scores (bundle.calibrateThresholds)
 *   → the test split, loaded and scored once: the selected parameters and the non-learned
 *     intensity baseline on the same slices, with 95 % bootstrap intervals by case
 *   → output.dir/model-<time>/: the bundle (model.onnx, head.safetensors, anyad.json),
 *     report.md/.json + figures, training.json (loss and evaluation history), training.svg.
 *
 * Resuming: runState.ts keeps what the checkpoints belong to, the evaluations, the losses and
 * the best parameters next to the checkpoints, so a resumed run selects among all evaluations.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { WorkspaceConfig } from '../config';
import { ConfigError, required } from '../errors';
import { type EncoderProvenance as ReportEncoder, type MetricSet, writeReport } from '../eval';
import { initModalityAffine } from '../model/alignment';
import {
  type BundleManifest,
  type SubsetThresholds,
  calibrateThresholds,
  loadBundleAsync,
  writeBundle,
  writeStaged,
} from '../model/bundle';
import { type EncoderWeights, createRandomEncoderWeights, describeProvenance, loadEncoderWeightsAsync } from '../model/encoderWeights';
import { type HeadConfig, headConfig, initHeadParams, type WeightMap } from '../model/headWeights';
import type { ObjectiveConfig } from '../model/losses';
import { modelPreset } from '../model/presets';
import type { HubOptions } from '../hub/download';
import { getCommandFor, loadCachedEncoder, loadEncoderFrom } from '../hub/encoderSource';
import type { SliceDataset } from '../study/dataset';
import type { Case } from '../study/discover';
import { workspaceDataset } from '../study/workspaceDataset';
import { MODALITY_SUBSETS } from '../study/modalities';
import { mkdirs, writeFileAtomic } from '../util/atomic';
import { acquireRunLock } from '../util/runLock';
import { type TrainingImages, loadTrainingImages, trainAnyAD } from './anyad';
import { type EvaluationResult, HeadEvaluator, type ScoredImages, evaluateBaseline, evaluateModelFile, loadScoredImages } from './evaluate';
import type { Params } from './params';
import { type EvaluationRecord, RUN_FILES, RunState, toJson } from './runState';
import { SELECTION_RULE, betterByImageAP } from './selection';
import { PROTOCOL_NOTE, dataSummary, reportModels, trainingChart } from './trainingReport';

export { RUN_FILES, betterByImageAP, type EvaluationRecord };

export type PipelinePhase = 'data' | 'encoder' | 'train' | 'evaluate' | 'calibrate' | 'test' | 'write';

export interface PipelineProgress {
  phase: PipelinePhase;
  message: string;
  /** Training steps completed / planned (train and evaluate phases). */
  step?: number;
  totalSteps?: number;
  loss?: number;
  recon?: number;
  gather?: number;
  align?: number;
  samplesPerSec?: number;
  etaSec?: number;
  /** Set on the event that finishes a validation; `best` tells whether it is the best so far. */
  evaluation?: EvaluationRecord & { best: boolean };
}

export interface RunTrainingOptions {
  onProgress?: (p: PipelineProgress) => void;
  onLog?: (message: string) => void;
  signal?: AbortSignal;
  /** Hub access for a named encoder (`model.encoder`): consent (allowDownload), endpoint, download progress. */
  hub?: HubOptions;
  /** Time used for the output folder's name and the report (default: now). */
  now?: () => Date;
}

export interface RunTrainingResult {
  /** False when the run was cancelled: the checkpoint is saved, no bundle or report is written. */
  completed: boolean;
  bundleDir?: string;
  reportPath?: string;
  /** Test metrics of the selected parameters, per subset label (scored once). */
  metrics?: Record<string, MetricSet>;
  /** The intensity baseline's test metrics on the same slices. */
  baseline?: Record<string, MetricSet>;
  bestStep?: number;
  /** Validation evaluations, in the order they were made. */
  evaluations: EvaluationRecord[];
  thresholds?: SubsetThresholds;
  /** Steps completed in total, and the step this invocation started from. */
  step: number;
  resumedFrom: number;
  encoder: string;
  timingSec: Record<string, number>;
}

/** Most normal validation slices scored per subset for the thresholds (evenly spaced beyond). */
export const CALIBRATION_SLICES = 256;
/** Bootstrap resamples (by case) behind every reported interval. */
export const BOOTSTRAP_SAMPLES = 1000;

/**
 * The encoder the config asks for: its weights file; else `model.encoder` (a local file/folder,
 * or a hub model from the Hugging Face cache, downloaded only with `hub.allowDownload`); else the
 * preset's checkpoint if it is already cached (no request); else a seeded random init of the
 * preset's architecture, with a log line naming the command that fetches the pretrained one.
 */
export async function resolveEncoder(
  config: WorkspaceConfig,
  opts: { hub?: HubOptions; log?: (m: string) => void } = {},
): Promise<EncoderWeights> {
  const m = config.model;
  const load = { registers: m.registers, config: m.encoderConfig };
  if (m.encoderWeights) return loadEncoderWeightsAsync(m.encoderWeights, load, opts.hub?.signal); // Cancel reaches a long read
  if (m.encoder) return loadEncoderFrom(m.encoder, load, opts.hub);
  const preset = modelPreset(m.preset);
  if (preset.checkpoint) {
    const cached = loadCachedEncoder(preset.checkpoint, 'main', load, opts.hub);
    if (cached) return cached;
    opts.log?.(
      `note: ${preset.checkpoint} (preset '${preset.name}') is not in the Hugging Face cache, so a seeded RANDOM-INIT encoder is used; '${getCommandFor(preset.checkpoint)}' fetches the pretrained weights, which later runs then use`,
    );
  } else {
    opts.log?.(
      `note: preset '${preset.name}' uses a seeded RANDOM-INIT encoder; set model.encoder (e.g. "dinov2-small", fetched with 'anyad weights get dinov2-small') for pretrained DINOv2 weights`,
    );
  }
  return createRandomEncoderWeights({ ...preset.encoder, registers: m.registers ?? preset.encoder.registers }, m.randomEncoderSeed);
}

/** The report's form of the encoder's provenance. */
export function reportEncoder(enc: Pick<EncoderWeights, 'config' | 'provenance'>, preset: string): ReportEncoder {
  const p = enc.provenance;
  if (p.kind === 'random-init')
    return { kind: 'random-init', name: `${preset} ViT (D ${enc.config.embedDim}, ${enc.config.depth} blocks)`, seed: p.seed ?? 0 };
  return { kind: 'pretrained', name: describeProvenance(p), file: p.source, sha256: p.sha256 };
}

/** Objective from the train section. */
export function objectiveOf(config: WorkspaceConfig): ObjectiveConfig {
  const t = config.train;
  return {
    lambdaGather: t.lambdaGather,
    lambdaAlign: t.alignment ? t.lambdaAlign : 0,
    alignGroups: [1],
    modalityAffine: t.alignment,
    recon: {},
  };
}

/** Warm-cosine schedule overrides: the reference's 100 warm-up steps, at most a fifth of a short run. */
function lrOverrides(config: WorkspaceConfig): { baseValue?: number; finalValue?: number; warmupIters: number } {
  const t = config.train;
  return { ...(t.lr !== undefined ? { baseValue: t.lr, finalValue: t.lr / 10 } : {}), warmupIters: Math.min(100, Math.floor(t.steps / 5)) };
}

function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What the checkpoints of a run belong to, beyond what trainAnyAD checks itself. */
function runIdentity(config: WorkspaceConfig, encoder: EncoderWeights, ds: SliceDataset): Record<string, unknown> {
  const p = encoder.provenance;
  const slices = (refs: SliceDataset['train']) => sha256Of(refs.map((s) => `${s.caseId}:${s.z}`).join('\n'));
  return {
    preset: config.model.preset,
    encoder: { kind: p.kind, sha256: p.sha256 ?? null, seed: p.seed ?? null, registers: p.registers, config: encoder.config },
    geometry: config.preprocess,
    trainSlices: slices(ds.train),
    valSlices: slices(ds.val),
    testSlices: slices(ds.test),
  };
}

function compact(r: EvaluationResult): EvaluationRecord {
  return {
    step: r.step,
    meanImageAP: r.meanImageAP,
    meanImageAUROC: r.meanImageAUROC,
    meanPixelAUROC: r.meanPixelAUROC,
    perSubset: r.perSubset,
    seconds: r.seconds,
  };
}

/** A fresh output folder name from the time: model-20261129-101500 (-2, -3 … if taken). */
function bundleFolder(outDir: string, now: Date, prefix = 'model'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const base = `${prefix}-${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  let dir = join(outDir, base);
  for (let k = 2; existsSync(dir); k++) dir = join(outDir, `${base}-${k}`);
  return dir;
}

function evenlySpaced<T>(items: readonly T[], most: number): T[] {
  if (items.length <= most) return [...items];
  return Array.from({ length: most }, (_, i) => items[Math.floor((i * items.length) / most)]);
}

/** The data a training run reads before it trains: never the test split's images. */
interface TrainingData {
  cases: Case[];
  ds: SliceDataset;
  train: TrainingImages;
  val: ScoredImages;
}

function loadTrainingData(config: WorkspaceConfig, log: (m: string) => void): TrainingData {
  const { cases, dataset: ds } = workspaceDataset(config, { log });
  const geom = config.preprocess;
  return {
    cases,
    ds,
    train: loadTrainingImages(cases, ds.train, geom),
    val: loadScoredImages(cases, ds.val, geom, config.data.anomalyLabels, 'validation'),
  };
}

/** The head configuration and the parameter template (names, shapes) of the run. */
function headOf(encoder: EncoderWeights, objective: ObjectiveConfig): { head: HeadConfig; template: WeightMap } {
  const head = headConfig(encoder.config.embedDim, encoder.config.numHeads);
  const template = initHeadParams(head, 0);
  if (objective.modalityAffine) for (const [k, v] of initModalityAffine(head.dim)) template.set(k, v);
  return { head, template };
}

/** Per-subset thresholds from the normal validation slices (training slices when validation has none). */
async function calibrate(
  evaluator: HeadEvaluator,
  data: TrainingData,
  params: Params,
  log: (m: string) => void,
): Promise<{ thresholds: SubsetThresholds; source: string }> {
  const normalVal = data.val.slices.flatMap((s, i) => (s.anomalous ? [] : [i]));
  const [set, idx, source] =
    normalVal.length > 0
      ? [data.val, evenlySpaced(normalVal, CALIBRATION_SLICES), 'normal validation slices']
      : [
          data.train,
          evenlySpaced([...Array(data.train.count).keys()], CALIBRATION_SLICES),
          'normal TRAINING slices (the validation split has no normal slice)',
        ];
  if (normalVal.length === 0) log('note: thresholds calibrated on training slices: the validation split has no normal slice');
  const scores = new Map<number, number[]>();
  for (const s of MODALITY_SUBSETS) scores.set(s.id, await evaluator.scores(set, s.id, params, idx));
  return { thresholds: calibrateThresholds(scores), source: `${idx.length} ${source}` };
}

/** Logging, progress events, the clock and the per-phase timing of one run. */
interface RunContext {
  config: WorkspaceConfig;
  opts: RunTrainingOptions;
  log: (m: string) => void;
  emit: (p: PipelineProgress) => void;
  now: () => Date;
  /** Seconds per phase, as the report lists them. */
  timing: Record<string, number>;
  /** Adds the seconds since `since` (a performance.now() value) to phase `name`. */
  lap: (name: string, since: number) => void;
  /** performance.now() when the run began. */
  started: number;
}

function runContext(config: WorkspaceConfig, opts: RunTrainingOptions): RunContext {
  const timing: Record<string, number> = {};
  return {
    config,
    opts,
    log: opts.onLog ?? (() => {}),
    emit: opts.onProgress ?? (() => {}),
    now: opts.now ?? (() => new Date()),
    timing,
    lap: (name, since) => {
      timing[name] = (timing[name] ?? 0) + (performance.now() - since) / 1000;
    },
    started: performance.now(),
  };
}

/** The data phase: cases, the slice dataset, and the training and validation images. */
function dataPhase(ctx: RunContext): TrainingData {
  const t0 = performance.now();
  ctx.emit({ phase: 'data', message: `discovering cases in ${ctx.config.data.root}` });
  const data = loadTrainingData(ctx.config, ctx.log);
  const { ds } = data;
  ctx.emit({
    phase: 'data',
    message: `${ds.train.length} training slices (${ds.summary.train.cases} cases), ${ds.val.length} validation slices (${ds.summary.val.normal} normal + ${ds.summary.val.anomalous} anomalous); ${ds.test.length} test slices held out`,
  });
  ctx.lap('data', t0);
  return data;
}

/** What the run trains: the encoder, the preset, the objective and the head. */
interface RunModel {
  encoder: EncoderWeights;
  /** The encoder's provenance in words (logged, reported, returned). */
  encoderText: string;
  preset: ReturnType<typeof modelPreset>;
  objective: ObjectiveConfig;
  head: HeadConfig;
  template: WeightMap;
}

/** The encoder phase: resolves the encoder and derives the head from it. */
async function modelPhase(ctx: RunContext): Promise<RunModel> {
  const t0 = performance.now();
  const { config, opts, log } = ctx;
  const geom = config.preprocess;
  const preset = modelPreset(config.model.preset);
  const encoder = await resolveEncoder(config, { hub: { signal: opts.signal, ...opts.hub }, log });
  const encoderText = describeProvenance(encoder.provenance);
  log(`encoder: ${encoderText}`);
  if (geom.crop !== preset.geometry.crop || geom.resize !== preset.geometry.resize) {
    log(
      `note: preprocess ${geom.resize} → ${geom.crop} differs from preset '${preset.name}' (${preset.geometry.resize} → ${preset.geometry.crop})`,
    );
  }
  ctx.emit({ phase: 'encoder', message: encoderText });
  const objective = objectiveOf(config);
  const { head, template } = headOf(encoder, objective);
  ctx.lap('encoder', t0);
  return { encoder, encoderText, preset, objective, head, template };
}

/** The run's hold on its output folder: the lock, the resumable state and the evaluator's sessions. */
interface OpenRun {
  state: RunState;
  evaluator: HeadEvaluator;
  checkpointDir: string;
  close: () => Promise<void>;
}

async function openRun(ctx: RunContext, model: RunModel, ds: SliceDataset): Promise<OpenRun> {
  const { config } = ctx;
  const t = config.train;
  const checkpointDir = join(config.output.dir, 'checkpoints');
  // One training per output folder: two would share checkpoint names and delete each other's.
  const unlock = acquireRunLock(config.output.dir, 'training');
  try {
    const state = RunState.open(checkpointDir, runIdentity(config, model.encoder, ds));
    const evaluator = await HeadEvaluator.create({
      encoder: model.encoder,
      head: model.head,
      template: model.template,
      modalityAffine: model.objective.modalityAffine,
      imageSize: config.preprocess.crop,
      batch: t.batchSize,
      provider: t.provider,
      threads: t.threads,
      log: ctx.log,
    });
    const close = async () => {
      await evaluator.release();
      unlock();
    };
    return { state, evaluator, checkpointDir, close };
  } catch (e) {
    unlock();
    throw e;
  }
}

/** Validation on the validation split, recorded in the run state; `seconds` is the total time it took. */
class Validator {
  seconds = 0;
  constructor(
    private readonly ctx: RunContext,
    private readonly run: OpenRun,
    private readonly val: ScoredImages,
  ) {}

  /** Validates `params` (live, the trainer's) at `step`; false when cancelled part-way. */
  async validate(params: Params, step: number): Promise<boolean> {
    const totalSteps = this.ctx.config.train.steps;
    this.ctx.emit({
      phase: 'evaluate',
      message: `validating step ${step} on ${this.val.count} validation slices × 7 subsets`,
      step,
      totalSteps,
    });
    const r = await this.run.evaluator.evaluate(this.val, params, step, { signal: this.ctx.opts.signal });
    this.seconds += r.seconds;
    if (this.ctx.opts.signal?.aborted) return false;
    const rec = compact(r);
    const isBest = this.run.state.record(rec, params);
    this.ctx.emit({
      phase: 'evaluate',
      message: `step ${step}: validation mean image AP ${rec.meanImageAP.toFixed(3)}, AUROC ${rec.meanImageAUROC.toFixed(3)}${isBest ? ' (best so far)' : ''}`,
      step,
      totalSteps,
      evaluation: { ...rec, best: isBest },
    });
    return true;
  }
}

/** The train phase: trainAnyAD with validation every `evalEvery` steps and the losses saved with each checkpoint. */
async function trainPhase(ctx: RunContext, model: RunModel, data: TrainingData, run: OpenRun, validator: Validator) {
  const { config, opts } = ctx;
  const t = config.train;
  const t0 = performance.now();
  const result = await trainAnyAD({
    images: data.train,
    encoder: model.encoder,
    objective: model.objective,
    seed: t.seed,
    steps: t.steps,
    batchSize: t.batchSize,
    lr: lrOverrides(config),
    masking: { mode: t.masking },
    provider: t.provider,
    threads: t.threads,
    checkpointDir: run.checkpointDir,
    checkpointEvery: t.evalEvery,
    resume: true,
    signal: opts.signal,
    log: ctx.log,
    onProgress: (p) => ctx.emit({ phase: 'train', message: `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`, ...p }),
    evaluateEvery: t.evalEvery,
    onEvaluate: async (params, step) => {
      if (!run.state.hasEvaluated(step)) await validator.validate(params, step);
    },
    // The loss history reaches the disk with each checkpoint, so a kill does not lose it.
    onCheckpoint: (_step, records) => {
      run.state.addLosses(records);
      run.state.save();
    },
  });
  run.state.addLosses(result.history);
  ctx.timing['feature cache + statistics'] = result.timing.statsSec;
  ctx.timing.train = Math.max(0, (performance.now() - t0) / 1000 - result.timing.statsSec - validator.seconds);
  return result;
}

/** The test phase: the test split, read now and scored once by the selected parameters and by the baseline (undefined: cancelled). */
async function testPhase(ctx: RunContext, data: TrainingData, run: OpenRun, chosen: SelectedParams): Promise<TestScores | undefined> {
  const { config, opts } = ctx;
  const t0 = performance.now();
  ctx.emit({
    phase: 'test',
    message: `scoring the test split once (${data.ds.test.length} slices × 7 subsets) with the selected step ${chosen.record.step} and the intensity baseline`,
  });
  const test = loadScoredImages(data.cases, data.ds.test, config.preprocess, config.data.anomalyLabels, 'test');
  const boot = { bootstrapSamples: BOOTSTRAP_SAMPLES, bootstrapSeed: config.data.split.seed, signal: opts.signal };
  const scored = await run.evaluator.evaluate(test, chosen.params, chosen.record.step, boot);
  const baseline = await evaluateBaseline(test, boot);
  if (opts.signal?.aborted) return undefined;
  ctx.lap('test', t0);
  return { scored, baseline };
}

export async function runTraining(config: WorkspaceConfig, opts: RunTrainingOptions = {}): Promise<RunTrainingResult> {
  const ctx = runContext(config, opts);
  const data = dataPhase(ctx);
  const model = await modelPhase(ctx);
  const run = await openRun(ctx, model, data.ds);
  const cancelled = (step: number, resumedFrom: number): RunTrainingResult => {
    run.state.save();
    ctx.log(`cancelled at step ${step}; the checkpoint in ${run.checkpointDir} resumes it`);
    return { completed: false, evaluations: run.state.evaluations, step, resumedFrom, encoder: model.encoderText, timingSec: ctx.timing };
  };
  try {
    const validator = new Validator(ctx, run, data.val);
    const result = await trainPhase(ctx, model, data, run, validator);
    if (result.cancelled || opts.signal?.aborted) return cancelled(result.step, result.resumedFrom);
    if (!run.state.hasEvaluated(result.step) && !(await validator.validate(result.params, result.step)))
      return cancelled(result.step, result.resumedFrom);
    ctx.timing.validation = validator.seconds;
    const chosen = required(run.state.best(), 'the selected checkpoint');

    const t0 = performance.now();
    ctx.emit({ phase: 'calibrate', message: 'calibrating per-subset thresholds on normal validation slices' });
    const calibration = await calibrate(run.evaluator, data, chosen.params, ctx.log);
    ctx.lap('calibration', t0);

    const scores = await testPhase(ctx, data, run, chosen);
    if (!scores) return cancelled(result.step, result.resumedFrom);

    const { bundleDir, reportPath } = writeRunOutputs(ctx, { model, ds: data.ds, state: run.state, result, chosen, calibration, scores });
    ctx.log(`report: ${reportPath}`);
    return {
      completed: true,
      bundleDir,
      reportPath,
      metrics: scores.scored.perSubset,
      baseline: scores.baseline.perSubset,
      bestStep: chosen.record.step,
      evaluations: run.state.evaluations,
      thresholds: calibration.thresholds,
      step: result.step,
      resumedFrom: result.resumedFrom,
      encoder: model.encoderText,
      timingSec: ctx.timing,
    };
  } finally {
    await run.close();
  }
}

/** The parameters selection chose, with the validation record that chose them. */
interface SelectedParams {
  record: EvaluationRecord;
  params: Params;
}

interface TestScores {
  scored: EvaluationResult;
  baseline: EvaluationResult;
}

/** Everything a finished run writes: it ran, was selected, calibrated and tested. */
interface FinishedRun {
  model: RunModel;
  ds: SliceDataset;
  state: RunState;
  result: Awaited<ReturnType<typeof trainAnyAD>>;
  chosen: SelectedParams;
  calibration: { thresholds: SubsetThresholds; source: string };
  scores: TestScores;
}

/**
 * The write phase. Everything goes into a hidden folder renamed to model-<time> when complete:
 * a failure (disk full) leaves no model-* folder that looks like a bundle.
 */
function writeRunOutputs(ctx: RunContext, run: FinishedRun): { bundleDir: string; reportPath: string } {
  const t0 = performance.now();
  const bundleDir = bundleFolder(ctx.config.output.dir, ctx.now());
  ctx.emit({ phase: 'write', message: `writing the model and the report to ${bundleDir}` });
  const { reportPath } = writeStaged(bundleDir, (dir) => {
    const manifest = writeRunBundle(ctx, run, dir);
    writeTrainingLog(ctx, run, dir);
    ctx.lap('write', t0);
    ctx.timing.total = (performance.now() - ctx.started) / 1000;
    const report = writeRunReport(ctx, run, dir, manifest);
    return { reportPath: join(bundleDir, basename(report.markdownPath)) };
  });
  return { bundleDir, reportPath };
}

/** The model bundle: model.onnx, head.safetensors and anyad.json with the test metrics. */
function writeRunBundle(ctx: RunContext, run: FinishedRun, dir: string): BundleManifest {
  const { config } = ctx;
  const { model, result, chosen, scores } = run;
  return writeBundle(dir, {
    encoder: model.encoder,
    headConfig: model.head,
    params: chosen.params,
    geometry: config.preprocess,
    preset: model.preset.name,
    stats: result.stats,
    objective: model.objective,
    thresholds: run.calibration.thresholds,
    training: {
      steps: result.step,
      bestStep: chosen.record.step,
      selection: SELECTION_RULE,
      resumedFrom: result.resumedFrom,
      data: run.ds.summary,
      config: { model: config.model, train: config.train, preprocess: config.preprocess },
    },
    metrics: {
      step: chosen.record.step,
      split: 'test',
      perSubset: scores.scored.perSubset,
      baseline: scores.baseline.perSubset,
      validation: chosen.record.perSubset,
    },
    createdAt: ctx.now(),
  });
}

/** training.json (every loss and evaluation) and training.svg (their chart). */
function writeTrainingLog(ctx: RunContext, run: FinishedRun, dir: string): void {
  const { evaluations, losses } = run.state;
  writeFileAtomic(
    join(dir, 'training.json'),
    toJson({
      bestStep: run.chosen.record.step,
      selection: SELECTION_RULE,
      evaluations,
      losses,
      test: { model: run.scores.scored.perSubset, baseline: run.scores.baseline.perSubset },
      cache: run.result.cache,
    }),
  );
  writeFileAtomic(join(dir, 'training.svg'), trainingChart(losses, evaluations, ctx.config.train.steps));
}

/** report.md/.json and figures: test metrics of the model and the baseline, and how they were obtained. */
function writeRunReport(ctx: RunContext, run: FinishedRun, dir: string, manifest: BundleManifest): { markdownPath: string } {
  const { config } = ctx;
  const { result, chosen, scores } = run;
  const { thresholds, source } = run.calibration;
  const evaluations = run.state.evaluations;
  const thresholdText = MODALITY_SUBSETS.map((s) => `${s.label} ${thresholds.bySubset[String(s.id)]?.toFixed(4)}`).join(', ');
  return writeReport(dir, {
    title: `AnyAD on ${config.data.root}`,
    kind: 'standard',
    models: reportModels(scores.scored, scores.baseline),
    dataSummary: dataSummary(config, run.ds, ['train', 'val', 'test']),
    config: { model: config.model, train: config.train, preprocess: config.preprocess, data: config.data },
    encoder: reportEncoder(run.model.encoder, run.model.preset.name),
    timing: ctx.timing,
    curves: { perSubset: scores.scored.curves },
    bootstrap: { samples: BOOTSTRAP_SAMPLES, seed: config.data.split.seed },
    generatedAt: ctx.now().toISOString(),
    notes: [
      `Parameters of step ${chosen.record.step} of ${result.step}: ${SELECTION_RULE} (${chosen.record.meanImageAP.toFixed(4)}; validated at steps ${evaluations.map((e) => e.step).join(', ')}). The test split was read and scored once, after selection and calibration.`,
      PROTOCOL_NOTE,
      ...(result.resumedFrom > 0 ? [`Resumed from the checkpoint of step ${result.resumedFrom}.`] : []),
      `Thresholds (score > threshold is anomalous; ${thresholds.quantile} quantile of the scores of ${source} per subset): ${thresholdText}.`,
      'Training curves: training.svg (loss and mean validation metrics over the run); every number in training.json.',
      `Model bundle in this folder: ${Object.keys(manifest.files).join(', ')}, anyad.json.`,
    ],
  });
}

export interface RunEvaluationOptions extends RunTrainingOptions {
  /** Report folder (default: BUNDLE/eval-<time>). */
  outDir?: string;
}

export interface RunEvaluationResult {
  reportPath: string;
  outDir: string;
  metrics: Record<string, MetricSet>;
  baseline: Record<string, MetricSet>;
  meanImageAP: number;
  seconds: number;
}

/**
 * Evaluates a model bundle (its model.onnx, i.e. what detection runs) on the workspace's test
 * split, all 7 subsets, next to the intensity baseline, and writes a report. The bundle's own
 * preprocessing geometry is used.
 */
export async function runEvaluation(
  config: WorkspaceConfig,
  bundleDir: string,
  opts: RunEvaluationOptions = {},
): Promise<RunEvaluationResult> {
  const log = opts.onLog ?? (() => {});
  const emit = opts.onProgress ?? (() => {});
  const now = opts.now ?? (() => new Date());
  const tStart = performance.now();
  const bundle = await loadBundleAsync(bundleDir, { signal: opts.signal });
  const m = bundle.manifest;
  const geom = { resize: m.preprocessing.resize, crop: m.preprocessing.crop };
  if (geom.resize !== config.preprocess.resize || geom.crop !== config.preprocess.crop) {
    log(
      `note: the model was trained at ${geom.resize} → ${geom.crop}; the config's preprocess (${config.preprocess.resize} → ${config.preprocess.crop}) is not used`,
    );
  }
  emit({ phase: 'data', message: `discovering cases in ${config.data.root}` });
  const { cases, dataset: ds } = workspaceDataset(config, { log });
  const test = loadScoredImages(cases, ds.test, geom, config.data.anomalyLabels, 'test');
  const dataSec = (performance.now() - tStart) / 1000;
  emit({ phase: 'test', message: `evaluating ${bundle.modelPath} on ${test.count} test slices × 7 subsets` });
  const boot = { bootstrapSamples: BOOTSTRAP_SAMPLES, bootstrapSeed: config.data.split.seed, signal: opts.signal };
  const r = await evaluateModelFile(bundle.modelPath, test, {
    ...boot,
    provider: config.train.provider,
    threads: config.train.threads,
    log,
  });
  const baseline = await evaluateBaseline(test, boot);
  if (opts.signal?.aborted) throw new ConfigError('eval/cancelled', 'evaluation cancelled');
  const outDir = opts.outDir ?? bundleFolder(bundle.dir, now(), 'eval');
  mkdirs(outDir); // typed errors (Node's recursive mkdir says ENOENT on a read-only disk)
  const preset = m.preset ?? 'custom';
  const report = writeReport(outDir, {
    title: `AnyAD model ${bundle.dir} on ${config.data.root}`,
    kind: 'standard',
    models: reportModels(r, baseline),
    dataSummary: dataSummary(config, ds, ['test']),
    config: { model: bundle.dir, preset, preprocess: geom, data: config.data },
    encoder: reportEncoder({ config: m.encoder.config, provenance: m.encoder.provenance }, preset),
    timing: { data: dataSec, evaluation: r.seconds, total: (performance.now() - tStart) / 1000 },
    curves: { perSubset: r.curves },
    bootstrap: { samples: BOOTSTRAP_SAMPLES, seed: config.data.split.seed },
    generatedAt: now().toISOString(),
    notes: [
      `Evaluated through the bundle's model.onnx (${m.modalityAffine ? 'with' : 'without'} modality affine), created ${m.createdAt}.`,
      PROTOCOL_NOTE,
    ],
  });
  return {
    reportPath: report.markdownPath,
    outDir,
    metrics: r.perSubset,
    baseline: baseline.perSubset,
    meanImageAP: r.meanImageAP,
    seconds: (performance.now() - tStart) / 1000,
  };
}
