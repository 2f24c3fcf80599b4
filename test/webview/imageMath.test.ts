/** The viewer's image arithmetic without a browser: windows, scaling, label images, heatmap display, drawing edits, the annotation hash. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  annotationHash,
  autoWindow,
  datatypeName,
  drawingEdit,
  heatmapDisplayValues,
  isLabelData,
  labelMax,
  niftiScaling,
  percentiles,
  sameBitmap,
  windowRange,
} from '../../src/webview/imageMath';

test('auto window: the robust range first, then the display range, never empty', () => {
  assert.deepEqual(autoWindow({ robust_min: 2, robust_max: 90, cal_min: 0, cal_max: 100 }), [2, 90]);
  assert.deepEqual(autoWindow({ cal_min: 5, cal_max: 50 }), [5, 50]);
  assert.deepEqual(autoWindow({}), [0, 1]);
  // A flat image gets a window one wide instead of an empty one.
  assert.deepEqual(autoWindow({ robust_min: 7, robust_max: 7 }), [7, 8]);
  assert.deepEqual(autoWindow({ robust_min: 9, robust_max: 3 }), [9, 10]);
});

test('NIfTI scaling: slope 0 or missing means none, and then the intercept is ignored too', () => {
  assert.deepEqual(niftiScaling(2, 10), { slope: 2, inter: 10 });
  assert.deepEqual(niftiScaling(2, undefined), { slope: 2, inter: 0 });
  assert.deepEqual(niftiScaling(0, 10), { slope: 1, inter: 0 });
  assert.deepEqual(niftiScaling(undefined, 10), { slope: 1, inter: 0 });
  assert.deepEqual(niftiScaling(Number.NaN, 10), { slope: 1, inter: 0 });
});

test('percentiles: of the non-zero scaled voxels; [0, 1] for an all-zero image', () => {
  const data = new Float32Array(101);
  for (let i = 1; i <= 100; i++) data[i] = i;
  assert.deepEqual(percentiles(data, { slope: 1, inter: 0 }, 0.05, 0.95), [5, 95]);
  assert.deepEqual(percentiles(data, { slope: 2, inter: 1 }, 0, 1), [3, 201]);
  assert.deepEqual(percentiles(new Float32Array(10), { slope: 1, inter: 0 }, 0.05, 0.95), [0, 1]);
  // A large image is sampled (about 200,000 voxels), not sorted whole.
  const big = new Float32Array(1_000_000).map((_, i) => (i % 1000) + 1);
  const [lo, hi] = percentiles(big, { slope: 1, inter: 0 }, 0.05, 0.95);
  assert.ok(Math.abs(lo - 50) <= 5 && Math.abs(hi - 950) <= 5, `${lo} ${hi}`);
});

test('window presets: full, narrow (5–95 %), custom (typed), robust otherwise; empty or non-numeric ranges refused', () => {
  const img = { cal_min: 10, cal_max: 20, robust_min: 12, robust_max: 18, global_min: 0, global_max: 100 };
  const data = Float32Array.from({ length: 101 }, (_, i) => i);
  const none = { slope: 1, inter: 0 };
  const typed = { min: '3', max: '7.5' };
  assert.deepEqual(windowRange('full', img, data, none, typed), [0, 100]);
  assert.deepEqual(windowRange('full', { cal_min: 10, cal_max: 20 }, data, none, typed), [10, 20]);
  assert.deepEqual(windowRange('narrow', img, data, none, typed), [5, 95]);
  assert.deepEqual(windowRange('custom', img, data, none, typed), [3, 7.5]);
  assert.deepEqual(windowRange('auto', img, data, none, typed), [12, 18]);
  assert.deepEqual(windowRange('anything else', img, data, none, typed), [12, 18]);
  assert.equal(windowRange('custom', img, data, none, { min: '8', max: '8' }), null);
  assert.equal(windowRange('custom', img, data, none, { min: '9', max: '2' }), null);
  assert.equal(windowRange('custom', img, data, none, { min: 'a', max: '2' }), null);
  assert.equal(windowRange('full', {}, data, none, typed), null);
});

test('label images: small non-negative integers of an integer type, at most 64 values', () => {
  assert.equal(datatypeName(2), 'uint8');
  assert.equal(datatypeName(16), 'float32');
  assert.equal(datatypeName(1234), 'other');
  const labels = Uint8Array.from({ length: 700 }, (_, i) => i % 5);
  assert.equal(isLabelData(labels, 2), true);
  assert.equal(isLabelData(Int16Array.from(labels), 4), true);
  assert.equal(isLabelData(Float32Array.from(labels), 16), false, 'a float image is never a label image');
  assert.equal(isLabelData(null, 2), false);
  assert.equal(
    isLabelData(
      Int16Array.from({ length: 70 }, (_, i) => (i === 7 ? -1 : 1)),
      4,
    ),
    false,
    'negative',
  );
  assert.equal(
    isLabelData(
      Int16Array.from({ length: 70 }, (_, i) => (i === 14 ? 256 : 1)),
      4,
    ),
    false,
    'above 255',
  );
  // 65 distinct values on the 1-in-7 sample is too many; 64 is still a label image.
  assert.equal(
    isLabelData(
      Uint8Array.from({ length: 65 * 7 }, (_, i) => Math.floor(i / 7)),
      2,
    ),
    false,
  );
  assert.equal(
    isLabelData(
      Uint8Array.from({ length: 64 * 7 }, (_, i) => Math.floor(i / 7)),
      2,
    ),
    true,
  );
});

test('label max: the larger of the image and the table (at least 1), at most 255', () => {
  assert.equal(labelMax(Uint8Array.from([0, 2, 7]), [1, 2, 3, 4]), 7);
  assert.equal(labelMax(Uint8Array.from([0, 2]), [1, 2, 3, 4]), 4);
  assert.equal(labelMax(new Uint8Array(3), []), 1);
  assert.equal(labelMax(Uint16Array.from([300]), [1]), 255);
});

test('heatmap display: NaN (not computed) goes one range-width below the range, finite values untouched', () => {
  const out = heatmapDisplayValues(Float32Array.from([0.2, Number.NaN, 0.6]), [0.2, 0.6]);
  assert.equal(out[0], Math.fround(0.2));
  assert.ok(Math.abs(out[1] - -0.2) < 1e-6, String(out[1]));
  assert.equal(out[2], Math.fround(0.6));
});

test('drawing edit: changed voxels as canonical indices (ascending) and values; the mirror follows the bitmap', () => {
  const mirror = Uint8Array.from([0, 0, 0, 0]);
  const bitmap = Uint8Array.from([0, 3, 0, 5]);
  // Draw order reversed against canonical order.
  const edit = drawingEdit(bitmap, mirror, (j) => 3 - j);
  assert.ok(edit);
  assert.deepEqual([...edit.indices], [0, 2]);
  assert.deepEqual([...edit.values], [5, 3]);
  assert.deepEqual([...mirror], [0, 3, 0, 5]);
  // Nothing more changed: no edit; sizes differ: no edit and the mirror is left alone.
  assert.equal(
    drawingEdit(bitmap, mirror, (j) => j),
    null,
  );
  const shorter = Uint8Array.from([1, 1]);
  assert.equal(
    drawingEdit(bitmap, shorter, (j) => j),
    null,
  );
  assert.deepEqual([...shorter], [1, 1]);
});

test('same bitmap: equal values and lengths', () => {
  assert.equal(sameBitmap(Uint8Array.from([1, 2]), Uint8Array.from([1, 2])), true);
  assert.equal(sameBitmap(Uint8Array.from([1, 2]), Uint8Array.from([1, 3])), false);
  assert.equal(sameBitmap(Uint8Array.from([1, 2]), Uint8Array.from([1, 2, 0])), false);
});

test('annotation hash: 32-bit FNV-1a, as the end-to-end test recomputes it from the saved file', () => {
  assert.equal(annotationHash(new Uint8Array(0)), 0x811c9dc5);
  // FNV-1a of the bytes "a" and "foobar" (published test vectors).
  assert.equal(annotationHash(Uint8Array.from([0x61])), 0xe40c292c);
  assert.equal(annotationHash(new TextEncoder().encode('foobar')), 0xbf9cf968);
  assert.notEqual(annotationHash(Uint8Array.from([1, 2])), annotationHash(Uint8Array.from([2, 1])));
});
