import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, mixSeed } from '../../src/engine/util/random';

const draw = (seed: number, n: number) => {
  const r = createRng(seed);
  return Array.from({ length: n }, () => r.nextUint32());
};

test('seeded streams: same seed → same numbers, other seeds (incl. beyond 32 bits) → others', () => {
  assert.deepEqual(draw(7, 50), draw(7, 50));
  assert.notDeepEqual(draw(7, 50), draw(8, 50));
  assert.notDeepEqual(draw(0, 50), draw(2 ** 40, 50));
  assert.ok(
    draw(0, 50).some((v) => v !== 0),
    'seed 0 is not degenerate',
  );
  assert.equal(mixSeed(1, 2), mixSeed(1, 2));
  assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  assert.notEqual(mixSeed(1, 2), mixSeed(1, 3));
});

test('uniform, normal and int have the right ranges and moments', () => {
  const r = createRng(123);
  const n = 100000;
  let su = 0;
  let sn = 0;
  let sn2 = 0;
  const counts = new Array(7).fill(0);
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = r.normal();
    sn += z;
    sn2 += z * z;
    counts[r.int(7)]++;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005, `uniform mean ${su / n}`);
  assert.ok(Math.abs(sn / n) < 0.02, `normal mean ${sn / n}`);
  assert.ok(Math.abs(sn2 / n - 1) < 0.03, `normal variance ${sn2 / n}`);
  for (const c of counts) assert.ok(Math.abs(c / n - 1 / 7) < 0.01, `int(7) frequencies ${counts.join(',')}`);
  const x = r.range(-2, 3);
  assert.ok(x >= -2 && x < 3);
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.int(2.5), RangeError);
});

test('shuffle is a seeded permutation', () => {
  const a = createRng(5).shuffle([...Array(20).keys()]);
  const b = createRng(5).shuffle([...Array(20).keys()]);
  assert.deepEqual(a, b);
  assert.deepEqual(
    [...a].sort((p, q) => p - q),
    [...Array(20).keys()],
  );
  assert.notDeepEqual(a, [...Array(20).keys()]);
});
