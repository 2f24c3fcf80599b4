/**
 * The end-to-end training job behind `anyad train`, `anyad demo` and "AnyAD: Train on workspace":
 *
 *   workspace config → discover cases → slice dataset → preprocessed train/test images
 *   → encoder (weights from the config, else a seeded RANDOM-INIT one)
 *   → trainAnyAD (checkpoints in output.dir/checkpoints; resumed when compatible)
 *       every `evalEvery` steps and at the end: all 7 subsets on the test split (evaluate.ts)
 *   → best parameters by mean image AP over the 7 subsets
 *   → per-subset thresholds from NORMAL training slices' scores (bundle.calibrateThresholds)
 *   → output.dir/model-<time>/: the bundle (model.onnx, head.safetensors, anyad.json),
 *     report.md/.json + figures, training.json (loss and evaluation history), training.svg.
 *
 * Evaluation during training reads the checkpoint trainAnyAD has just written (it checkpoints
 * every `evalEvery` steps, before it reports progress), so the trainer needs no extra hook.
 * Resuming: output.dir/checkpoints/run.json records what the checkpoints belong to (encoder,
 * data, geometry); a run whose settings differ is refused with a message naming the difference
 * (trainAnyAD itself refuses a changed schedule, optimiser, head, objective or masking).
 * Evaluation records and the best parameters so far are kept next to the checkpoints, so a
 * resumed run selects among all evaluations.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { WorkspaceConfig } from '../config';
import { ConfigError, StudyError } from '../errors';
import { type DataSummary, type EncoderProvenance as ReportEncoder, type MetricSet, lineChartSvg, writeReport } from '../eval';
import { initModalityAffine } from '../model/alignment';
import { type BundleManifest, type SubsetThresholds, calibrateThresholds, loadBundle, writeBundle } from '../model/bundle';
import { type EncoderWeights, createRandomEncoderWeights, describeProvenance, loadEncoderWeights } from '../model/encoderWeights';
import { type HeadConfig, headConfig, initHeadParams, type WeightMap } from '../model/headWeights';
import type { ObjectiveConfig } from '../model/losses';
import { modelPreset } from '../model/presets';
import { readSafetensors, toFloat32, writeSafetensors } from '../safetensors';
import { buildSliceDataset, type SliceDataset } from '../study/dataset';
import { discoverStudy } from '../study/discover';
import { MODALITY_SUBSETS } from '../study/modalities';
import { writeFileAtomic } from '../util/atomic';
import { loadTrainingImages, trainAnyAD } from './anyad';
import { checkpointPath, listCheckpoints, loadCheckpoint } from './checkpoint';
import { type EvaluationResult, HeadEvaluator, evaluateModelFile, loadTestImages } from './evaluate';
import { cloneParams, makeParams, type Params } from './params';

export type PipelinePhase = 'data' | 'encoder' | 'train' | 'evaluate' | 'calibrate' | 'write';

/** A compact evaluation record (what progress events and training.json carry). */
export interface EvaluationRecord {
  step: number;
  meanImageAP: number;
  meanImageAUROC: number;
  meanPixelAUROC: number;
  perSubset: Record<string, MetricSet>;
  seconds: number;
}

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
  /** Set on the event that finishes an evaluation; `best` tells whether it is the best so far. */
  evaluation?: EvaluationRecord & { best: boolean };
}

export interface RunTrainingOptions {
  onProgress?: (p: PipelineProgress) => void;
  onLog?: (message: string) => void;
  signal?: AbortSignal;
  /** Time used for the output folder's name and the report (default: now). */
  now?: () => Date;
}

export interface RunTrainingResult {
  /** False when the run was cancelled: the checkpoint is saved, no bundle or report is written. */
  completed: boolean;
  bundleDir?: string;
  reportPath?: string;
  /** Test metrics of the selected (best) parameters, per subset label. */
  metrics?: Record<string, MetricSet>;
  bestStep?: number;
  evaluations: EvaluationRecord[];
  thresholds?: SubsetThresholds;
  /** Steps completed in total, and the step this invocation started from. */
  step: number;
  resumedFrom: number;
  encoder: string;
  timingSec: Record<string, number>;
}

/** Files kept next to the checkpoints. */
export const RUN_FILES = Object.freeze({ identity: 'run.json', state: 'evaluations.json', best: 'best.safetensors' });

