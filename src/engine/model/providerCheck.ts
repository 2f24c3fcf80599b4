/**
 * Provider agreement: the detection graph (encoder + head + map + score) and one training
 * step's graph (head forward + backward on encoder features) of a preset, built with seeded
 * random weights and inputs, run on the CPU provider and on another provider; the result is
 * the largest |difference| of each output relative to that output's max |value| on the CPU.
 *
 * Used by the WebGPU CI test (test/runtime/webgpu.test.ts), `npm run bench:webgpu` and
 * scripts/gpu-check.sh, each through scripts/provider-check.ts in a child process (onnxruntime
 * writes its node placements only to the process's stderr).
 */
import { emitModel } from '../graph';
import {
  type ExecutionProviderName,
  type Feed,
  type ProviderChoice,
  type Session,
  createSession,
  releaseSession,
  run,
} from '../graph/runtime';
import { required } from '../errors';
import { DeviceStepper } from '../train/deviceStep';
import { StableAdamW } from '../train/optim';
import { appendToTrainingGraph } from '../train/optimGraph';
import { cloneParams } from '../train/params';
import { trainStep } from '../train/step';
import { createRng } from '../util/random';
import { type ChannelStats, initModalityAffine } from './alignment';
import { createRandomEncoderWeights } from './encoderWeights';
import { headConfig, initHeadParams } from './headWeights';
import { INFERENCE_NAMES, buildInferenceModel } from './inference';
import { DEFAULT_OBJECTIVE, TRAINING_GRAPH_NAMES, buildTrainingGraph, copyObjective } from './losses';
import { modelPreset } from './presets';

export interface CheckModel {
  bytes: Uint8Array;
  feeds: Record<string, Feed>;
  shapes: Record<string, readonly number[]>;
}

/** The detection model (batch `detectBatch`) and the training-step model (batch `trainBatch`) of a preset. */
export function buildCheckModels(
  presetName: string,
  opts: { detectBatch?: number; trainBatch?: number; seed?: number } = {},
): { detect: CheckModel; train: CheckModel } {
  const preset = modelPreset(presetName);
  const seed = opts.seed ?? 7;
  const c = preset.geometry.crop;
  const encoder = createRandomEncoderWeights(preset.encoder, seed);
  const cfg = headConfig(preset.encoder.embedDim, preset.encoder.numHeads);
  const params = initHeadParams(cfg, seed);
  const affine = initModalityAffine(cfg.dim);
  const rng = createRng(seed + 1);
  const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

  const bd = opts.detectBatch ?? 1;
  const detect: CheckModel = {
    bytes: buildInferenceModel({ encoder, head: { config: cfg, params }, affine, batch: bd, size: c }),
    feeds: {
      [INFERENCE_NAMES.image]: normal(bd * 3 * c * c),
      [INFERENCE_NAMES.subset]: BigInt64Array.from({ length: bd }, (_, i) => BigInt(1 + ((i + 6) % 7))),
    },
    shapes: { [INFERENCE_NAMES.image]: [bd, 3, c, c], [INFERENCE_NAMES.subset]: [bd] },
  };

  return { detect, train: checkTraining(presetName, opts).model };
}

/** The training-step model of a preset at batch `trainBatch`, with its graph, weights and batch feeds. */
export function checkTraining(presetName: string, opts: { trainBatch?: number; seed?: number } = {}) {
  const preset = modelPreset(presetName);
  const seed = opts.seed ?? 7;
  const s = preset.geometry.crop / preset.encoder.patchSize;
  const cfg = headConfig(preset.encoder.embedDim, preset.encoder.numHeads);
  const params = initHeadParams(cfg, seed);
  const affine = initModalityAffine(cfg.dim);
  const rng = createRng(seed + 2);
  const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const b = opts.trainBatch ?? 2;
  const d = cfg.dim;
  const weights = new Map(params);
  for (const [k, v] of affine) weights.set(k, v);
  // Statistics away from the features' own so the alignment loss has a real gradient.
  const stats: ChannelStats[] = [0, 1].map(() => ({
    mean: normal(d).map((v) => 0.1 * v),
    std: normal(d).map((v) => 1 + 0.1 * Math.abs(v)),
    count: 1,
  }));
  const { graph } = buildTrainingGraph({ batch: b, side: s, head: cfg, weights, objective: copyObjective(DEFAULT_OBJECTIVE), stats });
  const N = TRAINING_GRAPH_NAMES;
  const feeds: Record<string, Feed> = {
    [N.fused]: normal(b * s * s * d),
    [N.en0]: normal(b * d * s * s),
    [N.en1]: normal(b * d * s * s),
    [N.subset]: BigInt64Array.from({ length: b }, (_, i) => BigInt(i % 7)),
  };
  const shapes: Record<string, readonly number[]> = {
    [N.fused]: [b, s * s, d],
    [N.en0]: [b, d, s, s],
    [N.en1]: [b, d, s, s],
    [N.subset]: [b],
  };
  const batch = { feeds: { ...feeds }, shapes: { ...shapes } };
  for (const [k, v] of weights) {
    feeds[k] = v.data;
    shapes[k] = v.shape;
  }
  return { model: { bytes: emitModel(graph, { paramsAs: 'inputs' }), feeds, shapes }, graph, weights, batch };
}

