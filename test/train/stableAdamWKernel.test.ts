import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyScalar, momentsScalar, StableAdamW } from '../../src/engine/train/optim';
import { makeParams } from '../../src/engine/train/params';
import { KERNEL_CHUNK, kernelApply, kernelAvailable, kernelMoments, type MomentsConstants } from '../../src/engine/train/stableAdamWKernel';
import { createRng } from '../../src/engine/util/random';

const f = Math.fround;

/** Values with the cases that matter: zeros, signed zeros, tiny, huge, and ordinary normals. */
function values(n: number, seed: number, scale: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    switch (i % 17) {
      case 3:
        return 0;
      case 7:
        return -0;
      case 11:
        return 1e-30 * (rng.normal() > 0 ? 1 : -1);
      case 13:
        return 3e18 * rng.normal();
      default:
        return scale * rng.normal();
    }
  });
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function assertBitIdentical(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = bits(actual);
  const e = bits(expected);
  assert.equal(a.length, e.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== e[i]) assert.fail(`${what}[${i}]: kernel ${actual[i]} vs scalar ${expected[i]}`);
}

test('the WebAssembly SIMD kernel runs on this Node', () => {
  assert.ok(kernelAvailable(), 'WebAssembly SIMD is available in Node ≥ 16.4; without it the scalar loops would silently take over');
});

for (const amsgrad of [true, false]) {
  test(`kernel passes are bit-identical to the scalar loops (amsgrad ${amsgrad}; lengths around the 4-lane and chunk edges; eps 0 too)`, () => {
    for (const n of [1, 3, 4, 5, 17, 1001, KERNEL_CHUNK - 1, KERNEL_CHUNK, KERNEL_CHUNK + 5, 2 * KERNEL_CHUNK + 3]) {
      for (const eps of [1e-10, 0]) {
        const c: MomentsConstants = {
          decay: f(1 - 1e-3 * 1e-4),
          b1: f(0.9),
          c1: f(0.1),
          b2: f(0.999),
          c2: f(1 - 0.999),
          sqrtBc2: f(Math.sqrt(1 - 0.999 ** 3)),
          eps: f(eps),
        };
        const p = values(n, 1 + n, 0.5);
        const g = values(n, 2 + n, 1e-3);
        const m = values(n, 3 + n, 1e-4);
        const v = values(n, 4 + n, 1e-6).map(Math.abs);
        const vmax = amsgrad ? v.map((x, i) => (i % 2 ? x * 2 : x / 2)) : null;
        const copy = (a: Float32Array | null) => (a ? a.slice() : null);
        const [p2, m2, v2, vmax2] = [p.slice(), m.slice(), v.slice(), copy(vmax)];
        const denomK = new Float32Array(n);
        const denomS = new Float32Array(n);
        const sumK = kernelMoments(p, g, m, v, vmax, denomK, c);
        const sumS = momentsScalar(p2, g, m2, v2, vmax2, denomS, c);
        assert.ok(sumK !== undefined);
        assert.ok(Object.is(sumK, sumS), `n ${n} eps ${eps}: Σ(g/denom)² kernel ${sumK} vs scalar ${sumS}`);
        assertBitIdentical(p, p2, `n ${n} p (decayed)`);
        assertBitIdentical(m, m2, `n ${n} exp_avg`);
        assertBitIdentical(v, v2, `n ${n} exp_avg_sq`);
        if (vmax && vmax2) assertBitIdentical(vmax, vmax2, `n ${n} max_exp_avg_sq`);
        assertBitIdentical(denomK, denomS, `n ${n} denom`);
        const value = f(-1e-3 / 0.1);
        assert.ok(kernelApply(p, m, denomK, value));
        applyScalar(p2, m2, denomS, value);
        assertBitIdentical(p, p2, `n ${n} p (updated)`);
      }
    }
  });
}

test('StableAdamW on the kernel: 20 steps on 3 tensors equal the scalar loops bit for bit', () => {
  // The optimiser as used (kernel), against the same arithmetic written out with the scalar passes.
  const shapes: [string, number[]][] = [
    ['a', [37, 11]],
    ['b', [KERNEL_CHUNK + 9]],
    ['c', [2]],
  ];
  const params = makeParams(
    shapes.map(([k, sh], i) => [
      k,
      sh,
      values(
        sh.reduce((x, y) => x * y, 1),
        50 + i,
        0.1,
      ),
    ]),
  );
  const mirror = new Map(
    [...params].map(([k, p]) => [
      k,
      { p: p.data.slice(), m: new Float32Array(p.data.length), v: new Float32Array(p.data.length), vmax: new Float32Array(p.data.length) },
    ]),
  );
  const opt = new StableAdamW(params);
  const [beta1, beta2] = [0.9, 0.999];
  for (let step = 1; step <= 20; step++) {
    const lr = 1e-3 * (1 - step / 40);
    const grads = new Map([...params].map(([k, p], i) => [k, values(p.data.length, 1000 * step + i, step % 5 === 0 ? 10 : 1e-3)]));
    opt.step(grads, lr);
    for (const [k, s] of mirror) {
      const g = grads.get(k)!;
      const c: MomentsConstants = {
        decay: f(1 - lr * 1e-4),
        b1: f(beta1),
        c1: f(1 - beta1),
        b2: f(beta2),
        c2: f(1 - beta2),
        sqrtBc2: f(Math.sqrt(1 - beta2 ** step)),
        eps: f(1e-10),
      };
      const denom = new Float32Array(g.length);
      const sumSq = momentsScalar(s.p, g, s.m, s.v, s.vmax, denom, c);
      const ratio = f(f(f(Math.sqrt(sumSq)) / f(Math.sqrt(g.length))) / f(1));
      const bc1 = 1 - beta1 ** step;
      applyScalar(s.p, s.m, denom, f(-(ratio > 1 ? f(f(1 / ratio) * f(lr / bc1)) : lr / bc1)));
      assertBitIdentical(params.get(k)!.data, s.p, `step ${step} ${k}`);
    }
  }
});

test('the committed kernel binary is the compiled stableAdamW.wat (scripts/build-wasm.mjs)', async () => {
  const { generatedSource } = await import('../../scripts/build-wasm.mjs');
  const committed = readFileSync(join(__dirname, '..', '..', 'src', 'engine', 'train', 'stableAdamWKernel.generated.ts'), 'utf8');
  assert.equal(committed, await generatedSource(), 'stale: run node scripts/build-wasm.mjs');
});