/** Number of normal training slices scored per subset for the thresholds (evenly spaced). */
export const CALIBRATION_SLICES = 64;

/** The encoder the config asks for: its weights file, else a seeded random init of the preset's architecture. */
export function resolveEncoder(config: WorkspaceConfig): EncoderWeights {
  const m = config.model;
  if (m.encoderWeights) {
    return loadEncoderWeights(m.encoderWeights, { registers: m.registers, config: m.encoderConfig });
  }
  const arch = modelPreset(m.preset).encoder;
  return createRandomEncoderWeights({ ...arch, registers: m.registers ?? arch.registers }, m.randomEncoderSeed);
}

/** The report's form of the encoder's provenance. */
export function reportEncoder(enc: Pick<EncoderWeights, 'config' | 'provenance'>, preset: string): ReportEncoder {
  const p = enc.provenance;
  if (p.kind === 'random-init') return { kind: 'random-init', name: `${preset} ViT (D ${enc.config.embedDim}, ${enc.config.depth} blocks)`, seed: p.seed ?? 0 };
  return { kind: 'pretrained', name: describeProvenance(p), file: p.source, sha256: p.sha256 };
}

/** Objective from the train section. */
export function objectiveOf(config: WorkspaceConfig): ObjectiveConfig {
  const t = config.train;
  return { lambdaGather: t.lambdaGather, lambdaAlign: t.alignment ? t.lambdaAlign : 0, alignGroups: [1], modalityAffine: t.alignment, recon: {} };
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
  return {
    preset: config.model.preset,
    encoder: { kind: p.kind, sha256: p.sha256 ?? null, seed: p.seed ?? null, registers: p.registers, config: encoder.config },
    geometry: config.preprocess,
    trainSlices: sha256Of(ds.train.map((s) => `${s.caseId}:${s.z}`).join('\n')),
    testSlices: sha256Of(ds.test.map((s) => `${s.caseId}:${s.z}`).join('\n')),
  };
}

/** Refuses checkpoints made for another run; records the identity for a fresh one. */
function checkRunIdentity(dir: string, identity: Record<string, unknown>): void {
  const file = join(dir, RUN_FILES.identity);
  if (listCheckpoints(dir).length > 0 && existsSync(file)) {
    let saved: Record<string, unknown>;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new ConfigError('train/resume-mismatch', `${RUN_FILES.identity} is unreadable; delete the checkpoints folder to start afresh`, file);
    }
    for (const key of Object.keys(identity)) {
      if (JSON.stringify(saved[key]) !== JSON.stringify(identity[key])) {
        const what = key === 'trainSlices' || key === 'testSlices' ? `a different ${key === 'trainSlices' ? 'training' : 'test'} slice set` : `${key} ${JSON.stringify(saved[key])}`;
        throw new ConfigError('train/resume-mismatch', `the checkpoints here were made with ${what}, this run differs in '${key}'; delete this folder to start afresh or restore the settings`, dir);
      }
    }
    return;
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, JSON.stringify(identity, null, 2) + '\n');
}

interface SavedState {
  evaluations: EvaluationRecord[];
  /** [step, loss, recon, gather, align] per step. */
  losses: number[][];
}

function loadState(dir: string, upToStep: number): SavedState {
  const file = join(dir, RUN_FILES.state);
  if (!existsSync(file)) return { evaluations: [], losses: [] };
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
    const num = (v: unknown) => (v === null ? Number.NaN : (v as number));
    return {
      evaluations: s.evaluations.filter((e) => e.step <= upToStep).map((e) => ({ ...e, meanImageAP: num(e.meanImageAP), meanImageAUROC: num(e.meanImageAUROC), meanPixelAUROC: num(e.meanPixelAUROC) })),
      losses: s.losses.filter((l) => l[0] < upToStep),
    };
  } catch {
    return { evaluations: [], losses: [] };
  }
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

/**
 * Whether a later evaluation's mean image AP `a` beats the best so far `b`: strictly higher
 * (ties keep the earlier step). NaN (a one-sided test set has no AP) never beats a number;
 * when every AP is NaN the latest parameters win.
 */
export function betterByImageAP(a: number, b: number | undefined): boolean {
  if (b === undefined || Number.isNaN(b)) return true;
  return !Number.isNaN(a) && a > b;
}

