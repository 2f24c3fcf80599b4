/** The op cases shared by the gradient checks and the ONNX checker test. */
import {
  type Graph,
  type Tensor,
  add,
  clip,
  concat,
  conv,
  cosineSimilarity,
  div,
  dropout,
  erf,
  exp,
  expand,
  gather,
  gelu,
  l2Normalize,
  layerNorm,
  log,
  matmul,
  mul,
  neg,
  pad,
  pow,
  reduceMax,
  reduceMean,
  reduceMin,
  reduceSum,
  relu,
  reshape,
  resize,
  sigmoid,
  slice,
  softmax,
  split,
  sqrt,
  sub,
  sum,
  tanh,
  transpose,
  where,
  greater,
  cast,
  squeeze,
  unsqueeze,
} from '../../src/engine/graph';
import { type GradCheckInput, randn, rng } from './helpers';
import { type Reference, convReference, erfReference, expReference, geluReference, layerNormReference } from './references';

export type Case = {
  name: string;
  dtype?: 'float32' | 'float64';
  inputs: GradCheckInput[];
  build: (g: Graph, ts: Tensor[]) => Tensor;
  /** float32 cases: the same function in float64, for the finite differences (see referenceGradCheck). */
  reference?: Reference;
};

const positive = (n: number, seed: number): number[] => randn(rng(seed), n).map((v) => 0.5 + Math.abs(v));
const awayFromZero = (n: number, seed: number): number[] => randn(rng(seed), n).map((v) => (v < 0 ? v - 0.1 : v + 0.1));
const distinct = (n: number, seed: number): number[] => {
  // A shuffled ramp: no ties, gaps ≫ the finite-difference step.
  const r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
};
const in3 = (name = 'a', shape = [2, 3, 4]): GradCheckInput => ({ name, shape });

