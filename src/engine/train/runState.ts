/**
 * What a training run keeps next to its checkpoints so that a killed or cancelled run resumes
 * as if it had never stopped: what the checkpoints belong to (run.json), the validation
 * evaluations and loss history so far (evaluations.json), and the best parameters by the
 * selection rule (best.safetensors, with the step they were taken at).
 *
 * A run whose settings differ from the checkpoints' is refused with a message naming the
 * difference (trainAnyAD itself refuses a changed schedule, optimiser, head, objective or
 * masking).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, required } from '../errors';
import type { MetricSet } from '../eval';
import { readSafetensors, toFloat32, writeSafetensors } from '../safetensors';
import { mkdirs, writeFileAtomic } from '../util/atomic';
import { readRegularTextFile } from '../util/fileio';
import { listCheckpoints } from './checkpoint';
import { cloneParams, makeParams, type Params } from './params';
import { betterByImageAP } from './selection';

/** Files kept next to the checkpoints. */
export const RUN_FILES = Object.freeze({ identity: 'run.json', state: 'evaluations.json', best: 'best.safetensors' });

/** A compact validation record (what progress events and training.json carry). */
export interface EvaluationRecord {
  step: number;
  meanImageAP: number;
  meanImageAUROC: number;
  meanPixelAUROC: number;
  perSubset: Record<string, MetricSet>;
  seconds: number;
}

interface SavedState {
  evaluations: EvaluationRecord[];
  /** [step, loss, recon, gather, align] per step. */
  losses: number[][];
}

/** JSON with non-finite numbers as null (NaN APs of one-sided sets). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

function saveParams(path: string, params: Params, step: number): void {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, p] of params) tensors[name] = { shape: [...p.shape], data: p.data };
  writeSafetensors(path, tensors, { step: String(step) });
}

function loadParams(path: string): { params: Params; step: number } | undefined {
  if (!existsSync(path)) return undefined;
  const f = readSafetensors(path);
  return {
    params: makeParams([...f.tensors].map(([k, t]) => [k, t.shape, toFloat32(t, k)] as [string, readonly number[], Float32Array])),
    step: Number(f.metadata.step),
  };
}

/** Refuses checkpoints made for another run; records the identity for a fresh one. */
function checkRunIdentity(dir: string, identity: Record<string, unknown>): void {
  const file = join(dir, RUN_FILES.identity);
  if (listCheckpoints(dir).length > 0 && existsSync(file)) {
    let saved: Record<string, unknown>;
    try {
      saved = JSON.parse(readRegularTextFile(file, { maxBytes: 256 << 20 })) as Record<string, unknown>;
    } catch {
      throw new ConfigError(
        'train/resume-mismatch',
        `${RUN_FILES.identity} is unreadable; delete the checkpoints folder to start afresh`,
        file,
      );
    }
    for (const key of Object.keys(identity)) {
      if (JSON.stringify(saved[key]) !== JSON.stringify(identity[key])) {
        const sliceSet = /^(train|val|test)Slices$/.exec(key);
        const what = sliceSet
          ? `a different ${{ train: 'training', val: 'validation', test: 'test' }[sliceSet[1]]} slice set`
          : `${key} ${JSON.stringify(saved[key])}`;
        throw new ConfigError(
          'train/resume-mismatch',
          `the checkpoints here were made with ${what}, this run differs in '${key}'; delete this folder to start afresh or restore the settings`,
          dir,
        );
      }
    }
    return;
  }
  mkdirs(dir); // typed errors (Node's recursive mkdir says ENOENT on a read-only disk)
  writeFileAtomic(file, JSON.stringify(identity, null, 2) + '\n');
}

export class RunState {
  readonly evaluations: EvaluationRecord[];
  readonly losses: number[][];
  private bestStep: number | undefined;
  private bestAP: number | undefined;
  private bestParams: Params | undefined;

  private constructor(
    private readonly dir: string,
    saved: SavedState,
  ) {
    this.evaluations = saved.evaluations;
    this.losses = saved.losses;
  }

  /**
   * Opens the state of the run in `dir` (checked against `identity`), keeping what belongs to
   * steps up to the newest checkpoint. Without the best parameters on disk the evaluations
   * are dropped, so selection runs again over evaluations it can still act on.
   */
  static open(dir: string, identity: Record<string, unknown>): RunState {
    checkRunIdentity(dir, identity);
    const newest = listCheckpoints(dir)[0]?.step ?? 0;
    const state = new RunState(dir, loadState(dir, newest));
    for (const e of state.evaluations) {
      if (betterByImageAP(e.meanImageAP, state.bestAP)) {
        state.bestStep = e.step;
        state.bestAP = e.meanImageAP;
      }
    }
    if (state.bestStep !== undefined) {
      const saved = loadParams(join(dir, RUN_FILES.best));
      if (saved && saved.step === state.bestStep) state.bestParams = saved.params;
      else {
        state.evaluations.length = 0;
        state.bestStep = undefined;
        state.bestAP = undefined;
      }
    }
    return state;
  }

  /** Appends the losses of steps after the last one recorded (records already kept are skipped). */
  addLosses(records: ReadonlyArray<{ step: number; loss: number; recon: number; gather: number; align: number }>): void {
    const last = this.losses.length ? this.losses[this.losses.length - 1][0] : -1;
    for (const h of records) if (h.step > last) this.losses.push([h.step, h.loss, h.recon, h.gather, h.align]);
  }

  hasEvaluated(step: number): boolean {
    return this.evaluations.some((e) => e.step === step);
  }

  /** Records an evaluation of `params` at its step; returns whether it is the best so far (then its parameters are kept). */
  record(rec: EvaluationRecord, params: Params): boolean {
    this.evaluations.push(rec);
    const isBest = betterByImageAP(rec.meanImageAP, this.bestAP);
    if (isBest) {
      this.bestStep = rec.step;
      this.bestAP = rec.meanImageAP;
      this.bestParams = cloneParams(params);
      saveParams(join(this.dir, RUN_FILES.best), params, rec.step);
    }
    this.save();
    return isBest;
  }

  /** The selected evaluation and its parameters (undefined before any evaluation). */
  best(): { record: EvaluationRecord; params: Params } | undefined {
    if (this.bestStep === undefined || !this.bestParams) return undefined;
    const record = required(
      this.evaluations.find((e) => e.step === this.bestStep),
      `the evaluation of step ${this.bestStep}`,
    );
    return { record, params: this.bestParams };
  }

  save(): void {
    writeFileAtomic(join(this.dir, RUN_FILES.state), toJson({ evaluations: this.evaluations, losses: this.losses } satisfies SavedState));
  }
}

function loadState(dir: string, upToStep: number): SavedState {
  const file = join(dir, RUN_FILES.state);
  if (!existsSync(file)) return { evaluations: [], losses: [] };
  try {
    const s = JSON.parse(readRegularTextFile(file, { maxBytes: 256 << 20 })) as SavedState;
    const num = (v: unknown) => (v === null ? Number.NaN : (v as number));
    return {
      evaluations: s.evaluations
        .filter((e) => e.step <= upToStep)
        .map((e) => ({
          ...e,
          meanImageAP: num(e.meanImageAP),
          meanImageAUROC: num(e.meanImageAUROC),
          meanPixelAUROC: num(e.meanPixelAUROC),
        })),
      losses: s.losses.filter((l) => l[0] < upToStep),
    };
  } catch {
    return { evaluations: [], losses: [] };
  }
}