function saveParams(path: string, params: Params, step: number): void {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, p] of params) tensors[name] = { shape: [...p.shape], data: p.data };
  writeSafetensors(path, tensors, { step: String(step) });
}

function loadParams(path: string): { params: Params; step: number } | undefined {
  if (!existsSync(path)) return undefined;
  const f = readSafetensors(path);
  return { params: makeParams([...f.tensors].map(([k, t]) => [k, t.shape, toFloat32(t, k)] as [string, readonly number[], Float32Array])), step: Number(f.metadata.step) };
}

function compact(r: EvaluationResult): EvaluationRecord {
  return { step: r.step, meanImageAP: r.meanImageAP, meanImageAUROC: r.meanImageAUROC, meanPixelAUROC: r.meanPixelAUROC, perSubset: r.perSubset, seconds: r.seconds };
}

/** A fresh output folder name from the time: model-20261129-101500 (-2, -3 … if taken). */
function bundleFolder(outDir: string, now: Date, prefix = 'model'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const base = `${prefix}-${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  let dir = join(outDir, base);
  for (let k = 2; existsSync(dir); k++) dir = join(outDir, `${base}-${k}`);
  return dir;
}

function evenlySpaced(count: number, most: number): number[] {
  if (count <= most) return Array.from({ length: count }, (_, i) => i);
  return Array.from({ length: most }, (_, i) => Math.floor((i * count) / most));
}

export async function runTraining(config: WorkspaceConfig, opts: RunTrainingOptions = {}): Promise<RunTrainingResult> {
  const log = opts.onLog ?? (() => {});
  const emit = opts.onProgress ?? (() => {});
  const now = opts.now ?? (() => new Date());
  const t = config.train;
  const timing: Record<string, number> = {};
  const tStart = performance.now();
  const lap = (name: string, since: number) => { timing[name] = (timing[name] ?? 0) + (performance.now() - since) / 1000; };

  // Data.
  let t0 = performance.now();
  emit({ phase: 'data', message: `discovering cases in ${config.data.root}` });
  const { cases, warnings } = discoverStudy(config.data.root, config);
  for (const w of warnings) log(`warning: ${w}`);
  if (cases.length === 0) throw new StudyError('study/no-cases', 'no cases found (BraTS names, per-case folders, or data.sequences patterns)', config.data.root);
  const ds = buildSliceDataset(cases, config);
  for (const n of ds.summary.notes) log(`note: ${n}`);
  const geom = config.preprocess;
  const trainImages = loadTrainingImages(cases, ds.train, geom);
  const testImages = loadTestImages(cases, ds.test, geom, config.data.anomalyLabels);
  emit({ phase: 'data', message: `${ds.train.length} training slices (${ds.summary.train.cases} cases), ${ds.test.length} test slices (${ds.summary.test.normal} normal + ${ds.summary.test.anomalous} anomalous)` });
  lap('data', t0);

  // Encoder.
  t0 = performance.now();
  const preset = modelPreset(config.model.preset);
  const encoder = resolveEncoder(config);
  const encoderText = describeProvenance(encoder.provenance);
  log(`encoder: ${encoderText}`);
  if (geom.crop !== preset.geometry.crop || geom.resize !== preset.geometry.resize) {
    log(`note: preprocess ${geom.resize} → ${geom.crop} differs from preset '${preset.name}' (${preset.geometry.resize} → ${preset.geometry.crop})`);
  }
  emit({ phase: 'encoder', message: encoderText });
  const head: HeadConfig = headConfig(encoder.config.embedDim, encoder.config.numHeads);
  const objective = objectiveOf(config);
  const template: WeightMap = initHeadParams(head, 0);
  if (objective.modalityAffine) for (const [k, v] of initModalityAffine(head.dim)) template.set(k, v);
  lap('encoder', t0);

  // Checkpoints: identity check, then what earlier invocations evaluated.
  const ckDir = join(config.output.dir, 'checkpoints');
  checkRunIdentity(ckDir, runIdentity(config, encoder, ds));
  const newest = listCheckpoints(ckDir)[0]?.step ?? 0;
  const state = loadState(ckDir, newest);
  const evaluations: EvaluationRecord[] = [...state.evaluations];
  const losses: number[][] = [...state.losses];
  const curvesByStep = new Map<number, EvaluationResult['curves']>();
  let best: { step: number; ap: number; params?: Params } | undefined;
  for (const e of evaluations) if (betterByImageAP(e.meanImageAP, best?.ap)) best = { step: e.step, ap: e.meanImageAP };
  if (best) {
    const saved = loadParams(join(ckDir, RUN_FILES.best));
    if (saved && saved.step === best.step) best.params = saved.params;
    else { evaluations.length = 0; best = undefined; } // the best parameters are gone: evaluate again
  }
  const saveState = () => writeFileAtomic(join(ckDir, RUN_FILES.state), toJson({ evaluations, losses } satisfies SavedState));

  const evaluator = await HeadEvaluator.create({
    encoder, head, template, modalityAffine: objective.modalityAffine, imageSize: geom.crop, batch: t.batchSize,
    provider: t.provider, threads: t.threads, log,
  });
  let evalSeconds = 0;
  const evaluate = async (params: Params, step: number): Promise<boolean> => {
    emit({ phase: 'evaluate', message: `evaluating step ${step} on ${testImages.count} test slices × 7 subsets`, step, totalSteps: t.steps });
    const r = await evaluator.evaluate(testImages, params, step, opts.signal);
    evalSeconds += r.seconds;
    if (opts.signal?.aborted) return false;
    const rec = compact(r);
    evaluations.push(rec);
    curvesByStep.set(step, r.curves);
    const isBest = betterByImageAP(rec.meanImageAP, best?.ap);
    if (isBest) {
      best = { step, ap: rec.meanImageAP, params: cloneParams(params) };
      saveParams(join(ckDir, RUN_FILES.best), params, step);
    }
    saveState();
    emit({ phase: 'evaluate', message: `step ${step}: mean image AP ${rec.meanImageAP.toFixed(3)}, AUROC ${rec.meanImageAUROC.toFixed(3)}${isBest ? ' (best so far)' : ''}`, step, totalSteps: t.steps, evaluation: { ...rec, best: isBest } });
    return true;
  };

  let result;
  try {
    // Training, with evaluations from the checkpoints it writes every evalEvery steps.
    t0 = performance.now();
    const evalBefore = evalSeconds;
    result = await trainAnyAD({
      images: trainImages, encoder, objective, seed: t.seed, steps: t.steps, batchSize: t.batchSize,
      lr: lrOverrides(config), masking: { mode: t.masking }, provider: t.provider, threads: t.threads,
      checkpointDir: ckDir, checkpointEvery: t.evalEvery, resume: true, signal: opts.signal, log,
      onProgress: async (p) => {
        emit({ phase: 'train', message: `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`, ...p });
        if (t.evalEvery > 0 && p.step % t.evalEvery === 0 && p.step < p.totalSteps && !evaluations.some((e) => e.step === p.step)) {
          await evaluate(loadCheckpoint(checkpointPath(ckDir, p.step)).params, p.step);
        }
      },
    });
    for (const h of result.history) losses.push([h.step, h.loss, h.recon, h.gather, h.align]);
    timing['feature cache + statistics'] = result.timing.statsSec;
    timing.train = Math.max(0, (performance.now() - t0) / 1000 - result.timing.statsSec - (evalSeconds - evalBefore));
    if (result.cancelled || opts.signal?.aborted) {
      saveState();
      log(`cancelled at step ${result.step}; the checkpoint in ${ckDir} resumes it`);
      return { completed: false, evaluations, step: result.step, resumedFrom: result.resumedFrom, encoder: encoderText, timingSec: timing };
    }
    if (!evaluations.some((e) => e.step === result!.step)) {
      if (!(await evaluate(result.params, result.step))) {
        return { completed: false, evaluations, step: result.step, resumedFrom: result.resumedFrom, encoder: encoderText, timingSec: timing };
      }
    }
    const chosen = best!;
    const bestParams = chosen.params ?? result.params;
    // Curves of the chosen step (evaluated in an earlier invocation: evaluate it again).
    let curves = curvesByStep.get(chosen.step);
    if (!curves) {
      const again = await evaluator.evaluate(testImages, bestParams, chosen.step);
      evalSeconds += again.seconds;
      curves = again.curves;
    }
    timing.evaluation = evalSeconds;

    // Thresholds from normal training slices.
    t0 = performance.now();
    emit({ phase: 'calibrate', message: 'calibrating per-subset thresholds on normal training slices' });
    const idx = evenlySpaced(trainImages.count, CALIBRATION_SLICES);
    const scores = new Map<number, number[]>();
    for (const s of MODALITY_SUBSETS) scores.set(s.id, await evaluator.scores(trainImages, s.id, bestParams, idx));
    const thresholds = calibrateThresholds(scores);
    lap('calibration', t0);

    // Bundle + report.
    t0 = performance.now();
    const bundleDir = bundleFolder(config.output.dir, now());
    emit({ phase: 'write', message: `writing the model and the report to ${bundleDir}` });
    const bestRecord = evaluations.find((e) => e.step === chosen.step)!;
    const dataSummary: DataSummary = {
      dataset: config.data.root,
      sliceRule: `axial ${config.data.slices.start}–${config.data.slices.end}, every ${config.data.slices.step}`,
      splits: [
        { name: 'train', cases: ds.summary.train.cases, slices: ds.train.length, normal: ds.summary.train.normal, anomalous: 0 },
        { name: 'test', cases: ds.summary.test.cases, slices: ds.test.length, normal: ds.summary.test.normal, anomalous: ds.summary.test.anomalous },
      ],
    };
    const trainingSummary = {
      steps: result.step, bestStep: chosen.step, selection: 'best mean image AP over the 7 subsets on the test split',
      resumedFrom: result.resumedFrom, data: ds.summary, config: { model: config.model, train: config.train, preprocess: config.preprocess },
    };
    mkdirSync(bundleDir, { recursive: true });
    const manifest: BundleManifest = writeBundle(bundleDir, {
      encoder, headConfig: head, params: bestParams, geometry: geom, preset: preset.name, stats: result.stats, objective,
      thresholds, training: trainingSummary, metrics: { step: chosen.step, perSubset: bestRecord.perSubset }, createdAt: now(),
    });
    writeFileAtomic(join(bundleDir, 'training.json'), toJson({ bestStep: chosen.step, evaluations, losses, cache: result.cache }));
    writeFileAtomic(join(bundleDir, 'training.svg'), trainingChart(losses, evaluations, t.steps));
    lap('write', t0);
    timing.total = (performance.now() - tStart) / 1000;
    const thresholdText = MODALITY_SUBSETS.map((s) => `${s.label} ${thresholds.bySubset[String(s.id)]?.toFixed(4)}`).join(', ');
    const report = writeReport(bundleDir, {
      title: `AnyAD on ${config.data.root}`,
      kind: 'standard',
      models: [{ name: 'AnyAD', perSubset: bestRecord.perSubset }],
      dataSummary,
      config: { model: config.model, train: config.train, preprocess: config.preprocess, data: config.data },
      encoder: reportEncoder(encoder, preset.name),
      timing,
      curves: { perSubset: curves },
      generatedAt: now().toISOString(),
      notes: [
        `Parameters of step ${chosen.step} of ${result.step} (best mean image AP over the 7 subsets, ${chosen.ap.toFixed(4)}; evaluated at steps ${evaluations.map((e) => e.step).join(', ')}). The step is selected on the test split itself, so these numbers are slightly optimistic.`,
        ...(result.resumedFrom > 0 ? [`Resumed from the checkpoint of step ${result.resumedFrom}.`] : []),
        `Thresholds (score > threshold is anomalous; ${thresholds.quantile} quantile of ${idx.length} normal training slices per subset): ${thresholdText}.`,
        'Training curves: training.svg (loss and mean test metrics over the run); every number in training.json.',
        `Model bundle in this folder: ${Object.keys(manifest.files).join(', ')}, anyad.json.`,
      ],
    });
    log(`report: ${report.markdownPath}`);
    return {
      completed: true, bundleDir, reportPath: report.markdownPath, metrics: bestRecord.perSubset, bestStep: chosen.step, evaluations, thresholds,
      step: result.step, resumedFrom: result.resumedFrom, encoder: encoderText, timingSec: timing,
    };
  } finally {
    await evaluator.release();
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
  meanImageAP: number;
  seconds: number;
}

/**
 * Evaluates a model bundle (its model.onnx, i.e. what detection runs) on the workspace's test
 * split, all 7 subsets, and writes a report. The bundle's own preprocessing geometry is used.
 */
export async function runEvaluation(config: WorkspaceConfig, bundleDir: string, opts: RunEvaluationOptions = {}): Promise<RunEvaluationResult> {
  const log = opts.onLog ?? (() => {});
  const emit = opts.onProgress ?? (() => {});
  const now = opts.now ?? (() => new Date());
  const tStart = performance.now();
  const bundle = loadBundle(bundleDir);
  const m = bundle.manifest;
  const geom = { resize: m.preprocessing.resize, crop: m.preprocessing.crop };
  if (geom.resize !== config.preprocess.resize || geom.crop !== config.preprocess.crop) {
    log(`note: the model was trained at ${geom.resize} → ${geom.crop}; the config's preprocess (${config.preprocess.resize} → ${config.preprocess.crop}) is not used`);
  }
  emit({ phase: 'data', message: `discovering cases in ${config.data.root}` });
  const { cases } = discoverStudy(config.data.root, config);
  if (cases.length === 0) throw new StudyError('study/no-cases', 'no cases found (BraTS names, per-case folders, or data.sequences patterns)', config.data.root);
  const ds = buildSliceDataset(cases, config);
  const test = loadTestImages(cases, ds.test, geom, config.data.anomalyLabels);
  const dataSec = (performance.now() - tStart) / 1000;
  emit({ phase: 'evaluate', message: `evaluating ${bundle.modelPath} on ${test.count} test slices × 7 subsets` });
  const r = await evaluateModelFile(bundle.modelPath, test, { provider: config.train.provider, threads: config.train.threads, log, signal: opts.signal });
  if (opts.signal?.aborted) throw new ConfigError('eval/cancelled', 'evaluation cancelled');
  const outDir = opts.outDir ?? bundleFolder(bundle.dir, now(), 'eval');
  mkdirSync(outDir, { recursive: true });
  const preset = m.preset ?? 'custom';
  const report = writeReport(outDir, {
    title: `AnyAD model ${bundle.dir} on ${config.data.root}`,
    kind: 'standard',
    models: [{ name: 'AnyAD', perSubset: r.perSubset }],
    dataSummary: {
      dataset: config.data.root,
      sliceRule: `axial ${config.data.slices.start}–${config.data.slices.end}, every ${config.data.slices.step}`,
      splits: [{ name: 'test', cases: ds.summary.test.cases, slices: ds.test.length, normal: ds.summary.test.normal, anomalous: ds.summary.test.anomalous }],
    },
    config: { model: bundle.dir, preset, preprocess: geom, data: config.data },
    encoder: reportEncoder({ config: m.encoder.config, provenance: m.encoder.provenance }, preset),
    timing: { data: dataSec, evaluation: r.seconds, total: (performance.now() - tStart) / 1000 },
    curves: { perSubset: r.curves },
    generatedAt: now().toISOString(),
    notes: [`Evaluated through the bundle's model.onnx (${m.modalityAffine ? 'with' : 'without'} modality affine), created ${m.createdAt}.`],
  });
  return { reportPath: report.markdownPath, outDir, metrics: r.perSubset, meanImageAP: r.meanImageAP, seconds: (performance.now() - tStart) / 1000 };
}