export const CASES: Case[] = [
  { name: 'add [2,3,4] + [3,1]', inputs: [in3(), { name: 'b', shape: [3, 1] }], build: (g, [a, b]) => add(a, b) },
  { name: 'sub [4] - [2,3,4]', inputs: [{ name: 'a', shape: [4] }, in3('b')], build: (g, [a, b]) => sub(a, b) },
  { name: 'mul [2,3,4] * [2,1,4]', inputs: [in3(), { name: 'b', shape: [2, 1, 4] }], build: (g, [a, b]) => mul(a, b) },
  { name: 'div [2,3,4] / [3,1]', inputs: [in3(), { name: 'b', shape: [3, 1], values: positive(3, 5) }], build: (g, [a, b]) => div(a, b) },
  {
    name: 'pow [2,3] ^ [3] (both differentiated)',
    inputs: [
      { name: 'a', shape: [2, 3], values: positive(6, 6) },
      { name: 'b', shape: [3] },
    ],
    build: (g, [a, b]) => pow(a, b),
  },
  { name: 'pow x^3 and x^2 (constant exponents)', inputs: [in3()], build: (g, [a]) => add(pow(a, 3), pow(a, 2)) },
  {
    name: 'sum of three broadcasting tensors',
    inputs: [in3(), { name: 'b', shape: [4] }, { name: 'c', shape: [3, 1] }],
    build: (g, [a, b, c]) => sum([a, b, c]),
  },
  { name: 'neg', inputs: [in3()], build: (g, [a]) => neg(a) },
  { name: 'sqrt', inputs: [{ name: 'a', shape: [2, 3], values: positive(6, 7) }], build: (g, [a]) => sqrt(a) },
  { name: 'exp', inputs: [in3()], build: (g, [a]) => exp(a) },
  { name: 'log', inputs: [{ name: 'a', shape: [2, 3], values: positive(6, 8) }], build: (g, [a]) => log(a) },
  { name: 'relu', inputs: [{ name: 'a', shape: [2, 3, 4], values: awayFromZero(24, 9) }], build: (g, [a]) => relu(a) },
  { name: 'sigmoid', inputs: [in3()], build: (g, [a]) => sigmoid(a) },
  { name: 'tanh', inputs: [in3()], build: (g, [a]) => tanh(a) },
  {
    name: 'clip(x, -0.5, 0.7)',
    inputs: [{ name: 'a', shape: [2, 3, 4], values: distinct(24, 10).map((v) => v + 0.05) }],
    build: (g, [a]) => clip(a, -0.5, 0.7),
  },
  {
    name: 'clip(x, min only)',
    inputs: [{ name: 'a', shape: [2, 3, 4], values: distinct(24, 11).map((v) => v + 0.05) }],
    build: (g, [a]) => clip(a, 0.1),
  },
  { name: 'softmax axis 1', inputs: [in3()], build: (g, [a]) => softmax(a, 1) },
  { name: 'softmax last axis', inputs: [in3()], build: (g, [a]) => softmax(a, -1) },
  {
    name: 'layerNorm [2,3,5] with w, b (composite)',
    inputs: [
      { name: 'x', shape: [2, 3, 5] },
      { name: 'w', shape: [5] },
      { name: 'b', shape: [5] },
    ],
    build: (g, [x, w, b]) => layerNorm(x, w, b, 1e-5),
  },
  { name: 'reduceSum axes [0,2] keepdims', inputs: [in3()], build: (g, [a]) => reduceSum(a, [0, 2], true) },
  { name: 'reduceSum all', inputs: [in3()], build: (g, [a]) => reduceSum(a) },
  { name: 'reduceMean axis -1', inputs: [in3()], build: (g, [a]) => reduceMean(a, [-1]) },
  { name: 'reduceMean axes [0,1] keepdims', inputs: [in3()], build: (g, [a]) => reduceMean(a, [0, 1], true) },
  { name: 'reduceMax axis 1', inputs: [{ name: 'a', shape: [2, 3, 4], values: distinct(24, 12) }], build: (g, [a]) => reduceMax(a, [1]) },
  {
    name: 'reduceMin axes [0,2] keepdims',
    inputs: [{ name: 'a', shape: [2, 3, 4], values: distinct(24, 13) }],
    build: (g, [a]) => reduceMin(a, [0, 2], true),
  },
  { name: 'matmul [2,3,4] x [4,5]', inputs: [in3(), { name: 'b', shape: [4, 5] }], build: (g, [a, b]) => matmul(a, b) },
  {
    name: 'matmul [3,4] x [2,4,5]',
    inputs: [
      { name: 'a', shape: [3, 4] },
      { name: 'b', shape: [2, 4, 5] },
    ],
    build: (g, [a, b]) => matmul(a, b),
  },
  {
    name: 'matmul [2,1,3,4] x [3,4,2]',
    inputs: [
      { name: 'a', shape: [2, 1, 3, 4] },
      { name: 'b', shape: [3, 4, 2] },
    ],
    build: (g, [a, b]) => matmul(a, b),
  },
  { name: 'reshape + squeeze/unsqueeze', inputs: [in3()], build: (g, [a]) => squeeze(unsqueeze(reshape(a, [4, -1]), 0), [0]) },
  { name: 'transpose [2,0,1]', inputs: [in3()], build: (g, [a]) => transpose(a, [2, 0, 1]) },
  { name: 'concat axis 1', inputs: [in3(), { name: 'b', shape: [2, 1, 4] }], build: (g, [a, b]) => concat([a, b, a], 1) },
  {
    name: 'split axis 2 (parts reused unevenly)',
    inputs: [in3()],
    build: (g, [a]) => {
      const [p, q] = split(a, [1, 3], 2);
      return mul(q, p);
    },
  },
  { name: 'slice step 1 with negative start', inputs: [in3()], build: (g, [a]) => slice(a, [-2, 1], [100, 3], [1, 2]) },
  { name: 'slice steps 2 and 3', inputs: [{ name: 'a', shape: [3, 7, 5] }], build: (g, [a]) => slice(a, [1, 0], [7, 5], [1, 2], [2, 3]) },
  { name: 'pad', inputs: [in3()], build: (g, [a]) => pad(a, [0, 1, 2, 1, 0, 0]) },
  { name: 'gather constant indices with repeats, axis 1', inputs: [in3()], build: (g, [a]) => gather(a, [2, 0, 2, -1], 1) },
  { name: 'gather scalar index (drops the axis)', inputs: [in3()], build: (g, [a]) => gather(a, 1, 2) },
  {
    name: 'gather with computed int64 indices',
    inputs: [in3(), { name: 'k', shape: [2, 3] }],
    build: (g, [a, k]) => {
      // indices come from the graph (not a constant): 2-D index tensor, negative entries included
      const idx = sub(cast(greater(k, 0), 'int64'), g.constant(BigInt64Array.from([1n, 2n, 0n, 3n, 1n, 2n]), [2, 3]));
      return gather(a, idx, 2);
    },
  },
  { name: 'expand [3,1] → [2,3,4]', inputs: [{ name: 'a', shape: [3, 1] }], build: (g, [a]) => expand(a, [2, 3, 4]) },
  {
    name: 'where with broadcasting branches',
    inputs: [in3(), { name: 'b', shape: [3, 1] }],
    build: (g, [a, b]) => where(g.constant(Uint8Array.from(randn(rng(3), 12).map((v) => (v > 0 ? 1 : 0))), [3, 4]), a, b),
  },
  {
    name: 'resize bilinear align_corners',
    inputs: [{ name: 'a', shape: [1, 2, 4, 3] }],
    build: (g, [a]) => resize(a, { mode: 'bilinear', alignCorners: true, size: [7, 5] }),
  },
  {
    name: 'resize bicubic (scale factor, downsample)',
    inputs: [{ name: 'a', shape: [2, 6, 5] }],
    build: (g, [a]) => resize(a, { mode: 'bicubic', scaleFactor: [0.7, 0.65] }),
  },
  {
    name: 'cosineSimilarity axis 1 (broadcast b)',
    inputs: [in3(), { name: 'b', shape: [3, 4] }],
    build: (g, [a, b]) => cosineSimilarity(a, b, 1, 1e-8),
  },
  { name: 'l2Normalize last axis', inputs: [in3()], build: (g, [a]) => l2Normalize(a, -1, 1e-12) },
  {
    name: 'dropout with explicit mask',
    inputs: [in3()],
    build: (g, [a]) => dropout(a, g.constant(Float64Array.from(randn(rng(4), 24).map((v) => (v > -0.5 ? 1 : 0))), [2, 3, 4]), 0.3),
  },
  {
    name: 'softmax attention chain (shared subexpressions)',
    inputs: [
      { name: 'q', shape: [2, 3, 4] },
      { name: 'k', shape: [2, 5, 4] },
    ],
    build: (g, [q, k]) => matmul(softmax(matmul(q, transpose(k, [0, 2, 1])), -1), k),
  },
  // float32-only kernels in onnxruntime's CPU provider
  {
    name: 'layerNorm, fused ONNX op (float32)',
    dtype: 'float32',
    inputs: [
      { name: 'x', shape: [2, 3, 5] },
      { name: 'w', shape: [5] },
      { name: 'b', shape: [5] },
    ],
    build: (g, [x, w, b]) => layerNorm(x, w, b, 1e-5),
    reference: layerNormReference(1e-5),
  },
  {
    name: 'cast float32 → float64 → float32 (float32)',
    dtype: 'float32',
    inputs: [in3()],
    build: (g, [a]) => cast(exp(cast(a, 'float64')), 'float32'),
    reference: expReference,
  },
  { name: 'erf (float32)', dtype: 'float32', inputs: [in3()], build: (g, [a]) => erf(a), reference: erfReference },
  { name: 'gelu (float32)', dtype: 'float32', inputs: [in3()], build: (g, [a]) => gelu(a), reference: geluReference },
  {
    name: 'conv stride 2, asymmetric pads, bias (float32)',
    dtype: 'float32',
    inputs: [
      { name: 'x', shape: [2, 2, 7, 6] },
      { name: 'w', shape: [3, 2, 3, 2] },
      { name: 'b', shape: [3] },
    ],
    build: (g, [x, w, b]) => conv(x, w, b, { strides: [2, 2], pads: [1, 0, 0, 1] }),
    reference: convReference({ x: [2, 2, 7, 6], w: [3, 2, 3, 2], strides: [2, 2], pads: [1, 0, 0, 1] }),
  },
  {
    name: 'conv patch embedding stride = kernel (float32)',
    dtype: 'float32',
    inputs: [
      { name: 'x', shape: [1, 3, 8, 8] },
      { name: 'w', shape: [4, 3, 4, 4] },
    ],
    build: (g, [x, w]) => conv(x, w, null, { strides: 4 }),
    reference: convReference({ x: [1, 3, 8, 8], w: [4, 3, 4, 4], strides: [4, 4], pads: [0, 0, 0, 0] }),
  },
];
