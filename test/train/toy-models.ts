/**
 * Small training problems for the end-to-end tests (a helper, not a test): a 2-layer MLP and
 * a 1-block pre-norm transformer, built with the graph builder as training graphs
 * (parameters are graph inputs; outputs: 'loss' and 'grad.<param>'), plus seeded synthetic
 * datasets produced by a fixed random "teacher" function.
 */
import {
  Graph,
  type Tensor,
  add,
  emitModel,
  gelu,
  grad,
  layerNorm,
  matmul,
  mul,
  reduceMean,
  relu,
  reshape,
  slice,
  softmax,
  sub,
  transpose,
  transposeLast2,
} from '../../src/engine/graph';
import { createSession } from '../../src/engine/graph/runtime';
import type { Batch, TrainingProgram } from '../../src/engine/train/step';
import { appendToTrainingGraph } from '../../src/engine/train/optimGraph';
import { makeParams, type Params } from '../../src/engine/train/params';
import { createRng, mixSeed } from '../../src/engine/util/random';

export interface ToyProblem {
  name: string;
  /** Initial parameters (fresh arrays on every call of `init`). */
  init: () => Params;
  /** The training program; `inGraph`: with clip + StableAdamW appended (parameters and state stay in the session). */
  program: (o?: { inGraph?: boolean }) => Promise<TrainingProgram>;
  datasetSize: number;
  batchSize: number;
  makeBatch: (indices: number[]) => Batch;
}

function normals(seed: number, n: number, scale: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** Declares the params of `spec` in the graph, in order, as inputs-to-be. */
function declare(g: Graph, spec: Params): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, p] of spec) out.set(name, g.param(name, p.shape, p.data));
  return out;
}

function mse(pred: Tensor, target: Tensor): Tensor {
  const d = sub(pred, target);
  return reduceMean(mul(d, d));
}

async function trainingProgram(
  g: Graph,
  loss: Tensor,
  params: Map<string, Tensor>,
  threads: number,
  o: { inGraph?: boolean } = {},
): Promise<TrainingProgram> {
  g.output('loss', loss);
  grad(loss, [...params.values()]);
  if (o.inGraph) appendToTrainingGraph(g);
  const session = await createSession(emitModel(g, { paramsAs: 'inputs' }), { provider: 'cpu', threads });
  return { session, optimizerInGraph: o.inGraph };
}

/** Dataset: inputs N(0,1); targets = teacher(inputs), computed once in float64. */
function dataset(
  seed: number,
  n: number,
  inSize: number,
  teacher: (x: Float64Array) => Float64Array,
): { xs: Float32Array[]; ys: Float32Array[] } {
  const rng = createRng(seed);
  const xs: Float32Array[] = [],
    ys: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const x = Float64Array.from({ length: inSize }, () => rng.normal());
    xs.push(Float32Array.from(x));
    ys.push(Float32Array.from(teacher(x)));
  }
  return { xs, ys };
}

function batchOf(indices: number[], xs: Float32Array[], ys: Float32Array[], xShape: number[], yShape: number[]): Batch {
  const x = new Float32Array(indices.length * xs[0].length);
  const y = new Float32Array(indices.length * ys[0].length);
  indices.forEach((k, i) => {
    x.set(xs[k], i * xs[0].length);
    y.set(ys[k], i * ys[0].length);
  });
  return { feeds: { x, y }, shapes: { x: [indices.length, ...xShape], y: [indices.length, ...yShape] } };
}

/** y = tanh-ish teacher MLP of x (8 → 4); student: 8 → 32 (ReLU) → 4, MSE. */
export function mlpProblem(seed = 1, threads = 1): ToyProblem {
  const IN = 8,
    HID = 32,
    OUT = 4,
    N = 64,
    B = 16;
  const tw1 = normals(mixSeed(seed, 1), IN * 6, 1 / Math.sqrt(IN));
  const tw2 = normals(mixSeed(seed, 2), 6 * OUT, 1 / Math.sqrt(6));
  const teacher = (x: Float64Array) => {
    const h = Array.from({ length: 6 }, (_, j) => Math.tanh(x.reduce((s, v, i) => s + v * tw1[i * 6 + j], 0)));
    return Float64Array.from({ length: OUT }, (_, o) => h.reduce((s, v, j) => s + v * tw2[j * OUT + o], 0));
  };
  const { xs, ys } = dataset(mixSeed(seed, 3), N, IN, teacher);
  const init = () =>
    makeParams([
      ['fc1.weight', [IN, HID], normals(mixSeed(seed, 10), IN * HID, 1 / Math.sqrt(IN))],
      ['fc1.bias', [HID], new Float32Array(HID)],
      ['fc2.weight', [HID, OUT], normals(mixSeed(seed, 11), HID * OUT, 1 / Math.sqrt(HID))],
      ['fc2.bias', [OUT], new Float32Array(OUT)],
    ]);
  return {
    name: 'mlp',
    init,
    datasetSize: N,
    batchSize: B,
    makeBatch: (idx) => batchOf(idx, xs, ys, [IN], [OUT]),
    program: async (o) => {
      const g = new Graph('toy-mlp');
      const x = g.input('x', [B, IN]);
      const y = g.input('y', [B, OUT]);
      const p = declare(g, init());
      const h = relu(add(matmul(x, p.get('fc1.weight')!), p.get('fc1.bias')!));
      const pred = add(matmul(h, p.get('fc2.weight')!), p.get('fc2.bias')!);
      return trainingProgram(g, mse(pred, y), p, threads, o);
    },
  };
}

