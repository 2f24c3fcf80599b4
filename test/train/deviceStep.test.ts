/**
 * Training with the optimiser in the graph (deviceStep.ts): the parameters and state stay in
 * the session's outputs between steps and reach the host only at checkpoints and the end. On
 * the CPU provider (the WebGPU run is in test/runtime/webgpu.test.ts) against the host
 * optimiser over the same steps, and a killed-and-resumed run against an uninterrupted one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainLoop, type TrainLoopOptions } from '../../src/engine/train/step';
import type { Params } from '../../src/engine/train/params';
import { mlpProblem, transformerProblem, type ToyProblem } from './toy-models';

const STEPS = 12;

async function train(inGraph: boolean, extra: Partial<TrainLoopOptions> = {}, problem: ToyProblem = transformerProblem(4)) {
  const params = problem.init();
  const r = await trainLoop({
    program: await problem.program({ inGraph }),
    params,
    totalSteps: STEPS,
    schedule: { baseValue: 1e-2, finalValue: 1e-3, totalIters: STEPS, warmupIters: 3, startWarmupValue: 0 },
    dataOrder: { seed: 5, datasetSize: problem.datasetSize, batchSize: problem.batchSize },
    makeBatch: (indices) => problem.makeBatch(indices),
    ...extra,
  });
  return { r, params };
}

/** max over parameters of max |a − b| / max |b| */
function worstRel(a: Params, b: Params): number {
  let worst = 0;
  for (const [name, p] of b) {
    const q = a.get(name)!.data;
    let d = 0;
    let m = 0;
    p.data.forEach((v, i) => {
      d = Math.max(d, Math.abs(q[i] - v));
      m = Math.max(m, Math.abs(v));
    });
    worst = Math.max(worst, m > 0 ? d / m : d);
  }
  return worst;
}

// The MLP: every parameter has a real gradient. (In the transformer the key bias's gradient is
// rounding noise, which StableAdamW scales up to full-size steps, so any reordering of float32
// sums moves it differently.)
test('optimiser in the graph: losses, gradient norms, parameters and state follow the host optimiser', async () => {
  const host = await train(false, {}, mlpProblem(3));
  const dev = await train(true, {}, mlpProblem(3));
  assert.ok(
    host.r.history.some((h) => h.gradNorm > 0.1),
    'some steps clip',
  );
  for (let i = 0; i < STEPS; i++) {
    const [a, b] = [dev.r.history[i], host.r.history[i]];
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(b.loss), `step ${i}: loss ${a.loss} vs ${b.loss}`);
    assert.ok(Math.abs(a.gradNorm - b.gradNorm) <= 1e-4 * b.gradNorm, `step ${i}: gradient norm ${a.gradNorm} vs ${b.gradNorm}`);
  }
  assert.ok(worstRel(dev.params, host.params) <= 1e-4, `parameters differ by ${worstRel(dev.params, host.params)} of max`);
  // The optimiser state is back on the host too, with the step count.
  for (const [name, st] of host.r.optimizer.state) {
    const d = dev.r.optimizer.state.get(name);
    assert.ok(d, `state of ${name}`);
    assert.equal(d.step, st.step);
  }
});

test('optimiser in the graph: a run stopped after a checkpoint and resumed ends where an uninterrupted one does, bit for bit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anyad-device-resume-'));
  try {
    const whole = await train(true);
    const stop = new AbortController();
    await train(true, {
      checkpointDir: dir,
      checkpointEvery: 4,
      signal: stop.signal,
      onStep: (s) => {
        if (s.step === 5) stop.abort(); // after the checkpoint of step 4, mid-way to the next
      },
    });
    const resumed = await train(true, { checkpointDir: dir, checkpointEvery: 4, resume: true });
    assert.equal(resumed.r.resumedFrom, 6);
    assert.equal(worstRel(resumed.params, whole.params), 0);
    // Evaluations read synced parameters: needsParams makes the loop copy them back first.
    const seen: number[] = [];
    let params: Params | undefined;
    const problem = transformerProblem(4);
    await train(true, {
      needsParams: (step) => step === 6,
      onStep: (s) => {
        if (s.step === 5) seen.push(...params!.get('head.weight')!.data.slice(0, 3));
      },
      params: (params = problem.init()),
    });
    assert.notDeepEqual(seen, Array.from(problem.init().get('head.weight')!.data.slice(0, 3)), 'the evaluation saw trained parameters');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
