/**
 * The training step machinery: one session run per step computes the loss and every
 * parameter's gradient (the training graph takes the parameters as inputs); the gradients are
 * clipped by their global norm and StableAdamW updates the parameters in place, in
 * TypeScript. `trainLoop` adds the schedule, the deterministic data order, periodic
 * checkpoints and resuming from the newest checkpoint.
 */
import { ConfigError, required } from '../errors';
import { type Feed, type Session, outputFloat32, run } from '../graph/runtime';
import { resumeFromCheckpoint, saveCheckpointIn } from './checkpoint';
import { batchIndices, type DataOrder } from './data-order';
import { clipGradNorm, REFERENCE_MAX_GRAD_NORM, StableAdamW, type StableAdamWOptions } from './optim';
import { DeviceStepper } from './deviceStep';
import type { Params } from './params';
import { type WarmCosineConfig, warmCosineLr } from './schedule';

/** A session of a training graph and how its inputs/outputs relate to the parameters. */
export interface TrainingProgram {
  session: Session;
  /** Graph input fed with parameter `name` (default: the name itself). */
  paramInput?: (name: string) => string;
  /** Graph output holding d loss / d `name` (default: `grad.${name}`). */
  gradOutput?: (name: string) => string;
  /** Graph output holding the scalar loss (default 'loss'). */
  lossOutput?: string;
  /**
   * The graph also clips and applies StableAdamW (optimGraph.appendToTrainingGraph, with the
   * run's maxGradNorm and optimiser options): parameters and state stay in the session's
   * outputs between steps (deviceStep.ts) and reach the host only when synced.
   */
  optimizerInGraph?: boolean;
}

export interface Batch {
  feeds: Record<string, Feed>;
  shapes: Record<string, readonly number[]>;
}

export interface StepResult {
  /** 0-based index of the step just taken. */
  step: number;
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  /** The requested scalar outputs of this step (e.g. loss terms), by graph output name. */
  outputs: Record<string, number>;
  /** Wall time of the step (batch preparation included). */
  ms: number;
}

/**
 * One training step: run the graph on `batch` with the current parameters, clip the gradients
 * to `maxGradNorm` (Infinity: measure only), and apply one optimiser step with `lr`.
 * `scalarOutputs` are fetched in the same run and returned by name.
 */
export async function trainStep(
  program: TrainingProgram,
  params: Params,
  optimizer: StableAdamW,
  batch: Batch,
  lr: number,
  maxGradNorm = REFERENCE_MAX_GRAD_NORM,
  scalarOutputs: readonly string[] = [],
): Promise<{ loss: number; gradNorm: number; outputs: Record<string, number>; timing: { runMs: number; updateMs: number } }> {
  const inputName = program.paramInput ?? ((n: string) => n);
  const gradName = program.gradOutput ?? ((n: string) => `grad.${n}`);
  const lossName = program.lossOutput ?? 'loss';
  const feeds: Record<string, Feed> = { ...batch.feeds };
  const shapes: Record<string, readonly number[]> = { ...batch.shapes };
  for (const [name, p] of params) {
    feeds[inputName(name)] = p.data;
    shapes[inputName(name)] = p.shape;
  }
  const fetch = [lossName, ...scalarOutputs.filter((n) => n !== lossName), ...[...params.keys()].map(gradName)];
  const t0 = performance.now();
  const out = await run(program.session, feeds, shapes, fetch);
  const t1 = performance.now();
  const loss = outputFloat32(out, lossName)[0];
  const outputs = Object.fromEntries(scalarOutputs.map((n) => [n, outputFloat32(out, n)[0]]));
  const grads = new Map<string, Float32Array>();
  for (const name of params.keys()) grads.set(name, outputFloat32(out, gradName(name)));
  const gradNorm = clipGradNorm(grads.values(), maxGradNorm);
  optimizer.step(grads, lr);
  // run = forward + backward in the session (outputs copied out); update = clip + optimiser in TypeScript.
  return { loss, gradNorm, outputs, timing: { runMs: t1 - t0, updateMs: performance.now() - t1 } };
}

