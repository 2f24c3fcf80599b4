import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectKth } from '../../src/engine/util/select';
import { createRng } from '../../src/engine/util/random';

test('selectKth puts the k-th value of either order in place, with no later value before it and no earlier one after', () => {
  const rng = createRng(7);
  const arrays = [
    Float64Array.from({ length: 1001 }, () => rng.uniform()),
    Float32Array.from({ length: 500 }, () => Math.floor(rng.uniform() * 4)), // many ties
    Float64Array.from({ length: 300 }, (_, i) => i), // sorted: the worst case for naive pivots
    Float32Array.from({ length: 257 }, (_, i) => (i % 2 ? 1 : -1) * i), // zig-zag
    new Float64Array(64).fill(3), // flat
  ];
  for (const original of arrays) {
    for (const order of ['ascending', 'descending'] as const) {
      const sorted = Array.from(original).sort((x, y) => (order === 'ascending' ? x - y : y - x));
      for (const k of [0, 1, original.length >> 1, original.length - 2, original.length - 1]) {
        const a = original.slice();
        selectKth(a, k, order);
        assert.equal(a[k], sorted[k], `${order} k=${k} of ${original.length}`);
        const before = (x: number) => (order === 'ascending' ? x <= a[k] : x >= a[k]);
        for (let i = 0; i < k; i++) assert.ok(before(a[i]), `${order} k=${k}: a[${i}]=${a[i]} belongs after a[k]=${a[k]}`);
        for (let i = k + 1; i < a.length; i++) assert.ok(a[i] === a[k] || !before(a[i]), `${order} k=${k}: a[${i}] belongs before`);
        assert.deepEqual(
          Array.from(a).sort((x, y) => x - y),
          Array.from(original).sort((x, y) => x - y),
          'a permutation',
        );
      }
    }
  }
});
