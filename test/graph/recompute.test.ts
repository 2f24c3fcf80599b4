/** Values a composite rebuilds for the backward (Composite.recompute) instead of keeping them alive. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, type Node, gelu, grad, liveNodes, matmul, mul, reduceSum, transposeLast2 } from '../../src/engine/graph';
import { randn, rng, runGraph } from './helpers';

const backward = (g: Graph): Node[] => liveNodes(g).filter((n) => n.name.startsWith('grad/'));

test('Linear → GELU → Linear: no backward node reads the GELU output; the rebuilt one equals it bit for bit', async () => {
  const g = new Graph('mlp-recompute');
  const r = rng(21);
  const f32 = (n: number, scale: number) => Float32Array.from(randn(r, n), (v) => v * scale);
  const x = g.input('x', [3, 5, 8]);
  const w1 = g.param('fc1.weight', [32, 8], f32(32 * 8, 1));
  const w2 = g.param('fc2.weight', [8, 32], f32(8 * 32, 0.5));
  const weighting = g.constant(f32(3 * 5 * 8, 1), [3, 5, 8]);
  const h = matmul(x, transposeLast2(w1));
  const y = gelu(h);
  grad(g.output('loss', reduceSum(mul(matmul(y, transposeLast2(w2)), weighting))), [w1, w2]);

  const bw = backward(g);
  assert.ok(!bw.some((n) => n.inputs.includes(y)), 'a backward node reads the forward GELU output, which then lives until the backward');
  // The rebuilt output x·Φ(x): a backward Mul of the GELU input and Φ (itself 0.5·(1 + erf)).
  const rebuilt = bw.filter((n) => n.opType === 'Mul' && n.inputs[0] === h && n.inputs[1]?.producer?.opType === 'Mul');
  assert.equal(rebuilt.length, 1, 'one rebuilt GELU output');
  assert.ok(
    bw.some((n) => n.inputs.includes(rebuilt[0].outputs[0])),
    'the weight gradient of the second Linear reads the rebuilt value',
  );

  g.output('y', y);
  g.output('y.rebuilt', rebuilt[0].outputs[0]);
  // Wide inputs (|h| up to ~20): the tails where Φ saturates are where a reformulation would round differently.
  const out = await runGraph(g, { x: f32(3 * 5 * 8, 3) });
  const bits = (name: string) => Array.from(new Uint32Array((out[name] as Float32Array).buffer));
  assert.deepEqual(bits('y.rebuilt'), bits('y'));
});
