import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, add, grad, matmul, mul, reduceMean, relu } from '../../src/engine/graph';
import { gradCheck, runGraph } from './helpers';

test('core: matmul + add + relu + reduceMean forward and gradients run in onnxruntime', async () => {
  const g = new Graph('core');
  const x = g.input('x', [3, 2]);
  const w = g.param('w', [2, 2], Float32Array.from([1, -2, 3, 0.5]));
  const b = g.param('b', [2], Float32Array.from([0.25, -1]));
  const y = relu(add(matmul(x, w), b));
  const loss = g.output('loss', reduceMean(mul(y, y)));
  grad(loss, [w, b]);
  const xs = Float32Array.from([1, 2, -1, 0.5, 0.3, -0.7]);
  const out = await runGraph(g, { x: xs, w: w.data!, b: b.data! }, { paramsAs: 'inputs' });
  // Reference in plain TS.
  const W = [1, -2, 3, 0.5],
    B = [0.25, -1];
  let L = 0;
  const gw = [0, 0, 0, 0];
  const gb = [0, 0];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 2; j++) {
      const pre = xs[2 * i] * W[j] + xs[2 * i + 1] * W[2 + j] + B[j];
      const yv = Math.max(pre, 0);
      L += (yv * yv) / 6;
      const dy = pre > 0 ? (2 * yv) / 6 : 0;
      gw[j] += dy * xs[2 * i];
      gw[2 + j] += dy * xs[2 * i + 1];
      gb[j] += dy;
    }
  assert.ok(Math.abs(Number(out.loss[0]) - L) < 1e-5);
  Array.from(out['grad.w'] as Float32Array).forEach((v, k) => assert.ok(Math.abs(v - gw[k]) < 1e-5, `grad.w[${k}]`));
  Array.from(out['grad.b'] as Float32Array).forEach((v, k) => assert.ok(Math.abs(v - gb[k]) < 1e-5, `grad.b[${k}]`));
});

test('core: float64 gradcheck of a broadcasting matmul/add chain', async () => {
  const r = await gradCheck(
    'float64',
    [
      { name: 'a', shape: [2, 3, 4] },
      { name: 'b', shape: [4, 5] },
      { name: 'c', shape: [3, 1] },
    ],
    (g, [a, b, c]) => add(matmul(a, b), c),
  );
  assert.ok(r.worst < 1e-6, JSON.stringify(r.perInput));
});