/**
 * Tokens [T=6, D=16]; the target of each token mixes the token with the mean of all tokens
 * (so attention is needed) through fixed random maps. Student: one pre-norm transformer block
 * (2 heads, MLP 4×, GELU) + a linear head, MSE.
 */
export function transformerProblem(seed = 2, threads = 1): ToyProblem {
  const T = 6,
    D = 16,
    H = 2,
    HD = D / H,
    OUT = 4,
    N = 48,
    B = 8;
  const ta = normals(mixSeed(seed, 1), D * OUT, 1 / Math.sqrt(D));
  const tb = normals(mixSeed(seed, 2), D * OUT, 1 / Math.sqrt(D));
  const teacher = (x: Float64Array) => {
    const mean = Float64Array.from({ length: D }, (_, d) => {
      let s = 0;
      for (let t = 0; t < T; t++) s += x[t * D + d];
      return s / T;
    });
    const y = new Float64Array(T * OUT);
    for (let t = 0; t < T; t++)
      for (let o = 0; o < OUT; o++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += x[t * D + d] * ta[d * OUT + o] + mean[d] * tb[d * OUT + o] * 2;
        y[t * OUT + o] = s;
      }
    return y;
  };
  const { xs, ys } = dataset(mixSeed(seed, 3), N, T * D, teacher);
  const init = () => {
    let k = 10;
    const w = (name: string, i: number, o: number): Array<[string, number[], Float32Array]> => [
      [`${name}.weight`, [i, o], normals(mixSeed(seed, k++), i * o, 1 / Math.sqrt(i))],
      [`${name}.bias`, [o], new Float32Array(o)],
    ];
    const ln = (name: string): Array<[string, number[], Float32Array]> => [
      [`${name}.weight`, [D], new Float32Array(D).fill(1)],
      [`${name}.bias`, [D], new Float32Array(D)],
    ];
    return makeParams([
      ...ln('norm1'),
      ...w('qkv', D, 3 * D),
      ...w('proj', D, D),
      ...ln('norm2'),
      ...w('fc1', D, 4 * D),
      ...w('fc2', 4 * D, D),
      ...w('head', D, OUT),
    ]);
  };
  return {
    name: 'transformer',
    init,
    datasetSize: N,
    batchSize: B,
    makeBatch: (idx) => batchOf(idx, xs, ys, [T, D], [T, OUT]),
    program: async (o) => {
      const g = new Graph('toy-transformer');
      const x = g.input('x', [B, T, D]);
      const y = g.input('y', [B, T, OUT]);
      const p = declare(g, init());
      const P = (n: string) => p.get(n)!;
      const linear = (v: Tensor, n: string) => add(matmul(v, P(`${n}.weight`)), P(`${n}.bias`));
      const heads = (v: Tensor) => transpose(reshape(v, [B, T, H, HD]), [0, 2, 1, 3]); // [B,H,T,HD]
      const h1 = layerNorm(x, P('norm1.weight'), P('norm1.bias'), 1e-6);
      const qkv = linear(h1, 'qkv');
      const q = heads(sliceLast(qkv, 0, D)),
        k = heads(sliceLast(qkv, D, 2 * D)),
        v = heads(sliceLast(qkv, 2 * D, 3 * D));
      const att = softmax(mul(matmul(q, transposeLast2(k)), 1 / Math.sqrt(HD)));
      const ctx = reshape(transpose(matmul(att, v), [0, 2, 1, 3]), [B, T, D]);
      const r1 = add(x, linear(ctx, 'proj'));
      const r2 = add(r1, linear(gelu(linear(layerNorm(r1, P('norm2.weight'), P('norm2.bias'), 1e-6), 'fc1')), 'fc2'));
      return trainingProgram(g, mse(linear(r2, 'head'), y), p, threads, o);
    },
  };
}

function sliceLast(t: Tensor, from: number, to: number): Tensor {
  return slice(t, [from], [to], [-1]);
}
