/**
 * The in-graph optimiser step (clip + StableAdamW as graph ops, run by onnxruntime) against
 * optim.ts's float32 reproduction of the reference, over steps that clip and that do not, with
 * StableAdamW's update clipping on and off; the state is fed back from the graph's own outputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, emitModel } from '../../src/engine/graph';
import { createSession, run } from '../../src/engine/graph/runtime';
import { clipGradNorm, StableAdamW } from '../../src/engine/train/optim';
import { OPTIMIZER_NAMES as N, appendStableAdamW, optimizerScalars } from '../../src/engine/train/optimGraph';
import { makeParams } from '../../src/engine/train/params';
import { mulberry32 } from '../helpers/random';

const SHAPES: Record<string, number[]> = { 'w.a': [5, 3], 'w.b': [7], 'w.c': [2, 2, 2] };

function normal(rand: () => number, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()));
}

/** max |a − b| / max |b| */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m > 0 ? d / m : d;
}

for (const clipThreshold of [1, 0.05]) {
  test(`in-graph clip + StableAdamW agrees with optim.ts to float32 rounding over 4 steps (clipThreshold ${clipThreshold})`, async () => {
    const rand = mulberry32(5);
    const g = new Graph('optimizer');
    const params = Object.entries(SHAPES).map(([name, shape]) => ({
      name,
      value: g.input(name, shape),
      grad: g.input(`grad.${name}`, shape),
    }));
    appendStableAdamW(g, params, { clipThreshold });
    const session = await createSession(emitModel(g), { provider: 'cpu', threads: 1, leanMemory: true });

    const ref = makeParams(
      Object.entries(SHAPES).map(([n, s]) => [
        n,
        s,
        normal(
          rand,
          s.reduce((a, b) => a * b, 1),
          1,
        ),
      ]),
    );
    const opt = new StableAdamW(ref, { clipThreshold });
    // The graph's state: the parameters and zero moments, then whatever the graph returned.
    const state: Record<string, Float32Array> = {};
    for (const [n, p] of ref) {
      state[n] = p.data.slice();
      for (const k of [N.expAvg(n), N.expAvgSq(n), N.maxExpAvgSq(n)]) state[k] = new Float32Array(p.data.length);
    }
    const shapes: Record<string, number[]> = {};
    for (const t of g.inputs) shapes[t.name] = [...t.shape];
    // Gradient scales: global norms far above the clip (0.1), below it, above again.
    for (const [step, scale] of [1, 0.001, 0.3, 0.002].entries()) {
      const lr = 1e-3 * (step + 1);
      const grads = new Map(
        Object.entries(SHAPES).map(([n, s]) => [
          n,
          normal(
            rand,
            s.reduce((a, b) => a * b, 1),
            scale,
          ),
        ]),
      );
      const feeds: Record<string, Float32Array> = { ...state, ...optimizerScalars(step + 1, lr, { clipThreshold }) };
      for (const [n, gr] of grads) feeds[`grad.${n}`] = gr.slice();
      const out = await run(session, feeds, shapes);

      const norm = clipGradNorm(grads.values(), 0.1);
      opt.step(grads, lr);
      const gotNorm = (out[N.gradNorm].data as Float32Array)[0];
      assert.ok(Math.abs(gotNorm - norm) <= 1e-6 * norm, `step ${step}: gradient norm ${gotNorm} vs ${norm}`);
      for (const [n, p] of ref) {
        const st = opt.state.get(n)!;
        const pairs: [string, Float32Array][] = [
          [n, p.data],
          [N.expAvg(n), st.expAvg],
          [N.expAvgSq(n), st.expAvgSq],
          [N.maxExpAvgSq(n), st.maxExpAvgSq!],
        ];
        for (const [k, want] of pairs) {
          const got = out[N.next(k)].data as Float32Array;
          assert.ok(relDiff(got, want) <= 2e-6, `step ${step}, ${k}: ${relDiff(got, want)} of max`);
          state[k] = got;
        }
      }
    }
  });
}
