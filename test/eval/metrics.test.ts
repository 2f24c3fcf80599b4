// Threshold metrics against scikit-learn 1.2 and an independent numpy/skimage AUPRO
// (fixtures from scripts/fixtures/make_eval_fixtures.py), plus seeded property tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryMetrics } from '../../src/engine/eval/binaryMetrics';
import { PixelMetricAccumulator } from '../../src/engine/eval/pixelAccumulator';
import { labelRegions8 } from '../../src/engine/eval/regions';
import { CurveSampler, ProIntegrator } from '../../src/engine/eval/thresholdSweep';
import { SubsetEvaluator } from '../../src/engine/eval/subsetEvaluator';
import { imageScore } from '../../src/engine/eval/anomalyMap';
import { EvalError } from '../../src/engine/errors';
import type { BinaryMetrics } from '../../src/engine/eval/types';
import { mulberry32 as rng } from '../helpers/random';

const FIX = join(__dirname, '..', 'fixtures', 'eval');

interface BinaryCase {
  name: string;
  scores: number[];
  labels: number[];
  positives: number;
  negatives: number;
  auroc: number | null;
  ap: number | null;
  f1Max: number | null;
  f1Threshold: number | null;
}
interface AuproImage {
  width: number;
  height: number;
  scores: number[];
  mask: number[];
}
interface AuproCase {
  name: string;
  aupro: number | null;
  regions: number;
  images: AuproImage[];
}

const binaryCases = (JSON.parse(readFileSync(join(FIX, 'binary-metrics.json'), 'utf8')) as { cases: BinaryCase[] }).cases;
const auproCases = (JSON.parse(readFileSync(join(FIX, 'aupro.json'), 'utf8')) as { cases: AuproCase[] }).cases;

function close(actual: number | null, expected: number | null, tol: number, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null`);
    return;
  }
  assert.ok(actual !== null, `${what}: got null, expected ${expected}`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

/** Pixel accumulator over one 1-row "image" per case: the same scores through the keyed sort. */
function viaAccumulator(scores: number[], labels: number[]): BinaryMetrics {
  const acc = new PixelMetricAccumulator();
  acc.add(Float32Array.from(scores), Uint8Array.from(labels), scores.length, 1);
  return acc.finalize();
}

test('image metrics match scikit-learn (random, tied, degenerate score sets)', () => {
  assert.ok(binaryCases.length >= 8);
  for (const c of binaryCases) {
    for (const [path, m] of [
      ['binaryMetrics', binaryMetrics(c.scores, c.labels)],
      ['accumulator', viaAccumulator(c.scores, c.labels)],
    ] as const) {
      const what = `${c.name} (${path})`;
      assert.equal(m.positives, c.positives, what);
      assert.equal(m.negatives, c.negatives, what);
      close(m.auroc, c.auroc, 1e-12, `${what} AUROC`);
      close(m.ap, c.ap, 1e-12, `${what} AP`);
      close(m.f1Max, c.f1Max, 1e-12, `${what} F1-max`);
      assert.equal(m.f1Threshold, c.f1Threshold, `${what} F1 threshold`);
      for (const k of ['auroc', 'ap', 'f1Max'] as const) {
        if (c[k] === null) assert.ok(m.undefinedReasons[k], `${what}: ${k} is null and must say why`);
        else assert.equal(m.undefinedReasons[k], undefined, what);
      }
    }
  }
});

test('defined results for degenerate inputs: one class, all equal, a single positive', () => {
  const byName = new Map(binaryCases.map((c) => [c.name, c]));
  const neg = binaryMetrics(byName.get('negatives-only')!.scores, byName.get('negatives-only')!.labels);
  assert.equal(neg.auroc, null);
  assert.equal(neg.ap, null);
  assert.equal(neg.f1Max, null);
  assert.match(neg.undefinedReasons.auroc!, /one class/);
  assert.deepEqual(neg.roc, { x: [], y: [] });
  const pos = binaryMetrics(byName.get('positives-only')!.scores, byName.get('positives-only')!.labels);
  assert.equal(pos.auroc, null);
  assert.equal(pos.ap, 1);
  const eq = binaryMetrics(new Array(10).fill(0.3), [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  // One tie block: ROC is the diagonal (0.5), precision = prevalence everywhere.
  assert.equal(eq.auroc, 0.5);
  assert.equal(eq.ap, 0.2);
  assert.equal(eq.distinctThresholds, 1);
  assert.throws(
    () => binaryMetrics([0.1, NaN], [0, 1]),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/non-finite-score',
  );
  assert.throws(
    () => binaryMetrics([0.1, 0.2], [0, 2]),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/bad-label',
  );
  assert.throws(
    () => binaryMetrics([0.1], [0, 1]),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/length-mismatch',
  );
  const acc = new PixelMetricAccumulator();
  assert.throws(
    () => acc.add(Float32Array.from([0, Infinity]), null, 2, 1),
    (e: unknown) => e instanceof EvalError && /x 1, y 0/.test((e as Error).message),
  );
  assert.throws(
    () => acc.add(Float32Array.from([0, 1, 2]), null, 2, 1),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/size-mismatch',
  );
});

function accumulate(images: AuproImage[]): PixelMetricAccumulator {
  const acc = new PixelMetricAccumulator();
  images.forEach((im, i) => acc.add(Float32Array.from(im.scores), Uint8Array.from(im.mask), im.width, im.height, `#${i}`));
  return acc;
}

