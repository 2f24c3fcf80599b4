// Anomaly-map post-processing (docs/reference-arithmetic.md#anomaly-map) against the public AnyAD
// reference (goldens tiny-112, trimmed into test/fixtures/eval/reference-maps.safetensors) and
// torch 1.13's F.interpolate / conv2d on small inputs (resize-golden.safetensors), both written by
// scripts/fixtures/make_eval_fixtures.py (docs/fixtures.md#make_eval_fixturespy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { getFloat32, readSafetensors } from '../../src/engine/safetensors';
import {
  anomalyMapFromFeatures,
  cosineDistanceMap,
  evaluationMap,
  fuseScaleMaps,
  imageScore,
  referenceGaussianKernel,
  smoothedMapAtPx,
} from '../../src/engine/eval/anomalyMap';
import { convolveZeroPad } from '../../src/engine/eval/gaussian';
import { resizeBilinear, resizeNearest } from '../../src/engine/eval/resample';
import { mapToSliceGrid } from '../../src/engine/eval/sliceGrid';
import { centerCropOffset } from '../../src/engine/study/preprocess';
import { selectLargest, topKCount, topKMean } from '../../src/engine/eval/topk';
import { EvalError } from '../../src/engine/errors';

const FIX = join(__dirname, '..', 'fixtures', 'eval');
const refPath = join(FIX, 'reference-maps.safetensors');
const ref = readSafetensors(refPath);
const gold = readSafetensors(join(FIX, 'resize-golden.safetensors'));
const get = (name: string) => getFloat32(ref, name, undefined, refPath);
const g = (name: string) => getFloat32(gold, name).data;
const gu8 = (name: string) => Uint8Array.from(getFloat32(gold, name).data);

