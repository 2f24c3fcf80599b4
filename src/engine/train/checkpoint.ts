/**
 * Training checkpoints: parameters and the complete optimiser state in one safetensors file,
 * with what else a resumed run needs (completed steps, schedule, data order, RNG state,
 * caller extras) in its metadata. Files are written atomically (temp + fsync + rename), so a
 * crash leaves either the previous checkpoint or the new one, never a torn file; resuming
 * picks the newest file that parses.
 *
 * Layout: tensors `param/<name>`, `optim/<name>/exp_avg`, `optim/<name>/exp_avg_sq`,
 * `optim/<name>/max_exp_avg_sq`; metadata `anyad_checkpoint` (format version), `step`,
 * `optimizer` (JSON: options + per-parameter step counts), `schedule`, `data_order`, `rng`,
 * `extra` (JSON).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsError, required } from '../errors';
import { readSafetensors, toFloat32, type TensorToWrite, writeSafetensors } from '../safetensors';
import type { DataOrder } from './data-order';
import { type AdamParamState, StableAdamW, type StableAdamWOptions } from './optim';
import { makeParams, type Params } from './params';
import type { WarmCosineConfig } from './schedule';

const FORMAT = '1';

export interface TrainingState {
  /** Optimiser steps completed; the next step to run has this 0-based index. */
  step: number;
  params: Params;
  optimizer: StableAdamW;
  schedule?: WarmCosineConfig;
  dataOrder?: DataOrder;
  /** Serialised state of any generator the trainer keeps (not needed when randomness is keyed by step). */
  rng?: string;
  /** Anything else the trainer wants back (config hash, loss history…), as strings. */
  extra?: Record<string, string>;
}

interface OptimizerMeta {
  type: 'StableAdamW';
  options: StableAdamWOptions;
  /** Per-parameter step counts, for parameters that have state. */
  steps: Record<string, number>;
}

export function saveCheckpoint(path: string, s: TrainingState): void {
  if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`checkpoint step must be a non-negative integer, got ${s.step}`);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, p] of s.params) tensors[`param/${name}`] = { shape: [...p.shape], data: p.data };
  const steps: Record<string, number> = {};
  for (const [name, st] of s.optimizer.state) {
    const shape = [...required(s.params.get(name), `parameter ${name}`).shape];
    steps[name] = st.step;
    tensors[`optim/${name}/exp_avg`] = { shape, data: st.expAvg };
    tensors[`optim/${name}/exp_avg_sq`] = { shape, data: st.expAvgSq };
    if (st.maxExpAvgSq) tensors[`optim/${name}/max_exp_avg_sq`] = { shape, data: st.maxExpAvgSq };
  }
  const optimizer: OptimizerMeta = { type: 'StableAdamW', options: { ...s.optimizer.options }, steps };
  const meta: Record<string, string> = { anyad_checkpoint: FORMAT, step: String(s.step), optimizer: JSON.stringify(optimizer) };
  if (s.schedule) meta.schedule = JSON.stringify(s.schedule);
  if (s.dataOrder) meta.data_order = JSON.stringify(s.dataOrder);
  if (s.rng !== undefined) meta.rng = s.rng;
  if (s.extra) meta.extra = JSON.stringify(s.extra);
  writeSafetensors(path, tensors, meta);
}

/** The checkpoint's parameters must be exactly the model's: the same names, each with the same shape. */
function checkSameParams(params: Params, expect: Params, fail: (msg: string) => never): void {
  for (const [name, p] of expect) {
    const got = params.get(name);
    if (!got) fail(`parameter '${name}' is missing`);
    else if (got.shape.join(',') !== p.shape.join(','))
      fail(`parameter '${name}' has shape [${got.shape.join(', ')}], the model [${p.shape.join(', ')}]`);
  }
  for (const name of params.keys()) if (!expect.has(name)) fail(`parameter '${name}' is not part of this model`);
}

/**
 * Reads a checkpoint back into fresh parameters and a StableAdamW holding the saved state.
 * With `expect`, the parameter names and shapes must match it (a checkpoint of another model
 * is refused with a message naming the difference).
 */