test('AUPRO matches an independent numpy/skimage implementation (exact over all thresholds)', () => {
  for (const c of auproCases) {
    const m = accumulate(c.images).finalize();
    assert.equal(m.regions, c.regions, `${c.name}: regions`);
    close(m.aupro, c.aupro, 1e-12, `${c.name}: AUPRO`);
    if (c.aupro === null) {
      // Empty masks: no anomalous pixel at all, so the pixel ROC is undefined too.
      assert.match(m.undefinedReasons.aupro!, /no anomalous regions/);
      assert.equal(m.auroc, null);
      assert.equal(m.ap, null);
    }
  }
});

test('AUPRO of a tiny case worked by hand', () => {
  // One image, 4 columns × 3 rows; scores and mask:
  //   0.9  0.8  0.1  0.4      1 1 0 0     region A = {0.9, 0.8, 0.7}  (3 px)
  //   0.7  0.2  0.3  0.6      1 0 0 1     region B = {0.6, 0.3}       (2 px, not touching A)
  //   0.05 0.0  0.35 0.3      0 0 0 1     normal: 0.1 0.4 0.2 0.3 0.05 0.0 0.35  (N = 7)
  // PRO(t) = (covered_A/3 + covered_B/2) / 2, FPR(t) = normals ≥ t / 7, thresholds descending:
  //   t = 0.9 → (0, 1/6)   0.8 → (0, 2/6)   0.7 → (0, 3/6)   0.6 → (0, 3/4)
  //   0.4 → (1/7, 3/4)     0.35 → (2/7, 3/4)
  //   0.3 is a tie block of one normal and one B pixel: → (3/7, 1) in one diagonal step.
  // ∫₀^0.3 PRO dFPR: on [0, 2/7] PRO = 3/4 → 3/14. The diagonal from (2/7, 3/4) to (3/7, 1)
  // is cut at 0.3: PRO(0.3) = 3/4 + (1/4)·(0.3 − 2/7)·7 = 0.775, area (0.1/7)·(0.75 + 0.775)/2
  // = 61/5600. Total 1200/5600 + 61/5600 = 1261/5600; divided by 0.3: AUPRO = 1261/1680.
  const scores = Float32Array.from([0.9, 0.8, 0.1, 0.4, 0.7, 0.2, 0.3, 0.6, 0.05, 0.0, 0.35, 0.3]);
  const mask = Uint8Array.from([1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
  const acc = new PixelMetricAccumulator();
  acc.add(scores, mask, 4, 3);
  const m = acc.finalize();
  assert.equal(m.regions, 2);
  assert.ok(Math.abs(m.aupro! - 1261 / 1680) < 1e-15, `AUPRO ${m.aupro}`);
  // The cut alone: the straight segment (0, 0) → (0.6, 1) has ∫₀^0.3 = 0.3·(0 + 0.5)/2 = 0.075 → 0.25.
  const pro = new ProIntegrator(0.3);
  pro.push(0.6, 1);
  assert.ok(Math.abs(pro.value() - 0.25) < 1e-15);
});

test('8-connected region labelling: a diagonal touch joins, a gap separates', () => {
  const mask = Uint8Array.from([1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
  const labels = new Int32Array(12);
  const r = labelRegions8(mask, 4, 3, labels);
  assert.equal(r.count, 3);
  assert.deepEqual(r.sizes, [2, 1, 1]);
  assert.deepEqual(Array.from(labels), [1, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 3]);
});

test('property: AUROC and AP are unchanged by a strictly increasing transform', () => {
  const r = rng(42);
  for (let trial = 0; trial < 20; trial++) {
    const n = 50 + Math.floor(r() * 500);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = r() < 0.3 ? 1 : 0;
      labels.push(y);
      // quantise half the trials to force ties
      const s = r() + 0.4 * y;
      scores.push(trial % 2 ? Math.round(s * 10) / 10 : s);
    }
    const a = binaryMetrics(scores, labels);
    const b = binaryMetrics(
      scores.map((s) => Math.exp(3 * s) - 7),
      labels,
    );
    assert.equal(a.auroc, b.auroc);
    assert.equal(a.ap, b.ap);
    assert.equal(a.f1Max, b.f1Max);
    assert.ok(a.ap! <= 1 && a.ap! > 0);
  }
});

/** Random images with disc blobs; the first and last rows stay normal so images can be stacked. */
function blobImages(seed: number, count: number, w: number, h: number): AuproImage[] {
  const r = rng(seed);
  const out: AuproImage[] = [];
  for (let k = 0; k < count; k++) {
    const mask = new Array<number>(w * h).fill(0);
    const blobs = Math.floor(r() * 4);
    for (let b = 0; b < blobs; b++) {
      const cx = 2 + r() * (w - 4),
        cy = 2 + r() * (h - 4),
        rad = 0.8 + r() * 3;
      for (let y = 1; y < h - 1; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) mask[y * w + x] = 1;
    }
    const quant = k % 3 === 0;
    const scores = mask.map((m) => {
      const s = Math.fround(r() * 0.8 + 0.35 * m);
      return quant ? Math.round(s * 16) / 16 : s;
    });
    out.push({ width: w, height: h, scores, mask });
  }
  return out;
}

test('property: streaming over many images equals one concatenated array; AUPRO in [0, 1]; AP ≤ 1', () => {
  for (const seed of [1, 2, 3]) {
    const images = blobImages(seed, 25, 24, 20);
    const streamed = accumulate(images).finalize();
    // The same pixels as one image stacked vertically: regions cannot merge across images
    // because each image's first and last rows are normal.
    const stacked = accumulate([
      {
        width: 24,
        height: 20 * images.length,
        scores: images.flatMap((im) => im.scores),
        mask: images.flatMap((im) => im.mask),
      },
    ]).finalize();
    const flat = binaryMetrics(
      images.flatMap((im) => im.scores),
      images.flatMap((im) => im.mask),
    );
    for (const k of ['auroc', 'ap', 'f1Max', 'f1Threshold', 'positives', 'negatives', 'distinctThresholds'] as const) {
      assert.equal(streamed[k], flat[k], `seed ${seed} ${k} vs index-sorted concatenation`);
      assert.equal(streamed[k], stacked[k], `seed ${seed} ${k} vs stacked image`);
    }
    assert.equal(streamed.regions, stacked.regions);
    assert.ok(Math.abs(streamed.aupro! - stacked.aupro!) < 1e-12, `AUPRO ${streamed.aupro} vs ${stacked.aupro}`);
    assert.ok(streamed.aupro! >= 0 && streamed.aupro! <= 1 + 1e-12);
    assert.ok(streamed.ap! <= 1);
  }
});

test('property: AUPRO stays in [0, 1] for adversarial score layouts', () => {
  const r = rng(9);
  for (let trial = 0; trial < 30; trial++) {
    const images = blobImages(100 + trial, 4, 12, 10);
    // Invert, randomise or flatten the scores of some trials.
    for (const im of images) {
      im.scores = im.scores.map((s, i) => (trial % 3 === 0 ? -s : trial % 3 === 1 ? Math.fround(r()) : im.mask[i] ? 0.1 : 0.2));
    }
    const m = accumulate(images).finalize();
    if (m.aupro === null) {
      assert.equal(m.regions, 0);
      continue;
    }
    assert.ok(m.aupro >= 0 && m.aupro <= 1 + 1e-12, `trial ${trial}: AUPRO ${m.aupro}`);
  }
});

test('accumulator grows past its first block and past expectedPixels without changing results', () => {
  const images = blobImages(77, 6, 32, 32);
  const exact = accumulate(images).finalize();
  const acc = new PixelMetricAccumulator({ expectedPixels: 100 });
  images.forEach((im) => acc.add(Float32Array.from(im.scores), Uint8Array.from(im.mask), im.width, im.height));
  const grown = acc.finalize();
  assert.equal(grown.auroc, exact.auroc);
  assert.equal(grown.aupro, exact.aupro);
  assert.throws(
    () => acc.finalize(),
    (e: unknown) => e instanceof EvalError && e.code === 'eval/finalized',
  );
});

test('negative zero and positive zero are one tie block; negative scores sort correctly', () => {
  const acc = new PixelMetricAccumulator();
  acc.add(Float32Array.from([-0, 0, -1.5, 2, -0, 0]), Uint8Array.from([1, 0, 0, 1, 0, 1]), 6, 1);
  const m = acc.finalize();
  const ref = binaryMetrics([0, 0, -1.5, 2, 0, 0], [1, 0, 0, 1, 0, 1]);
  assert.equal(m.distinctThresholds, 3);
  assert.equal(m.auroc, ref.auroc);
  assert.equal(m.ap, ref.ap);
  assert.equal(m.f1Threshold, 0);
});

test('curves stay small: at most maxPoints + 1 points, first and last kept', () => {
  const c = new CurveSampler(64);
  const r = rng(3);
  c.push(0, 1);
  for (let i = 1; i <= 100000; i++) c.push(i / 100000, r()); // a wildly oscillating precision
  const out = c.finish();
  assert.ok(out.x.length <= 65 && out.x.length >= 32, `${out.x.length} points`);
  assert.deepEqual([out.x[0], out.y[0]], [0, 1]);
  assert.equal(out.x[out.x.length - 1], 1);
  for (let i = 1; i < out.x.length; i++) assert.ok(out.x[i] > out.x[i - 1]);
});

test('SubsetEvaluator: a slice is anomalous when its mask has any pixel; default score = top-1 % mean', () => {
  const images = blobImages(5, 12, 16, 16);
  const ev = new SubsetEvaluator({ mapSize: 16, expectedSlices: images.length, label: 'T1' });
  const scores: number[] = [];
  const labels: number[] = [];
  for (const im of images) {
    const map = Float32Array.from(im.scores);
    const anomalous = im.mask.some((v) => v !== 0);
    ev.addSlice(map, anomalous ? Uint8Array.from(im.mask) : null);
    scores.push(imageScore(map));
    labels.push(anomalous ? 1 : 0);
  }
  const res = ev.finalize();
  const expected = binaryMetrics(scores, labels);
  assert.equal(res.image.positives, labels.filter((l) => l).length);
  assert.ok(res.image.positives > 0 && res.image.negatives > 0);
  assert.equal(res.metrics.image.auroc, expected.auroc);
  assert.equal(res.metrics.image.f1, expected.f1Max);
  assert.equal(res.metrics.pixel.aupro, accumulate(images).finalize().aupro);
  assert.equal(res.metrics.notes, undefined);
});
