import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { getFloat32, readSafetensors } from '../../src/engine/safetensors';
import { clipGradNorm, StableAdamW, type StableAdamWOptions } from '../../src/engine/train/optim';
import { warmCosineLr, type WarmCosineConfig } from '../../src/engine/train/schedule';
import { makeParams } from '../../src/engine/train/params';

// Made by scripts/fixtures/make_optim_fixtures.py: the reference StableAdamW + WarmCosineScheduler
// transcribed into torch 1.13, with torch's clip_grad_norm_, on fixed gradients for 30 steps.
const FIXTURE = join(__dirname, '..', 'fixtures', 'train', 'optim_trajectories.safetensors');
const fx = readSafetensors(FIXTURE);
const STEPS = Number(fx.metadata.steps);
const NAMES = ['w1', 'b1', 'w2', 's'];
interface CaseCfg {
  betas: [number, number];
  eps: number;
  weight_decay: number;
  amsgrad: boolean;
  clip_threshold: number;
  base: number;
  final: number;
  total: number;
  warmup: number;
  start: number;
  max_norm: number;
}
const CASES = JSON.parse(fx.metadata.cases) as Record<string, CaseCfg>;

function tensor(name: string): { shape: number[]; data: Float32Array } {
  return getFloat32(fx, name, undefined, FIXTURE);
}
function slice(name: string, t: number): Float32Array {
  const { shape, data } = tensor(name);
  const n = shape.slice(1).reduce((a, b) => a * b, 1);
  return data.slice(t * n, (t + 1) * n);
}

function replay(cfg: CaseCfg, onStep: (t: number, params: ReturnType<typeof makeParams>, lr: number, norm: number) => void): void {
  const params = makeParams(
    NAMES.map((n) => {
      const t = tensor(`init.${n}`);
      return [n, t.shape, t.data.slice()];
    }),
  );
  const opts: StableAdamWOptions = {
    betas: cfg.betas,
    eps: cfg.eps,
    weightDecay: cfg.weight_decay,
    amsgrad: cfg.amsgrad,
    clipThreshold: cfg.clip_threshold,
  };
  const opt = new StableAdamW(params, opts);
  const sched: WarmCosineConfig = {
    baseValue: cfg.base,
    finalValue: cfg.final,
    totalIters: cfg.total,
    warmupIters: cfg.warmup,
    startWarmupValue: cfg.start,
  };
  const present = fx.tensors.get('grad_present.s')!.bytes;
  for (let t = 0; t < STEPS; t++) {
    const grads = new Map<string, Float32Array>();
    for (const n of NAMES) if (n !== 's' || present[t] === 1) grads.set(n, slice(`grad.${n}`, t));
    const norm = clipGradNorm(grads.values(), cfg.max_norm);
    const lr = warmCosineLr(sched, t);
    opt.step(grads, lr);
    onStep(t, params, lr, norm);
  }
}

for (const [caseName, cfg] of Object.entries(CASES)) {
  test(`StableAdamW + clip + warm-cosine match the torch reference trajectory (${caseName})`, () => {
    const lrEntry = fx.tensors.get(`${caseName}.lr`)!;
    assert.equal(lrEntry.dtype, 'F64');
    const lrs = new Float64Array(new Uint8Array(lrEntry.bytes).buffer); // float64, as numpy computed them
    const norms = tensor(`${caseName}.grad_norm`).data;
    let worst = 0,
      exact = 0,
      total = 0;
    replay(cfg, (t, params, lr, norm) => {
      assert.ok(Math.abs(lr - lrs[t]) <= 1e-15 + 1e-12 * Math.abs(lrs[t]), `lr at step ${t}: ${lr} vs ${lrs[t]}`);
      assert.ok(Math.abs(norm - norms[t]) <= 1e-6 * norms[t], `grad norm at step ${t}: ${norm} vs ${norms[t]}`);
      for (const n of NAMES) {
        const ours = params.get(n)!.data;
        const ref = slice(`${caseName}.param.${n}`, t);
        for (let i = 0; i < ours.length; i++) {
          const err = Math.abs(ours[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
          worst = Math.max(worst, err);
          total++;
          if (ours[i] === ref[i]) exact++;
          assert.ok(err <= 1e-6, `${caseName} step ${t} ${n}[${i}]: ${ours[i]} vs ${ref[i]}`);
        }
      }
    });
    // Same float32 operations in the same order: almost every value is bit-identical; the rest
    // differ by an ulp or two (torch sums norms in float32 lanes, we in float64).
    assert.ok(exact / total > 0.9, `only ${exact} of ${total} values bit-identical (worst rel. error ${worst})`);
  });
}

test('the fixture exercises what it must: global clipping on and off, RMS clipping, a skipped parameter', () => {
  const ref = CASES.reference;
  const norms = tensor('reference.grad_norm').data;
  const clipped = [...norms].filter((x) => x > ref.max_norm).length;
  assert.ok(clipped > 5 && clipped < STEPS - 5, `clipped on ${clipped} of ${STEPS} steps`);
  assert.equal(ref.amsgrad, true);
  assert.equal(ref.eps, 1e-10);
  const present = fx.tensors.get('grad_present.s')!.bytes;
  assert.ok(present.includes(0) && present.includes(1));
  // 's' skipped on some steps: its trajectory holds still exactly there (no weight decay either).
  const s = tensor('reference.param.s').data;
  for (let t = 1; t < STEPS; t++) if (present[t] === 0) assert.equal(s[t], s[t - 1]);
});

test('clipGradNorm: torch semantics (pre-clip norm returned, scale max/(norm+1e-6) only above max)', () => {
  const a = new Float32Array([3, 0]);
  const b = new Float32Array([4]);
  const norm = clipGradNorm([a, b], 1);
  assert.equal(norm, 5);
  const coef = Math.fround(Math.fround(1 / Math.fround(5 + Math.fround(1e-6))) * 1);
  assert.deepEqual([...a, ...b], [Math.fround(3 * coef), 0, Math.fround(4 * coef)]);
  const c = new Float32Array([0.03, 0.04]);
  assert.equal(clipGradNorm([c], 0.1), Math.fround(Math.sqrt(Math.fround(0.03) ** 2 + Math.fround(0.04) ** 2)));
  assert.deepEqual([...c], [Math.fround(0.03), Math.fround(0.04)]);
  assert.equal(clipGradNorm([], 0.1), 0);
});

test('StableAdamW rejects gradients it cannot apply', () => {
  const params = makeParams([['w', [2]]]);
  const opt = new StableAdamW(params);
  assert.throws(() => opt.step(new Map([['x', new Float32Array(2)]]), 1e-3), /unknown parameter 'x'/);
  assert.throws(() => opt.step(new Map([['w', new Float32Array(3)]]), 1e-3), /has 3 values/);
  assert.throws(() => new StableAdamW(params, { betas: [1, 0.9] }), /betas/);
});
