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

export async function runTraining(config: WorkspaceConfig, opts: RunTrainingOptions = {}): Promise<RunTrainingResult> {
  const log = opts.onLog ?? (() => {});
  const emit = opts.onProgress ?? (() => {});
  const now = opts.now ?? (() => new Date());
  const t = config.train;
  const timing: Record<string, number> = {};
  const tStart = performance.now();
  const lap = (name: string, since: number) => {
    timing[name] = (timing[name] ?? 0) + (performance.now() - since) / 1000;
  };

  let t0 = performance.now();
  emit({ phase: 'data', message: `discovering cases in ${config.data.root}` });
  const data = loadTrainingData(config, log);
  const { ds } = data;
  emit({
    phase: 'data',
    message: `${ds.train.length} training slices (${ds.summary.train.cases} cases), ${ds.val.length} validation slices (${ds.summary.val.normal} normal + ${ds.summary.val.anomalous} anomalous); ${ds.test.length} test slices held out`,
  });
  lap('data', t0);

  t0 = performance.now();
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
  emit({ phase: 'encoder', message: encoderText });
  const objective = objectiveOf(config);
  const { head, template } = headOf(encoder, objective);
  lap('encoder', t0);

  const ckDir = join(config.output.dir, 'checkpoints');
  // One training per output folder: two would share checkpoint names and delete each other's.
  const unlock = acquireRunLock(config.output.dir, 'training');
  let state: RunState;
  let evaluator: HeadEvaluator;
  try {
    state = RunState.open(ckDir, runIdentity(config, encoder, ds));
    evaluator = await HeadEvaluator.create({
      encoder,
      head,
      template,
      modalityAffine: objective.modalityAffine,
      imageSize: geom.crop,
      batch: t.batchSize,
      provider: t.provider,
      threads: t.threads,
      log,
    });
  } catch (e) {
    unlock();
    throw e;
  }
  let evalSeconds = 0;
  /** Validates `params` (live, the trainer's) at `step`; false when cancelled part-way. */
  const validate = async (params: Params, step: number): Promise<boolean> => {
    emit({
      phase: 'evaluate',
      message: `validating step ${step} on ${data.val.count} validation slices × 7 subsets`,
      step,
      totalSteps: t.steps,
    });
    const r = await evaluator.evaluate(data.val, params, step, { signal: opts.signal });
    evalSeconds += r.seconds;
    if (opts.signal?.aborted) return false;
    const rec = compact(r);
    const isBest = state.record(rec, params);
    emit({
      phase: 'evaluate',
      message: `step ${step}: validation mean image AP ${rec.meanImageAP.toFixed(3)}, AUROC ${rec.meanImageAUROC.toFixed(3)}${isBest ? ' (best so far)' : ''}`,
      step,
      totalSteps: t.steps,
      evaluation: { ...rec, best: isBest },
    });
    return true;
  };
  const cancelled = (step: number, resumedFrom: number): RunTrainingResult => {
    state.save();
    log(`cancelled at step ${step}; the checkpoint in ${ckDir} resumes it`);
    return { completed: false, evaluations: state.evaluations, step, resumedFrom, encoder: encoderText, timingSec: timing };
  };

  try {
    t0 = performance.now();
    const result = await trainAnyAD({
      images: data.train,
      encoder,
      objective,
      seed: t.seed,
      steps: t.steps,
      batchSize: t.batchSize,
      lr: lrOverrides(config),
      masking: { mode: t.masking },
      provider: t.provider,
      threads: t.threads,
      checkpointDir: ckDir,
      checkpointEvery: t.evalEvery,
      resume: true,
      signal: opts.signal,
      log,
      onProgress: (p) => emit({ phase: 'train', message: `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`, ...p }),
      evaluateEvery: t.evalEvery,
      onEvaluate: async (params, step) => {
        if (!state.hasEvaluated(step)) await validate(params, step);
      },
      // The loss history reaches the disk with each checkpoint, so a kill does not lose it.
      onCheckpoint: (_step, records) => {
        state.addLosses(records);
        state.save();
      },
    });
    state.addLosses(result.history);
    timing['feature cache + statistics'] = result.timing.statsSec;
    timing.train = Math.max(0, (performance.now() - t0) / 1000 - result.timing.statsSec - evalSeconds);
    if (result.cancelled || opts.signal?.aborted) return cancelled(result.step, result.resumedFrom);
    if (!state.hasEvaluated(result.step) && !(await validate(result.params, result.step)))
      return cancelled(result.step, result.resumedFrom);
    timing.validation = evalSeconds;
    const chosen = required(state.best(), 'the selected checkpoint');

    t0 = performance.now();
    emit({ phase: 'calibrate', message: 'calibrating per-subset thresholds on normal validation slices' });
    const { thresholds, source: calibrationSource } = await calibrate(evaluator, data, chosen.params, log);
    lap('calibration', t0);

    // The test split: read now, scored once, by the selected parameters and by the baseline.
    t0 = performance.now();
    emit({
      phase: 'test',
      message: `scoring the test split once (${ds.test.length} slices × 7 subsets) with the selected step ${chosen.record.step} and the intensity baseline`,
    });
    const test = loadScoredImages(data.cases, ds.test, geom, config.data.anomalyLabels, 'test');
    const boot = { bootstrapSamples: BOOTSTRAP_SAMPLES, bootstrapSeed: config.data.split.seed, signal: opts.signal };
    const scored = await evaluator.evaluate(test, chosen.params, chosen.record.step, boot);
    const baseline = await evaluateBaseline(test, boot);
    if (opts.signal?.aborted) return cancelled(result.step, result.resumedFrom);
    lap('test', t0);

    t0 = performance.now();
    const bundleDir = bundleFolder(config.output.dir, now());
    emit({ phase: 'write', message: `writing the model and the report to ${bundleDir}` });
    const trainingSummary = {
      steps: result.step,
      bestStep: chosen.record.step,
      selection: SELECTION_RULE,
      resumedFrom: result.resumedFrom,
      data: ds.summary,
      config: { model: config.model, train: config.train, preprocess: config.preprocess },
    };
    // Everything goes into a hidden folder renamed to bundleDir when complete: a failure (disk
    // full) leaves no model-* folder that looks like a bundle.
    const { report } = writeStaged(bundleDir, (dir) => {
      const manifest: BundleManifest = writeBundle(dir, {
        encoder,
        headConfig: head,
        params: chosen.params,
        geometry: geom,
        preset: preset.name,
        stats: result.stats,
        objective,
        thresholds,
        training: trainingSummary,
        metrics: {
          step: chosen.record.step,
          split: 'test',
          perSubset: scored.perSubset,
          baseline: baseline.perSubset,
          validation: chosen.record.perSubset,
        },
        createdAt: now(),
      });
      const { evaluations, losses } = state;
      writeFileAtomic(
        join(dir, 'training.json'),
        toJson({
          bestStep: chosen.record.step,
          selection: SELECTION_RULE,
          evaluations,
          losses,
          test: { model: scored.perSubset, baseline: baseline.perSubset },
          cache: result.cache,
        }),
      );
      writeFileAtomic(join(dir, 'training.svg'), trainingChart(losses, evaluations, t.steps));
      lap('write', t0);
      timing.total = (performance.now() - tStart) / 1000;
      const thresholdText = MODALITY_SUBSETS.map((s) => `${s.label} ${thresholds.bySubset[String(s.id)]?.toFixed(4)}`).join(', ');
      const report = writeReport(dir, {
        title: `AnyAD on ${config.data.root}`,
        kind: 'standard',
        models: reportModels(scored, baseline),
        dataSummary: dataSummary(config, ds, ['train', 'val', 'test']),
        config: { model: config.model, train: config.train, preprocess: config.preprocess, data: config.data },
        encoder: reportEncoder(encoder, preset.name),
        timing,
        curves: { perSubset: scored.curves },
        bootstrap: { samples: BOOTSTRAP_SAMPLES, seed: config.data.split.seed },
        generatedAt: now().toISOString(),
        notes: [
          `Parameters of step ${chosen.record.step} of ${result.step}: ${SELECTION_RULE} (${chosen.record.meanImageAP.toFixed(4)}; validated at steps ${evaluations.map((e) => e.step).join(', ')}). The test split was read and scored once, after selection and calibration.`,
          PROTOCOL_NOTE,
          ...(result.resumedFrom > 0 ? [`Resumed from the checkpoint of step ${result.resumedFrom}.`] : []),
          `Thresholds (score > threshold is anomalous; ${thresholds.quantile} quantile of the scores of ${calibrationSource} per subset): ${thresholdText}.`,
          'Training curves: training.svg (loss and mean validation metrics over the run); every number in training.json.',
          `Model bundle in this folder: ${Object.keys(manifest.files).join(', ')}, anyad.json.`,
        ],
      });
      return { report: { markdownPath: join(bundleDir, basename(report.markdownPath)) } };
    });
    const { evaluations } = state;
    log(`report: ${report.markdownPath}`);
    return {
      completed: true,
      bundleDir,
      reportPath: report.markdownPath,
      metrics: scored.perSubset,
      baseline: baseline.perSubset,
      bestStep: chosen.record.step,
      evaluations,
      thresholds,
      step: result.step,
      resumedFrom: result.resumedFrom,
      encoder: encoderText,
      timingSec: timing,
    };
  } finally {
    await evaluator.release();
    unlock();
  }
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