const PX = 112;
const S = 8;
const D = 64;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts max |a − b| ≤ rel · max|b| and returns the observed relative error. */
function assertClose(a: Float32Array, b: Float32Array, rel: number, what: string): number {
  assert.equal(a.length, b.length, `${what}: length`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  const scale = maxAbs(b);
  assert.ok(scale > 0, `${what}: reference is all zero`);
  assert.ok(d <= rel * scale, `${what}: max abs diff ${d} > ${rel} × ${scale}`);
  return d / scale;
}

const plane = (t: { data: Float32Array }, index: number, size: number) => t.data.subarray(index * size, (index + 1) * size);

test('Gaussian kernel equals the reference get_gaussian_kernel(5, 4)', () => {
  const k = referenceGaussianKernel();
  const r = get('gaussian_kernel');
  assert.deepEqual(r.shape, [1, 1, 5, 5]);
  assert.deepEqual(k, r.data); // bit for bit
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('per-scale 1 − cos from En/De features matches the reference amap_patch (combination 7)', () => {
  const patch = get('all.amap_patch'); // [4, 7, 2, s, s]
  const n = S * S;
  for (let img = 0; img < 2; img++) {
    for (let scale = 0; scale < 2; scale++) {
      const en = plane(get(`full.en${scale}`), img, D * n);
      const de = plane(get(`full.de${scale}`), img, D * n);
      const mine = cosineDistanceMap(en, de, D, n);
      const expected = patch.data.subarray(((img * 7 + 6) * 2 + scale) * n, ((img * 7 + 6) * 2 + scale + 1) * n);
      assertClose(mine, expected, 1e-5, `image ${img} scale ${scale}`);
    }
  }
});

test('fusion (upsample align_corners=True, then mean) matches amap_px; from features too', () => {
  const patch = get('all.amap_patch');
  const amapPx = get('full.amap_px');
  const n = S * S;
  for (let img = 0; img < 2; img++) {
    const base = (img * 7 + 6) * 2 * n;
    const scales = [patch.data.subarray(base, base + n), patch.data.subarray(base + n, base + 2 * n)];
    const expected = plane(amapPx, img, PX * PX);
    assertClose(fuseScaleMaps(scales, S, PX), expected, 1e-5, `image ${img} from amap_patch`);
    const pairs = [0, 1].map((s) => ({ en: plane(get(`full.en${s}`), img, D * n), de: plane(get(`full.de${s}`), img, D * n) }));
    assertClose(anomalyMapFromFeatures(pairs, D, S, PX), expected, 1e-5, `image ${img} from En/De`);
  }
});

test('256×256 resize and Gaussian match amap_256 and amap_256_smooth; PX variant matches amap_px_smooth', () => {
  const amapPx = get('full.amap_px');
  const img1 = plane(amapPx, 1, PX * PX);
  const resized = resizeBilinear(img1, PX, PX, 256, 256, false);
  assertClose(resized, get('full.amap_256').data, 1e-5, 'amap_256');
  assertClose(evaluationMap(img1, PX), get('full.amap_256_smooth').data, 1e-5, 'amap_256_smooth');
  for (let img = 0; img < 2; img++) {
    assertClose(
      smoothedMapAtPx(plane(amapPx, img, PX * PX), PX),
      plane(get('full.amap_px_smooth'), img, PX * PX),
      1e-5,
      `amap_px_smooth ${img}`,
    );
  }
});

test('image scores of all 4 images × 7 subsets match the reference (256 grid and PX variant)', () => {
  const patch = get('all.amap_patch');
  const score = get('all.score');
  const scorePx = get('all.score_px');
  const n = S * S;
  assert.equal(topKCount(256 * 256, 0.01), 655);
  assert.equal(topKCount(PX * PX, 0.01), 125);
  let worst = 0;
  for (let img = 0; img < 4; img++) {
    for (let c = 0; c < 7; c++) {
      const base = (img * 7 + c) * 2 * n;
      const amap = fuseScaleMaps([patch.data.subarray(base, base + n), patch.data.subarray(base + n, base + 2 * n)], S, PX);
      const s256 = imageScore(evaluationMap(amap, PX));
      const sPx = imageScore(smoothedMapAtPx(amap, PX));
      const e256 = score.data[img * 7 + c];
      const ePx = scorePx.data[img * 7 + c];
      worst = Math.max(worst, Math.abs(s256 - e256) / e256, Math.abs(sPx - ePx) / ePx);
      assert.ok(Math.abs(s256 - e256) <= 1e-6 * e256, `image ${img} combination ${c + 1}: ${s256} vs ${e256}`);
      assert.ok(Math.abs(sPx - ePx) <= 1e-6 * ePx, `image ${img} combination ${c + 1} (PX): ${sPx} vs ${ePx}`);
    }
  }
  assert.ok(worst < 1e-6);
});

test('bilinear and nearest resizes match torch F.interpolate (down, up, non-square)', () => {
  assertClose(resizeBilinear(g('src40'), 40, 40, 32, 32, false), g('bilinear.40to32'), 1e-6, '40→32');
  assertClose(resizeBilinear(g('src23x17'), 23, 17, 57, 31, false), g('bilinear.23x17to57x31'), 1e-6, '23×17→57×31');
  assertClose(resizeBilinear(g('src8'), 8, 8, 37, 37, true), g('bilinear_ac.8to37'), 1e-6, '8→37 align_corners');
  assert.deepEqual(resizeNearest(gu8('mask40'), 40, 40, 32, 32), gu8('nearest.40to32'));
  assert.deepEqual(resizeNearest(gu8('mask23x17'), 23, 17, 57, 31), gu8('nearest.23x17to57x31'));
  assert.deepEqual(resizeNearest(gu8('mask40'), 40, 40, 80, 80), gu8('nearest.40to80'));
  assertClose(convolveZeroPad(g('src40'), 40, 40, referenceGaussianKernel()), g('gauss.src40'), 1e-6, 'gaussian 40×40');
});

test('mapToSliceGrid: crop placed in the R×R canvas (zero outside), resized to the slice, as torch', () => {
  assert.equal(centerCropOffset(19, 14), 2);
  assert.equal(centerCropOffset(448, 392), 28);
  const crop = g('slice.crop14');
  assertClose(mapToSliceGrid(crop, 14, { resize: 19, crop: 14 }, 23, 17), g('slice.R19C14toH17W23'), 1e-6, 'R19 C14 → 17×23');
  assertClose(mapToSliceGrid(crop, 14, { resize: 18, crop: 14 }, 30, 9), g('slice.R18C14toH9W30'), 1e-6, 'R18 C14 → 9×30');
  // A map on another grid is first brought to C×C: a constant map stays constant inside.
  const flat = mapToSliceGrid(new Float32Array(256 * 256).fill(0.5), 256, { resize: 448, crop: 392 }, 448, 448);
  assert.equal(flat[224 * 448 + 224], 0.5);
  assert.equal(flat[0], 0);
  assert.throws(
    () => mapToSliceGrid(crop, 14, { resize: 10, crop: 14 }, 5, 5),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/bad-size',
  );
  assert.throws(
    () => mapToSliceGrid(crop, 15, { resize: 19, crop: 14 }, 5, 5),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/size-mismatch',
  );
});

test('top-k selection equals a full sort on random, tied and flat maps', () => {
  let seed = 5;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  for (const kind of ['random', 'tied', 'flat', 'sorted']) {
    const a = new Float32Array(65536);
    for (let i = 0; i < a.length; i++) {
      a[i] = kind === 'random' ? rand() : kind === 'tied' ? Math.floor(rand() * 5) : kind === 'flat' ? 0.25 : i;
    }
    const sorted = Float32Array.from(a).sort().reverse();
    let ref = 0;
    for (let i = 0; i < 655; i++) ref += sorted[i];
    assert.equal(topKMean(a), Math.fround(ref / 655), kind);
    const work = Float32Array.from(a);
    selectLargest(work, 655);
    const top = Float32Array.from(work.subarray(0, 655)).sort().reverse();
    assert.deepEqual(top, sorted.subarray(0, 655), kind);
  }
  assert.throws(
    () => topKMean(Float32Array.from([1, NaN])),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/non-finite-score',
  );
});
