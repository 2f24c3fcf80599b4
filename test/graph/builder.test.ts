/** Build-time checks (shapes, dtypes, names) and emission details. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Graph,
  add,
  concat,
  conv,
  emitModel,
  gather,
  layerNorm,
  matmul,
  reshape,
  resize,
  slice,
  transpose,
  mul,
  relu,
} from '../../src/engine/graph';
import { GraphError } from '../../src/engine/errors';
import { relErr, runGraph } from './helpers';

function throwsGraph(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GraphError, `expected a GraphError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('shape errors name the op and the shapes, at build time', () => {
  const g = new Graph('errs');
  const a = g.input('a', [2, 3]);
  const b = g.input('b', [4, 5]);
  throwsGraph(() => matmul(a, b), 'matmul: [2,3] × [4,5]: inner dimensions 3 and 4 differ');
  throwsGraph(() => add(a, g.input('c', [4])), 'add: [2,3] and [4] do not broadcast (axis -1: 3 vs 4)');
  throwsGraph(() => reshape(a, [4, -1]), 'reshape: cannot reshape [2,3] (6 values) to [4,-1]');
  throwsGraph(() => concat([a, b], 0), /concat: float32\[2,3\], float32\[4,5\] differ outside axis 0/);
  throwsGraph(() => transpose(a, [0, 0]), /transpose: perm \[0,0\] is not a permutation/);
  throwsGraph(() => gather(a, [3], 0), /gather: index 3 is out of range for axis 0 of \[2,3\]/);
  throwsGraph(() => slice(a, [2], [5], [0]), /slice: 2:5:1 on axis 0 of \[2,3\] is empty/);
  throwsGraph(
    () => layerNorm(a, g.input('w', [2]), g.input('bb', [3]), 1e-6),
    /layerNorm: x \[2,3\], w \[2\], b \[3\]: w and b must be \[3\]/,
  );
  throwsGraph(
    () => conv(g.input('x', [1, 3, 8, 8]), g.input('k', [4, 2, 3, 3])),
    /conv: x \[1,3,8,8\], w \[4,2,3,3\]: input channels 3 and weight channels 2 differ/,
  );
  throwsGraph(() => add(a, g.input('d', [2, 3], 'float64')), 'add: dtypes differ: float32 and float64');
  throwsGraph(() => resize(a, { mode: 'bicubic' }), /resize: give exactly one of size and scaleFactor/);
  throwsGraph(() => g.input('a', [1]), /the name 'a' is already used/);
  throwsGraph(() => g.param('p', [2, 2], new Float32Array(3)), /'p' has shape \[2,2\] \(4 values\) but 3 values were given/);
});

test('names: scopes prefix node and value names; outputs get the given names', () => {
  const g = new Graph('names');
  const x = g.input('x', [2, 2]);
  const y = g.scope('block0', () => g.scope('mlp', () => relu(x)));
  assert.match(y.name, /^block0\/mlp\/Relu_\d+$/);
  assert.equal(y.producer!.name, y.name);
  const out = g.output('features', y);
  assert.equal(out, y);
  assert.equal(y.name, 'features');
  // The same tensor under a second name, and a graph input as an output, go through Identity.
  const again = g.output('features2', y);
  assert.equal(again.producer!.opType, 'Identity');
  assert.equal(g.output('x_out', x).producer!.opType, 'Identity');
});

test('emission: initializers are raw little-endian bytes; unused params are dropped; params-as-inputs order', async () => {
  const g = new Graph('emit');
  const x = g.input('x', [1, 4]);
  const big = new Float32Array(1 << 18).map((_, i) => Math.sin(i)); // 1 MiB
  const w = g.param('w', [4, 1 << 16], big);
  g.param('unused', [3], new Float32Array([7, 8, 9]));
  const y = g.output('y', matmul(x, w));
  const bytes = emitModel(g);
  const raw = Buffer.from(big.buffer, big.byteOffset, big.byteLength);
  assert.ok(Buffer.from(bytes).indexOf(raw) > 0, 'param bytes not found verbatim');
  assert.equal(Buffer.from(bytes).indexOf(Buffer.from(new Float32Array([7, 8, 9]).buffer)), -1, 'unused param emitted');
  assert.ok(bytes.byteLength < big.byteLength + 4096);
  // Same numbers (up to onnxruntime's prepacked-weight summation order) baked in or fed as inputs.
  const xs = new Float32Array([1, -2, 0.5, 3]);
  const baked = await runGraph(g, { x: xs });
  const fed = await runGraph(g, { x: xs, w: big, unused: new Float32Array(3) }, { paramsAs: 'inputs' });
  assert.ok(relErr(fed.y as Float32Array, baked.y as Float32Array) < 1e-6);
  let expect0 = 0;
  for (let k = 0; k < 4; k++) expect0 += xs[k] * big[k * (1 << 16)];
  assert.ok(Math.abs((baked.y as Float32Array)[0] - expect0) < 1e-5);
  assert.equal(y.shape[1], 1 << 16);
});

test('int64 inputs and negative attribute values survive emission (gather with fed indices, axis -1)', async () => {
  const g = new Graph('ints');
  const x = g.input('x', [2, 3]);
  const idx = g.input('idx', [2], 'int64');
  g.output('y', mul(gather(x, idx, -1), 2));
  const out = await runGraph(g, { x: new Float32Array([1, 2, 3, 4, 5, 6]), idx: BigInt64Array.from([2n, -3n]) });
  assert.deepEqual(Array.from(out.y as Float32Array), [6, 2, 12, 8]);
});
