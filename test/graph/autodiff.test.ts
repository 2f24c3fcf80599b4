/** Autodiff behaviour: gradient control ops, pruning, shared subexpressions, errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Graph,
  type Node,
  type Tensor,
  add,
  exp,
  gelu,
  grad,
  liveNodes,
  matmul,
  mul,
  reduceMax,
  reduceMean,
  reduceMin,
  reduceSum,
  scaleGradient,
  softmax,
  stopGradient,
  tanh,
} from '../../src/engine/graph';
import { GraphError } from '../../src/engine/errors';
import { BLOCK_PARAMS, blockParamShapes, transformerBlock } from './block';
import { randn, rng, runGraph } from './helpers';

const f64 = (n: number, seed: number): Float64Array => Float64Array.from(randn(rng(seed), n));
const backward = (g: Graph): Node[] => liveNodes(g).filter((n) => n.name.startsWith('grad/'));
const forward = (g: Graph): Node[] => liveNodes(g).filter((n) => !n.name.startsWith('grad/'));

test('scaleGradient: identity forward; gradient = s ⊙ upstream exactly; s (computed from w itself) gets none', async () => {
  const g = new Graph('scale');
  const w = g.param('w', [3, 4], f64(12, 1));
  const x = g.input('x', [3, 1], 'float64');
  const r = g.constant(f64(12, 2), [3, 4]);
  // s depends on w and on an input; broadcast [3,1] → [3,4]. Its own gradient must not leak into dL/dw.
  const s = g.output('s', mul(exp(x), reduceMean(mul(w, w), [1], true)));
  const y = g.output('y', scaleGradient(w, s));
  grad(g.output('loss', reduceSum(mul(y, r))), [w]);
  const xs = f64(3, 3);
  const out = await runGraph(g, { x: xs, w: w.data! }, { paramsAs: 'inputs' });
  assert.deepEqual(Array.from(out.y as Float64Array), Array.from(w.data as Float64Array));
  const sv = out.s as Float64Array;
  const gw = out['grad.w'] as Float64Array;
  const rv = r.data as Float64Array;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) assert.equal(gw[i * 4 + j], sv[i] * rv[i * 4 + j], `grad.w[${i},${j}]`);
});

test('stopGradient: identity forward, zero gradient through it', async () => {
  const g = new Graph('stop');
  const w = g.param('w', [5], f64(5, 4));
  const r = g.constant(f64(5, 5), [5]);
  // L = Σ stop(w) ⊙ w ⊙ r → dL/dw = w ⊙ r (only the unstopped factor); L2 = Σ stop(w) → 0.
  const loss = g.output('loss', reduceSum(mul(mul(stopGradient(w), w), r)));
  grad(loss, [w]);
  const loss2 = g.output('loss2', reduceSum(stopGradient(w)));
  grad(loss2, [w], { prefix: 'grad2.' });
  const out = await runGraph(g, { w: w.data! }, { paramsAs: 'inputs' });
  const wv = w.data as Float64Array;
  const rv = r.data as Float64Array;
  assert.deepEqual(
    Array.from(out['grad.w'] as Float64Array),
    Array.from(wv, (v, i) => v * rv[i]),
  );
  assert.deepEqual(Array.from(out['grad2.w'] as Float64Array), [0, 0, 0, 0, 0]);
  const direct = Array.from(wv, (v, i) => v * v * rv[i]).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(Number((out.loss as Float64Array)[0]) - direct) < 1e-12);
});

test('pruning: branches off the param→loss path get no backward nodes; unreachable nodes are not emitted', () => {
  const build = (withSide: boolean): Graph => {
    const g = new Graph('prune');
    const x = g.input('x', [4, 3]);
    const w = g.param('w', [3, 2], new Float32Array(6).fill(0.5));
    const v = g.param('v', [3], new Float32Array(3).fill(0.1));
    const loss = g.output('loss', reduceMean(tanh(matmul(x, w))));
    if (withSide) {
      g.output('side', exp(mul(x, v))); // forward output depending on a param, not on the loss path
      tanh(softmax(x)); // dead: never reaches an output
    }
    grad(loss, withSide ? [w, v] : [w]);
    return g;
  };
  const plain = build(false);
  const side = build(true);
  const ops = (ns: Node[]): string[] => ns.map((n) => n.opType).sort();
  // Same backward (plus only the zeros for v), and nothing of the dead branch emitted.
  const extra = [...ops(backward(side))];
  for (const o of ops(backward(plain))) extra.splice(extra.indexOf(o), 1);
  assert.deepEqual(extra, ['Expand'], `backward ops: ${ops(backward(side)).join()} vs ${ops(backward(plain)).join()}`);
  assert.ok(!liveNodes(side).some((n) => n.opType === 'Softmax'), 'dead softmax branch emitted');
  assert.ok(
    side.nodes.some((n) => n.opType === 'Softmax'),
    'the dead branch was built',
  );
  assert.equal(forward(side).length, forward(plain).length + 2); // Mul + Exp of the side output
});

test('shared subexpressions: one Add chain per multiply-consumed tensor (no Sum: WebGPU has none); forward nodes are not re-emitted', async () => {
  const g = new Graph('shared');
  const x = g.input('x', [2, 3], 'float64');
  const w = g.param('w', [2, 3], f64(6, 7));
  const y = mul(x, w);
  // y feeds ReduceSum, both inputs of a Mul, and Exp → 4 contributions, added by 3 Adds in a chain.
  const loss = g.output('loss', add(add(reduceSum(y), reduceSum(mul(y, y))), reduceSum(exp(y))));
  const forwardBefore = g.nodes.length;
  grad(loss, [w]);
  const bw = backward(g);
  assert.equal(bw.filter((n) => n.opType === 'Sum').length, 0);
  const adds = bw.filter((n) => n.opType === 'Add');
  assert.equal(adds.length, 3);
  assert.ok(
    adds.slice(1).every((n, i) => n.inputs[0] === adds[i].outputs[0]),
    'a left fold',
  );
  // The backward reads forward values (e.g. Exp's output) instead of recomputing them.
  assert.equal(liveNodes(g).filter((n) => n.opType === 'Exp').length, 1);
  assert.equal(g.nodes.slice(0, forwardBefore).length, forward(g).length);
  // And the value is right: dL/dw = x ⊙ (1 + 2y + e^y).
  const xs = f64(6, 8);
  const out = await runGraph(g, { x: xs, w: w.data! }, { paramsAs: 'inputs' });
  const wv = w.data as Float64Array;
  Array.from(out['grad.w'] as Float64Array).forEach((v, i) => {
    const yv = xs[i] * wv[i];
    assert.ok(Math.abs(v - xs[i] * (1 + 2 * yv + Math.exp(yv))) < 1e-12);
  });
});

test('transformer block: backward costs ≤ 2.5× the forward in nodes; each forward op appears once (erf: once more, rebuilt for the backward)', () => {
  const g = new Graph('block');
  const x = g.input('x', [2, 5, 16]);
  const shapes = blockParamShapes(16);
  const p: Record<string, Tensor> = {};
  for (const name of BLOCK_PARAMS) p[name] = g.param(name, shapes[name], new Float32Array(shapes[name].reduce((a, b) => a * b, 1)));
  const out = transformerBlock(g, x, p, 2);
  const loss = g.output('loss', reduceMean(mul(out, out)));
  const nForward = liveNodes(g).length;
  grad(
    loss,
    BLOCK_PARAMS.map((n) => p[n]),
  );
  const live = liveNodes(g);
  const nBackward = backward(g).length;
  assert.ok(nBackward <= 2.5 * nForward, `forward ${nForward} nodes, backward ${nBackward}`);
  // GELU's 1 + erf is rebuilt from its input in the backward rather than kept from the forward (composites.ts).
  const expected: Record<string, number> = { Softmax: 1, LayerNormalization: 2, Erf: 2 };
  for (const [op, n] of Object.entries(expected)) assert.equal(live.filter((node) => node.opType === op).length, n, op);
});

test('errors: missing gradient rule on a param path, non-scalar loss, foreign tensors', () => {
  const g = new Graph('err');
  const w = g.param('w', [3], new Float32Array(3));
  const [floored] = g.addNode('Floor', [w], [{ shape: [3], dtype: 'float32' }]);
  assert.throws(
    () => grad(reduceSum(floored), [w]),
    (e: unknown) => e instanceof GraphError && /Floor .* has no gradient rule/.test(e.message),
  );
  assert.throws(
    () => grad(mul(w, 2), [w]),
    (e: unknown) => e instanceof GraphError && /loss must be a float scalar/.test(e.message),
  );
  const other = new Graph('other').input('z', [3]);
  assert.throws(
    () => add(w, other),
    (e: unknown) => e instanceof GraphError && /belongs to another graph/.test(e.message),
  );
});

test('gradient wrt a tensor the loss does not depend on is zeros; gelu backward is the closed form', async () => {
  const g = new Graph('zeros');
  const a = g.param('a', [2, 2], new Float32Array([0.1, -0.4, 1.3, 2.2]));
  const b = g.param('b', [3], new Float32Array([1, 2, 3]));
  const loss = g.output('loss', reduceSum(gelu(a)));
  grad(loss, [a, b]);
  const out = await runGraph(g, {}, {});
  assert.deepEqual(Array.from(out['grad.b'] as Float32Array), [0, 0, 0]);
  // d gelu/dx = Φ(x) + x φ(x), checked against an independent series evaluation of erf.
  const erf = (z: number): number => {
    let s = 0;
    let t = z;
    for (let n = 0; n < 60; n++) {
      s += t / (2 * n + 1);
      t *= (-z * z) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  };
  Array.from(out['grad.a'] as Float32Array).forEach((v, i) => {
    const xv = (a.data as Float32Array)[i];
    const expect = 0.5 * (1 + erf(xv / Math.SQRT2)) + (xv * Math.exp((-xv * xv) / 2)) / Math.sqrt(2 * Math.PI);
    assert.ok(Math.abs(v - expect) < 1e-6, `${v} vs ${expect}`);
  });
  // Closed-form backward: one Erf in the backward pass, 1 + erf rebuilt from the input (so nothing of the forward's is kept).
  assert.equal(backward(g).filter((n) => n.opType === 'Erf').length, 1);
});

test('grad on a graph twice (e.g. two losses) keeps both gradient sets', async () => {
  const g = new Graph('two');
  const w = g.param('w', [2], new Float64Array([1.5, -2]));
  grad(g.output('l1', reduceSum(mul(w, w))), [w], { prefix: 'g1.' });
  grad(g.output('l2', reduceSum(mul(w, 3))), [w], { prefix: 'g2.' });
  const out = await runGraph(g, {});
  assert.deepEqual(Array.from(out['g1.w'] as Float64Array), [3, -4]);
  assert.deepEqual(Array.from(out['g2.w'] as Float64Array), [3, 3]);
});

test('reduceMax/reduceMin: gradient split equally among tied extrema', async () => {
  const g = new Graph('ties');
  const w = g.param('w', [2, 3], new Float64Array([1, 3, 3, -2, -2, 5]));
  const r = g.constant(new Float64Array([10, 100]), [2]);
  grad(g.output('lmax', reduceSum(mul(reduceMax(w, [1]), r))), [w], { prefix: 'gmax.' });
  grad(g.output('lmin', reduceSum(mul(reduceMin(w, [1]), r))), [w], { prefix: 'gmin.' });
  const out = await runGraph(g, {});
  assert.deepEqual(Array.from(out['gmax.w'] as Float64Array), [0, 5, 5, 0, 0, 100]);
  assert.deepEqual(Array.from(out['gmin.w'] as Float64Array), [10, 0, 0, 50, 50, 0]);
});

test('mixed emission: only the listed params are inputs (a frozen part stays baked in)', async () => {
  const g = new Graph('mixed');
  const x = g.input('x', [1, 2], 'float64');
  const frozen = g.param('frozen', [2, 2], new Float64Array([1, 2, 3, 4]));
  const head = g.param('head', [2, 1], new Float64Array([0.5, -1]));
  grad(g.output('loss', reduceSum(matmul(matmul(x, frozen), head))), [head]);
  const fed = new Float64Array([2, 3]);
  const out = await runGraph(g, { x: new Float64Array([1, 1]), head: fed }, { inputParams: [head] });
  // x·frozen = [4, 6] → loss = 4·2 + 6·3; d/dhead = [4, 6]
  assert.equal(Number((out.loss as Float64Array)[0]), 26);
  assert.deepEqual(Array.from(out['grad.head'] as Float64Array), [4, 6]);
});