export function loadCheckpoint(path: string, expect?: Params): TrainingState {
  const file = readSafetensors(path);
  const fail = (msg: string): never => {
    throw new SafetensorsError('checkpoint/invalid', msg, path);
  };
  const m = file.metadata;
  if (m.anyad_checkpoint !== FORMAT)
    fail(`not an AnyAD training checkpoint (format ${JSON.stringify(m.anyad_checkpoint)}, expected ${FORMAT})`);
  const step = Number(m.step);
  if (!Number.isInteger(step) || step < 0) fail(`metadata step ${JSON.stringify(m.step)} is not a step count`);
  const json = <T>(key: string): T | undefined => {
    if (m[key] === undefined) return undefined;
    try {
      return JSON.parse(m[key]) as T;
    } catch {
      return fail(`metadata '${key}' is not valid JSON`);
    }
  };

  const entries: Array<[string, readonly number[], Float32Array]> = [];
  for (const [key, t] of file.tensors) {
    if (!key.startsWith('param/')) continue;
    if (t.dtype !== 'F32') fail(`tensor '${key}' is ${t.dtype}, expected F32`);
    entries.push([key.slice('param/'.length), t.shape, toFloat32(t, key)]);
  }
  const params = makeParams(entries);
  if (expect) checkSameParams(params, expect, fail);

  const om = json<OptimizerMeta>('optimizer') ?? fail('metadata has no optimizer state');
  if (om.type !== 'StableAdamW') fail(`optimizer type ${JSON.stringify(om.type)} is not supported`);
  const optimizer = new StableAdamW(params, om.options);
  for (const [name, count] of Object.entries(om.steps)) {
    const p = params.get(name) ?? fail(`optimizer state for unknown parameter '${name}'`);
    const get = (what: string): Float32Array => {
      const t = file.tensors.get(`optim/${name}/${what}`) ?? fail(`tensor 'optim/${name}/${what}' is missing`);
      if (t.dtype !== 'F32' || t.shape.join(',') !== p.shape.join(','))
        fail(`tensor 'optim/${name}/${what}' is ${t.dtype}[${t.shape.join(', ')}], expected F32[${p.shape.join(', ')}]`);
      return toFloat32(t, what);
    };
    if (!Number.isInteger(count) || count < 1) fail(`optimizer step count of '${name}' is ${count}`);
    const st: AdamParamState = {
      step: count,
      expAvg: get('exp_avg'),
      expAvgSq: get('exp_avg_sq'),
      maxExpAvgSq: optimizer.options.amsgrad ? get('max_exp_avg_sq') : null,
    };
    optimizer.state.set(name, st);
  }
  return {
    step,
    params,
    optimizer,
    schedule: json<WarmCosineConfig>('schedule'),
    dataOrder: json<DataOrder>('data_order'),
    rng: m.rng,
    extra: json<Record<string, string>>('extra'),
  };
}

const NAME = /^checkpoint-(\d{8})\.safetensors$/;

/** File name of the checkpoint taken after `step` completed steps (zero-padded: names sort by step). */
export function checkpointPath(dir: string, step: number): string {
  return join(dir, `checkpoint-${String(step).padStart(8, '0')}.safetensors`);
}

/** Checkpoints in `dir`, newest first. */
export function listCheckpoints(dir: string): Array<{ step: number; path: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .flatMap((n) => {
      const mm = NAME.exec(n);
      return mm ? [{ step: Number(mm[1]), path: join(dir, n) }] : [];
    })
    .sort((a, b) => b.step - a.step);
}

/**
 * The newest checkpoint in `dir` that loads (an unreadable one — e.g. from a disk that filled
 * up — is skipped in favour of the one before); undefined when there is none.
 */
export function resumeFromCheckpoint(dir: string, expect?: Params, log?: (message: string) => void): TrainingState | undefined {
  for (const c of listCheckpoints(dir)) {
    try {
      return loadCheckpoint(c.path, expect);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
      log?.(`skipping unreadable checkpoint: ${e.message}`);
    }
  }
  return undefined;
}

/** Saves the checkpoint for `state.step` into `dir` and deletes all but the newest `keep`. */
export function saveCheckpointIn(dir: string, state: TrainingState, keep = 2): string {
  const path = checkpointPath(dir, state.step);
  saveCheckpoint(path, state);
  for (const old of listCheckpoints(dir).slice(Math.max(1, keep))) rmSync(old.path, { force: true });
  return path;
}
