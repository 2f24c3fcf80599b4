/**
 * The viewer's pixel composition: screen orientation against the engine's axialImage
 * convention (radiological), neurological flip, coronal/sagittal up = superior, windowing,
 * overlays, colormaps and the percentile window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axialImage } from '../../src/engine/study';
import { colormapLut, finiteRange, labelColour, percentileWindow, renderSlice, screenToPlane } from '../../src/webview/render';

const DIMS: [number, number, number] = [6, 5, 4];
const N = 6 * 5 * 4;
const idx = (x: number, y: number, z: number) => x + 6 * (y + 5 * z);
const base = new Float32Array(N).map((_, i) => i);
const vol = { dims: DIMS, spacing: [1, 1, 1] as [number, number, number], affine: new Float64Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), data: base };
const grey = (out: Uint8ClampedArray, w: number, r: number, c: number) => out[4 * (r * w + c)];

test('axial radiological rendering matches the engine axialImage pixel for pixel', () => {
  const out = new Uint8ClampedArray(6 * 5 * 4);
  // Window [0, 255] keeps values (all < 120) unchanged as grey levels.
  renderSlice(out, DIMS, 'axial', 2, true, { base, window: [0, 255] });
  const img = axialImage(vol, 2);
  for (let r = 0; r < 5; r++) for (let c = 0; c < 6; c++) assert.equal(grey(out, 6, r, c), Math.round(img.data[r * 6 + c]));
  // screenToPlane inverts it.
  assert.deepEqual(screenToPlane(DIMS, 'axial', true, 0, 0), [5, 4]);
  assert.equal(screenToPlane(DIMS, 'axial', true, 6, 0), null);
});

test('neurological flips left-right only; coronal and sagittal put superior at the top', () => {
  const out = new Uint8ClampedArray(6 * 5 * 4);
  renderSlice(out, DIMS, 'axial', 1, false, { base, window: [0, 255] });
  assert.equal(grey(out, 6, 0, 0), idx(0, 4, 1));
  const cor = new Uint8ClampedArray(6 * 4 * 4);
  renderSlice(cor, DIMS, 'coronal', 3, true, { base, window: [0, 255] });
  assert.equal(grey(cor, 6, 0, 0), idx(5, 3, 3), 'top-left: patient right, superior');
  assert.equal(grey(cor, 6, 3, 5), idx(0, 3, 0));
  const sag = new Uint8ClampedArray(5 * 4 * 4);
  renderSlice(sag, DIMS, 'sagittal', 2, true, { base, window: [0, 255] });
  assert.equal(grey(sag, 5, 0, 0), idx(2, 4, 3), 'top-left: anterior, superior');
});

test('window clamps and scales; overlays blend with their opacity; NaN heatmap is transparent', () => {
  const out = new Uint8ClampedArray(6 * 5 * 4);
  renderSlice(out, DIMS, 'axial', 0, true, { base, window: [10, 20] });
  assert.equal(grey(out, 6, 4, 5), 0, 'voxel 0 below the window');
  assert.equal(grey(out, 6, 0, 0), 255, 'voxel 29 above the window');
  const annotation = new Uint8Array(N);
  annotation[idx(5, 4, 0)] = 1; // shown at row 0, column 0
  const heat = new Float32Array(N).fill(NaN);
  renderSlice(out, DIMS, 'axial', 0, true, {
    base: new Float32Array(N), window: [0, 1],
    annotation: { data: annotation, opacity: 1 },
    heatmap: { data: heat, range: [0, 1], lut: colormapLut('hot'), opacity: 1, threshold: 0.5, contour: true },
  });
  assert.deepEqual([...out.slice(0, 4)], [...labelColour(1), 255]);
  assert.deepEqual([...out.slice(4, 8)], [0, 0, 0, 255]);
  // A fully opaque maximal heatmap voxel shows the colormap's top colour; above threshold at the edge: contour colour.
  heat[idx(2, 2, 0)] = 1;
  renderSlice(out, DIMS, 'axial', 0, true, { base: new Float32Array(N), window: [0, 1], heatmap: { data: heat, range: [0, 1], lut: colormapLut('hot'), opacity: 1, threshold: 2, contour: true } });
  const o = 4 * (2 * 6 + 3);
  assert.deepEqual([...out.slice(o, o + 3)], [255, 255, 255]);
  renderSlice(out, DIMS, 'axial', 0, true, { base: new Float32Array(N), window: [0, 1], heatmap: { data: heat, range: [0, 1], lut: colormapLut('hot'), opacity: 1, threshold: 0.5, contour: true } });
  assert.deepEqual([...out.slice(o, o + 3)], [0, 255, 255]);
});

test('colormaps run from their first to their last anchor; windows from percentiles', () => {
  const hot = colormapLut('hot');
  assert.deepEqual([...hot.slice(0, 3)], [0, 0, 0]);
  assert.deepEqual([...hot.slice(765)], [255, 255, 255]);
  assert.deepEqual([...colormapLut('viridis').slice(0, 3)], [68, 1, 84]);
  const v = new Float32Array(1001).map((_, i) => i); // zeros are ignored: 1..1000
  assert.deepEqual(percentileWindow(v), [v[1 + Math.floor(0.01 * 999)], v[1 + Math.floor(0.99 * 999)]]);
  assert.deepEqual(percentileWindow(new Float32Array(10)), [0, 1]);
  assert.deepEqual(finiteRange(new Float32Array([NaN, 3, -2, NaN])), [-2, 3]);
});