/** Loss (scaled to its maximum) and mean test metrics against training progress, on the unit square. */
function trainingChart(losses: number[][], evaluations: EvaluationRecord[], steps: number): string {
  const sorted = [...losses].sort((a, b) => a[0] - b[0]);
  const maxLoss = Math.max(...sorted.map((l) => l[1]).filter(Number.isFinite), 1e-12);
  const evals = [...evaluations].sort((a, b) => a.step - b.step);
  const series = [
    { label: `loss ÷ ${maxLoss.toPrecision(3)}`, curve: { x: sorted.map((l) => (l[0] + 1) / steps), y: sorted.map((l) => l[1] / maxLoss) } },
    { label: 'mean image AP (test)', curve: { x: evals.map((e) => e.step / steps), y: evals.map((e) => e.meanImageAP) } },
    { label: 'mean image AUROC (test)', curve: { x: evals.map((e) => e.step / steps), y: evals.map((e) => e.meanImageAUROC) } },
    { label: 'mean pixel AUROC (test)', curve: { x: evals.map((e) => e.step / steps), y: evals.map((e) => e.meanPixelAUROC) } },
  ].filter((s) => s.curve.y.every(Number.isFinite));
  return lineChartSvg({ title: 'Training', xLabel: `Training progress (step ÷ ${steps})`, yLabel: 'Value', series });
}