export interface TrainLoopOptions {
  program: TrainingProgram;
  /** Initial parameters (updated in place); replaced by the checkpoint's when resuming. */
  params: Params;
  optimizer?: Partial<StableAdamWOptions>;
  schedule: WarmCosineConfig;
  /** Run until this many steps have been completed in total (resumed steps included). */
  totalSteps: number;
  dataOrder: DataOrder;
  /** Builds the feeds of one batch from its sample indices (may be async, e.g. a feature cache). */
  makeBatch: (indices: number[], step: number) => Batch | Promise<Batch>;
  /** Scalar graph outputs fetched with the loss every step, reported in StepResult.outputs. */
  scalarOutputs?: readonly string[];
  /** Further run settings a checkpoint must match to be resumed; saved with every checkpoint. */
  identity?: Record<string, string>;
  maxGradNorm?: number;
  /** Where checkpoints go; none are written without it. */
  checkpointDir?: string;
  /** Write a checkpoint every this many steps (and after the last one). Default: only after the last. */
  checkpointEvery?: number;
  /** Checkpoints kept (default 2). */
  keepCheckpoints?: number;
  /** Continue from the newest checkpoint in checkpointDir, when there is one. */
  resume?: boolean;
  /** Called after every step, after that step's checkpoint is on disk. */
  onStep?: (r: StepResult) => void | Promise<void>;
  /**
   * Called just before each checkpoint is written, with the steps taken since the previous
   * call: what the caller keeps beside the checkpoints (a loss history) is then on disk no
   * later than the checkpoint, so a kill right after it loses nothing.
   */
  beforeCheckpoint?: (step: number, steps: readonly StepResult[]) => void | Promise<void>;
  /** Whether onStep(step) reads the parameters (an evaluation): with the optimiser in the graph they are synced first. */
  needsParams?: (step: number) => boolean;
  /** Called once after resuming from a checkpoint at `step`, before the next step (e.g. to redo an interrupted evaluation). */
  onResume?: (step: number) => void | Promise<void>;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface TrainLoopResult {
  params: Params;
  optimizer: StableAdamW;
  /** Steps completed in total. */
  step: number;
  /** Step the run started from (0, or the resumed checkpoint's). */
  resumedFrom: number;
  history: StepResult[];
}

/**
 * Loads the newest checkpoint in `dir` into the caller's parameters and `optimizer` when the
 * run's settings match it; returns the step to continue from (0 without a checkpoint).
 */
function resume(o: TrainLoopOptions, dir: string, optimizer: StableAdamW): number {
  const ck = resumeFromCheckpoint(dir, o.params, o.log);
  if (!ck) return 0;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const differs = (message: string) => new ConfigError('train/resume-mismatch', message, dir);
  if (!same(ck.schedule, o.schedule))
    throw differs(
      `the checkpoint was made with schedule ${JSON.stringify(ck.schedule)}, this run uses ${JSON.stringify(o.schedule)}; start a fresh run or keep the settings`,
    );
  if (!same(ck.dataOrder, o.dataOrder))
    throw differs(`the checkpoint was made with data order ${JSON.stringify(ck.dataOrder)}, this run uses ${JSON.stringify(o.dataOrder)}`);
  if (!same(ck.optimizer.options, optimizer.options))
    throw differs(
      `the checkpoint was made with optimiser settings ${JSON.stringify(ck.optimizer.options)}, this run uses ${JSON.stringify(optimizer.options)}`,
    );
  for (const [k, v] of Object.entries(o.identity ?? {})) {
    if (ck.extra?.[k] !== v)
      throw differs(
        `the checkpoint was made with ${k} ${JSON.stringify(ck.extra?.[k])}, this run uses ${JSON.stringify(v)}; start a fresh run or keep the settings`,
      );
  }
  // Copy into the caller's arrays so references they hold stay live.
  for (const [name, p] of ck.params) required(o.params.get(name), `parameter ${name}`).data.set(p.data);
  for (const [name, st] of ck.optimizer.state) optimizer.state.set(name, st);
  o.log?.(`resuming at step ${ck.step}`);
  return ck.step;
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const optimizer = new StableAdamW(o.params, o.optimizer);
  const resumedFrom = o.resume && o.checkpointDir ? resume(o, o.checkpointDir, optimizer) : 0;
  const device = o.program.optimizerInGraph ? new DeviceStepper(o.program.session, o.params, optimizer) : undefined;
  try {
    return await loop(o, optimizer, resumedFrom, device);
  } finally {
    await device?.release();
  }
}

/** The steps from `resumedFrom` on, with the optimiser on the host or (device) in the graph. */
async function loop(
  o: TrainLoopOptions,
  optimizer: StableAdamW,
  resumedFrom: number,
  device: DeviceStepper | undefined,
): Promise<TrainLoopResult> {
  const params = o.params;
  let step = resumedFrom;
  const history: StepResult[] = [];
  const every = o.checkpointEvery ?? 0;
  let reported = 0;
  const save = async () => {
    await device?.sync();
    await o.beforeCheckpoint?.(step, history.slice(reported));
    reported = history.length;
    saveCheckpointIn(
      required(o.checkpointDir, 'the checkpoint folder'),
      { step, params, optimizer, schedule: o.schedule, dataOrder: o.dataOrder, extra: o.identity },
      o.keepCheckpoints ?? 2,
    );
  };
  if (resumedFrom > 0 && !o.signal?.aborted) await o.onResume?.(resumedFrom);
  while (step < o.totalSteps) {
    if (o.signal?.aborted) {
      // Cancelled: keep what was learnt so the run can be resumed from here.
      if (o.checkpointDir && step > resumedFrom) await save();
      break;
    }
    const t0 = performance.now();
    const lr = warmCosineLr(o.schedule, step);
    const batch = await o.makeBatch(batchIndices(o.dataOrder, step), step);
    const { loss, gradNorm, outputs } = device
      ? await device.step(batch, lr, o.program.lossOutput ?? 'loss', o.scalarOutputs ?? [])
      : await trainStep(o.program, params, optimizer, batch, lr, o.maxGradNorm ?? REFERENCE_MAX_GRAD_NORM, o.scalarOutputs);
    const r: StepResult = { step, loss, gradNorm, lr, outputs, ms: performance.now() - t0 };
    step += 1;
    history.push(r);
    if (o.checkpointDir && ((every > 0 && step % every === 0) || step === o.totalSteps)) await save();
    else if (device && o.needsParams?.(step)) await device.sync();
    await o.onStep?.(r);
  }
  await device?.sync();
  return { params, optimizer, step, history, resumedFrom };
}
