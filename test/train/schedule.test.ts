import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readSafetensors } from '../../src/engine/safetensors';
import { referenceLrSchedule, warmCosineLr } from '../../src/engine/train/schedule';

const FIXTURE = join(__dirname, '..', 'fixtures', 'train', 'optim_trajectories.safetensors');

test('reference warm-cosine schedule (1e-3 → 1e-4, 100 warm-up) equals torch/numpy WarmCosineScheduler', () => {
  const e = readSafetensors(FIXTURE).tensors.get('schedule.reference_300')!;
  const ref = new Float64Array(new Uint8Array(e.bytes).buffer);
  assert.equal(ref.length, 320);
  const cfg = referenceLrSchedule(300);
  for (let i = 0; i < ref.length; i++) {
    const lr = warmCosineLr(cfg, i);
    assert.ok(Math.abs(lr - ref[i]) <= 1e-12 * Math.abs(ref[i]) + 1e-18, `iteration ${i}: ${lr} vs ${ref[i]}`);
  }
  // Shape facts that follow from the definition (not from the fixture):
  assert.equal(warmCosineLr(cfg, 0), 0); // first step: the warm-up start value
  assert.equal(warmCosineLr(cfg, 99), 1e-3); // linspace endpoint
  assert.equal(warmCosineLr(cfg, 100), 1e-3); // cosine starts at the base value
  assert.equal(warmCosineLr(cfg, 300), 1e-4);
  assert.equal(warmCosineLr(cfg, 10_000), 1e-4);
});

test('schedule edge cases: no warm-up, one-step warm-up, invalid configs', () => {
  const c = { baseValue: 2, finalValue: 1, totalIters: 4, warmupIters: 0, startWarmupValue: 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => warmCosineLr(c, i)),
    [2, 1 + 0.5 * (1 + Math.cos(Math.PI / 4)), 1.5, 1 + 0.5 * (1 + Math.cos((3 * Math.PI) / 4)), 1],
  );
  assert.equal(warmCosineLr({ ...c, warmupIters: 1, startWarmupValue: 0.5 }, 0), 0.5);
  // Warm-up longer than the run (reference: the ramp is cut off, then finalValue).
  const short = { baseValue: 1e-3, finalValue: 1e-4, totalIters: 3, warmupIters: 5, startWarmupValue: 0 };
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => warmCosineLr(short, i)),
    [0, 2.5e-4, 5e-4, 1e-4],
  );
  assert.throws(() => warmCosineLr({ ...c, warmupIters: -1 }, 0), /warmupIters/);
  assert.throws(() => warmCosineLr(c, -1), /iteration/);
});