/** max over outputs of max|a − b| / max|a| (a = reference). Non-finite values count as disagreement (Infinity). */
export function maxRelativeDifference(
  ref: Record<string, ArrayLike<number>>,
  other: Record<string, ArrayLike<number>>,
): { maxRel: number; worst: string } {
  let maxRel = 0;
  let worst = '';
  for (const [name, a] of Object.entries(ref)) {
    const b = other[name];
    if (!b || b.length !== a.length) return { maxRel: Infinity, worst: name };
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < a.length; i++) {
      const x = Number(a[i]);
      const y = Number(b[i]);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return { maxRel: Infinity, worst: name };
      scale = Math.max(scale, Math.abs(x));
      diff = Math.max(diff, Math.abs(x - y));
    }
    // An all-zero output must stay all zero.
    const rel = scale > 0 ? diff / scale : diff > 0 ? Infinity : 0;
    if (worst === '' || rel > maxRel) {
      maxRel = rel;
      worst = name;
    }
  }
  return { maxRel, worst };
}

export interface ProviderRun {
  provider: ExecutionProviderName;
  outputs: Record<string, Float32Array>;
  /** Session creation, then the median of the timed runs (after one warm-up run). */
  sessionMs: number;
  runMedianMs: number;
}

/** Runs a check model on a provider: one warm-up run, then `runs` timed runs (median; runs 0: the warm-up's time); outputs of the last run. */
export async function runCheckModel(
  m: CheckModel,
  provider: ProviderChoice,
  opts: { threads?: number; runs?: number; logId?: string } = {},
): Promise<ProviderRun> {
  const t0 = performance.now();
  const session: Session = await createSession(m.bytes, { provider, threads: opts.threads ?? 0, logId: opts.logId });
  const sessionMs = performance.now() - t0;
  try {
    const first = performance.now();
    let out = await run(session, m.feeds, m.shapes);
    // No timed runs asked for: the first run's time (shader compilation and warm-up included) is all there is.
    const times: number[] = (opts.runs ?? 1) === 0 ? [performance.now() - first] : [];
    for (let i = 0; i < (opts.runs ?? 1); i++) {
      const t = performance.now();
      out = await run(session, m.feeds, m.shapes);
      times.push(performance.now() - t);
    }
    const outputs: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(out)) if (v.data instanceof Float32Array) outputs[k] = v.data;
    return { provider: session.provider, outputs, sessionMs, runMedianMs: median(times) };
  } finally {
    await releaseSession(session);
  }
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface DeviceLoopCheck {
  steps: number;
  /** The provider the in-graph optimiser's session ran on. */
  provider: ExecutionProviderName;
  /** max over steps of |loss − cpu loss| / |cpu loss| (each step's loss reflects the updates before it). */
  lossMaxRel: number;
  /** max over steps of the gradient norms' relative difference. */
  gradNormMaxRel: number;
  /** Host bytes in and out of the session per step after the first (the state stays on the device). */
  hostBytesPerStep: { in: number; out: number };
  /** The parameters after the steps, read back from the device: finite, and moved from their start. */
  syncedParamsMoved: boolean;
}

/**
 * A few training steps with the optimiser in the graph on `provider`, parameters and state left
 * on the device between steps (train/deviceStep.ts), against the host optimiser on the CPU. The
 * losses are compared rather than the parameters: a key bias gets only rounding noise as its
 * gradient, which StableAdamW scales up to full steps, and the loss does not depend on it.
 */
export async function deviceLoopCheck(
  presetName: string,
  provider: ProviderChoice,
  opts: { steps?: number; threads?: number; trainBatch?: number } = {},
): Promise<DeviceLoopCheck> {
  const steps = opts.steps ?? 3;
  const host = checkTraining(presetName, opts);
  const dev = checkTraining(presetName, opts);
  const deviceOutputs = appendToTrainingGraph(dev.graph);
  const cpuSession = await createSession(host.model.bytes, { provider: 'cpu', threads: opts.threads ?? 0, leanMemory: true });
  const devSession = await createSession(emitModel(dev.graph, { paramsAs: 'inputs' }), {
    provider,
    threads: opts.threads ?? 0,
    leanMemory: true,
    deviceOutputs,
    logId: 'deviceLoop',
  });
  const start = cloneParams(dev.weights);
  const hostParams = cloneParams(host.weights);
  const devParams = cloneParams(start);
  const hostOpt = new StableAdamW(hostParams);
  const stepper = new DeviceStepper(devSession, devParams, new StableAdamW(devParams));
  let lossMaxRel = 0;
  let gradNormMaxRel = 0;
  try {
    for (let i = 0; i < steps; i++) {
      const lr = 1e-3;
      const a = await trainStep({ session: cpuSession }, hostParams, hostOpt, host.batch, lr);
      const b = await stepper.step(dev.batch, lr, 'loss', []);
      lossMaxRel = Math.max(lossMaxRel, Math.abs(b.loss - a.loss) / Math.abs(a.loss));
      gradNormMaxRel = Math.max(gradNormMaxRel, Math.abs(b.gradNorm - a.gradNorm) / a.gradNorm);
    }
    const hostBytesPerStep = stepper.lastStepBytes;
    await stepper.sync();
    const moved = [...devParams].some(([k, p]) => p.data.some((v, i) => v !== required(start.get(k), k).data[i]));
    const finite = [...devParams.values()].every((p) => p.data.every(Number.isFinite));
    return { steps, provider: devSession.provider, lossMaxRel, gradNormMaxRel, hostBytesPerStep, syncedParamsMoved: moved && finite };
  } finally {
    await stepper.release();
    await releaseSession(cpuSession);
    await releaseSession(devSession);
  }
}
