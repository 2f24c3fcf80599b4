/** Values a composite rebuilds for the backward (Composite.recompute) instead of keeping them alive. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, type Node, emitModel, gelu, grad, liveNodes, matmul, mul, reduceSum, transposeLast2 } from '../../src/engine/graph';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LEAN_MEMORY_OPTIMIZERS_OFF, createSession } from '../../src/engine/graph/runtime';
import { onnxOpTypes } from '../helpers/onnxOps';
import { randn, rng, runGraph, runSession } from './helpers';

const backward = (g: Graph): Node[] => liveNodes(g).filter((n) => n.name.startsWith('grad/'));

test('Linear → GELU → Linear: the backward reads no value of the forward GELU but its input; the rebuilt output equals the forward one', async () => {
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
  // Nor any other value computed inside the forward GELU (1 + erf): the backward keeps only its input.
  const geluInternals = new Set(
    liveNodes(g)
      .filter((n) => !n.name.startsWith('grad/') && n.composite?.name === 'gelu')
      .flatMap((n) => n.outputs),
  );
  assert.ok(geluInternals.size >= 4, 'the forward GELU nodes were found');
  const kept = bw.flatMap((n) => n.inputs).filter((t) => t !== null && geluInternals.has(t));
  assert.deepEqual(
    kept.map((t) => t!.name),
    [],
    'backward nodes read values of the forward GELU',
  );
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
  const x0 = f32(3 * 5 * 8, 3);
  // Where onnxruntime keeps the graph's arithmetic (every pass on: the rebuilt chain merges
  // with the forward's): the rebuilt output is the forward's formula, bit for bit.
  const out = await runGraph(g, { x: x0 });
  const bits = (o: Record<string, unknown>, name: string) => Array.from(new Uint32Array((o[name] as Float32Array).buffer));
  assert.deepEqual(bits(out, 'y.rebuilt'), bits(out, 'y'));
  // In a training session (leanMemory) the forward runs onnxruntime's fused Gelu kernel, as
  // inference does; the rebuilt copy agrees with it to rounding.
  const session = await createSession(emitModel(g), { provider: 'cpu', threads: 1, leanMemory: true });
  const lean = await runSession(session, g, { x: x0 });
  const [fwd, again] = [lean.y as Float32Array, lean['y.rebuilt'] as Float32Array];
  for (let i = 0; i < fwd.length; i++)
    assert.ok(Math.abs(fwd[i] - again[i]) <= 4e-7 * Math.max(1, Math.abs(fwd[i])), `element ${i}: ${fwd[i]} vs rebuilt ${again[i]}`);
});

test("training sessions keep the rebuilt 1 + erf apart: onnxruntime's common-subexpression pass is off (LEAN_MEMORY_OPTIMIZERS_OFF names a real pass)", async () => {
  const g = new Graph('mlp-optimized');
  const x = g.input('x', [2, 3, 8]);
  const w1 = g.param('fc1.weight', [16, 8], new Float32Array(128).fill(0.1));
  const w2 = g.param('fc2.weight', [8, 16], new Float32Array(128).fill(0.1));
  grad(g.output('loss', reduceSum(matmul(gelu(matmul(x, transposeLast2(w1))), transposeLast2(w2)))), [w1, w2]);
  const dir = mkdtempSync(join(tmpdir(), 'anyad-optimized-'));
  try {
    const ops = async (lean: boolean): Promise<string[]> => {
      const path = join(dir, `${lean}.onnx`);
      await ort.InferenceSession.create(emitModel(g), {
        graphOptimizationLevel: 'all',
        optimizedModelFilePath: path,
        logSeverityLevel: 3,
        ...(lean ? { extra: { optimization: { disable_specified_optimizers: LEAN_MEMORY_OPTIMIZERS_OFF } } } : {}),
      });
      return onnxOpTypes(readFileSync(path));
    };
    const count = (list: string[], op: string) => list.filter((o) => o === op).length;
    const lean = await ops(true);
    // The forward fused into one Gelu kernel, the backward's own erf.
    assert.deepEqual([count(lean, 'Gelu'), count(lean, 'Erf')], [1, 1], `ops: ${lean.join(' ')}`);
    // Control: with every pass on, the two are merged into one value that lives until the backward (so no fusion either).
    const all = await ops(false);
    assert.deepEqual([count(all, 'Gelu'), count(all, 'Erf')], [0, 1], `ops: ${all.join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
