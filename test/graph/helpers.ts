/** Test helpers: run a built graph through onnxruntime (CPU), seeded random data, comparisons. */
import assert from 'node:assert/strict';
import { type EmitOptions, Graph, type Tensor, type TensorData, emitModel, grad, mul, reduceSum } from '../../src/engine/graph';
import { type Session, createSession, run } from '../../src/engine/graph/runtime';

export async function sessionFor(g: Graph, opts: EmitOptions = {}): Promise<Session> {
  return createSession(emitModel(g, opts), { provider: 'cpu', threads: 1 });
}

/** Feeds every graph input (and params when emitted as inputs) from `data`; returns all outputs by name. */
export async function runSession(
  s: Session,
  g: Graph,
  data: Record<string, TensorData>,
  fetch?: string[],
): Promise<Record<string, TensorData>> {
  const shapes: Record<string, number[]> = {};
  for (const t of [...g.inputs, ...g.params]) shapes[t.name] = [...t.shape];
  const feeds: Record<string, TensorData> = {};
  for (const name of s.inputNames) {
    if (!(name in data)) throw new Error(`test feeds lack ${name}`);
    feeds[name] = data[name];
  }
  const out = await run(s, feeds, shapes, fetch);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as TensorData]));
}

export async function runGraph(g: Graph, data: Record<string, TensorData>, opts: EmitOptions = {}): Promise<Record<string, TensorData>> {
  return runSession(await sessionFor(g, opts), g, data);
}

import { mulberry32 as rng } from '../helpers/random';
export { rng };

export function randn(rand: () => number, n: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

export function typed(dtype: 'float32' | 'float64', values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

/** max |a − b| / max |b| (b = reference). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}

export interface GradCheckInput {
  name: string;
  shape: number[];
  /** Values; default: seeded standard normal. */
  values?: number[];
}

export interface GradCheckResult {
  /** Worst relative error over the inputs. */
  worst: number;
  perInput: Record<string, number>;
  /** Analytic gradients (for extra assertions). */
  analytic: Record<string, number[]>;
}

/** The gradient-check graph: inputs → build → L = Σ(out ⊙ R) (R seeded) with grad outputs 'grad.<input>'. */
export function lossGraph(
  dtype: 'float32' | 'float64',
  inputs: GradCheckInput[],
  build: (g: Graph, ts: Tensor[]) => Tensor,
  seed = 1,
): { g: Graph; data: Record<string, Float32Array | Float64Array> } {
  const rand = rng(seed);
  const g = new Graph('gradcheck');
  const ts = inputs.map((i) => g.input(i.name, i.shape, dtype));
  const out = build(g, ts);
  const r = g.constant(typed(dtype, randn(rand, out.size)), out.shape);
  const loss = g.output('loss', reduceSum(mul(out, r)));
  grad(loss, ts);
  const data: Record<string, Float32Array | Float64Array> = {};
  for (const i of inputs)
    data[i.name] = typed(
      dtype,
      i.values ??
        randn(
          rand,
          i.shape.reduce((a, b) => a * b, 1),
        ),
    );
  return { g, data };
}

/**
 * Runs lossGraph in onnxruntime and compares every input's analytic gradient with central
 * finite differences of the same ONNX forward.
 */
export async function gradCheck(
  dtype: 'float32' | 'float64',
  inputs: GradCheckInput[],
  build: (g: Graph, ts: Tensor[]) => Tensor,
  opts: { seed?: number; eps?: number } = {},
): Promise<GradCheckResult> {
  const { g, data } = lossGraph(dtype, inputs, build, opts.seed);
  const s = await sessionFor(g);
  const base = await runSession(s, g, data);
  const eps = opts.eps ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const perInput: Record<string, number> = {};
  const analytic: Record<string, number[]> = {};
  for (const i of inputs) {
    const x = data[i.name];
    const numeric: number[] = [];
    for (let k = 0; k < x.length; k++) {
      const keep = x[k];
      x[k] = keep + eps;
      const lp = Number((await runSession(s, g, data, ['loss'])).loss[0]);
      x[k] = keep - eps;
      const lm = Number((await runSession(s, g, data, ['loss'])).loss[0]);
      x[k] = keep;
      // The perturbation actually applied (float32 rounds keep ± eps).
      const h = dtype === 'float32' ? Math.fround(keep + eps) - Math.fround(keep - eps) : 2 * eps;
      numeric.push((lp - lm) / h);
    }
    analytic[i.name] = Array.from(base[`grad.${i.name}`] as Float32Array | Float64Array);
    perInput[i.name] = relErr(analytic[i.name], numeric);
  }
  return { worst: Math.max(...Object.values(perInput)), perInput, analytic };
}
