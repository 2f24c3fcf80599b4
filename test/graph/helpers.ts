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
): { g: Graph; data: Record<string, Float32Array | Float64Array>; weights: Float32Array | Float64Array } {
  const rand = rng(seed);
  const g = new Graph('gradcheck');
  const ts = inputs.map((i) => g.input(i.name, i.shape, dtype));
  const out = build(g, ts);
  const weights = typed(dtype, randn(rand, out.size));
  const r = g.constant(weights, out.shape);
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
  return { g, data, weights };
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

/**
 * The float32 gradient check: the analytic gradient comes from the float32 graph in
 * onnxruntime, the finite differences from `reference`, a float64 forward of the same
 * function (float32 differences are only good to ~1e-3, too coarse to see a 1 % error).
 * `lossGap` is the relative difference of the two losses at the unperturbed inputs, which
 * shows the reference computes what the graph computes.
 */
export async function referenceGradCheck(
  inputs: GradCheckInput[],
  build: (g: Graph, ts: Tensor[]) => Tensor,
  reference: (xs: Float64Array[]) => Float64Array,
  opts: { seed?: number; eps?: number } = {},
): Promise<GradCheckResult & { lossGap: number }> {
  const { g, data, weights } = lossGraph('float32', inputs, build, opts.seed);
  const base = await runSession(await sessionFor(g), g, data);
  const xs = inputs.map((i) => Float64Array.from(data[i.name]));
  const loss64 = (): number => {
    const out = reference(xs);
    assert.equal(out.length, weights.length, 'the reference gives an output of another size than the graph');
    return out.reduce((acc, v, k) => acc + v * weights[k], 0);
  };
  const lossGap = Math.abs(Number(base.loss[0]) - loss64()) / Math.max(Math.abs(loss64()), 1e-30);
  const eps = opts.eps ?? 1e-4;
  const perInput: Record<string, number> = {};
  const analytic: Record<string, number[]> = {};
  inputs.forEach((input, k) => {
    const x = xs[k];
    const numeric = Array.from(x, (keep, j) => {
      x[j] = keep + eps;
      const lp = loss64();
      x[j] = keep - eps;
      const lm = loss64();
      x[j] = keep;
      return (lp - lm) / (2 * eps);
    });
    analytic[input.name] = Array.from(base[`grad.${input.name}`] as Float32Array);
    perInput[input.name] = relErr(analytic[input.name], numeric);
  });
  return { worst: Math.max(...Object.values(perInput)), perInput, analytic, lossGap };
}
